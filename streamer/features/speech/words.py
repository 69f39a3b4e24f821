"""Text words: tokens from transcripts and recognised words, and the vocabulary of the text bag.

A token is a lower-cased run of letters, digits and inner apostrophes ("don't", "1960s"):
punctuation is dropped and hyphens and other symbols split words. The vocabulary keeps the
most frequent tokens of the training transcripts (at most ``size``, each seen at least
``min_count`` times); ties in frequency are broken alphabetically so that it does not
depend on the order of the transcripts.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from streamer.errors import StreamerError
from streamer.output_files import write_atomically

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_HEADER = "# streamer text vocabulary v1"


class VocabularyError(StreamerError):
    """A vocabulary file that cannot be read."""


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``, punctuation removed.

    >>> tokenize("And so, my fellow Americans: ask not!")
    ['and', 'so', 'my', 'fellow', 'americans', 'ask', 'not']
    """
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def is_vocabulary_file(path: str | Path) -> bool:
    """Whether ``path`` starts like a file written by :meth:`Vocabulary.save`."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.readline().startswith(_HEADER)
    except (OSError, UnicodeDecodeError):
        return False


@dataclass(frozen=True)
class Vocabulary:
    """The words of the text bag, most frequent first.

    Attributes
    ----------
    words : tuple of str
        The tokens; ``words[i]`` is column ``i`` of the text bag.
    counts : tuple of int
        How often each word occurred in the training transcripts.
    min_count : int
        The minimum count used when the vocabulary was built.
    """

    words: tuple[str, ...]
    counts: tuple[int, ...]
    min_count: int

    @cached_property
    def _index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def index(self, token: str) -> int | None:
        """The column of ``token`` (already tokenized), or None when it is not in the vocabulary."""
        return self._index.get(token)

    @property
    def checksum(self) -> str:
        """sha256 of the word list: models record it to refuse a vocabulary they were not trained on."""
        return hashlib.sha256("\n".join(self.words).encode("utf-8")).hexdigest()

    @classmethod
    def build(cls, transcripts: Iterable[str], size: int = 521, min_count: int = 2) -> Vocabulary:
        """The ``size`` most frequent tokens of ``transcripts`` seen at least ``min_count`` times."""
        counts = Counter(token for text in transcripts for token in tokenize(text))
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_count),
            key=lambda wc: (-wc[1], wc[0]),
        )[:size]
        return cls(tuple(w for w, _ in ranked), tuple(c for _, c in ranked), min_count)

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as UTF-8 text: a header, then ``word<TAB>count`` per line."""
        lines = [f"{_HEADER} size={len(self)} min_count={self.min_count} sha256={self.checksum}"]
        lines += [f"{w}\t{c}" for w, c in zip(self.words, self.counts, strict=True)]
        write_atomically(path, "\n".join(lines) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a file written by :meth:`save`, checking its header and checksum."""
        path = Path(path)
        fix = "rebuild it from the training transcripts"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise VocabularyError(f"cannot read the vocabulary {path} ({exc}): {fix}") from None
        fields = dict(item.split("=", 1) for item in lines[0].split()[5:]) if lines else {}
        if (
            not lines
            or not lines[0].startswith(_HEADER)
            or set(fields) != {"size", "min_count", "sha256"}
        ):
            raise VocabularyError(f"{path} is not a streamer vocabulary file: {fix}")
        try:
            pairs = [line.split("\t") for line in lines[1:]]
            vocabulary = cls(
                tuple(w for w, _ in pairs),
                tuple(int(c) for _, c in pairs),
                int(fields["min_count"]),
            )
        except ValueError:
            raise VocabularyError(
                f"{path} is damaged (a line is not word<TAB>count): {fix}"
            ) from None
        if len(vocabulary) != int(fields["size"]) or vocabulary.checksum != fields["sha256"]:
            raise VocabularyError(f"{path} is damaged (its words do not match its checksum): {fix}")
        return vocabulary
