"""Streaming word recognition with Vosk (Kaldi) and a model folder on disk.

Audio goes to ``KaldiRecognizer.AcceptWaveform`` in fixed 0.1 s chunks of int16 PCM, so
the words do not depend on the sizes of the blocks given to :meth:`VoskRecognizer.push`.
When Vosk detects the end of an utterance its words (with times and confidences) become
final; :meth:`VoskRecognizer.flush` finishes the last utterance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.features.speech.pocketsphinx_backend import is_filler
from streamer.features.speech.recognizer import SAMPLE_RATE_HZ, PcmChunks
from streamer.native_output import native_stderr_silenced
from streamer.types import Word

CHUNK_SAMPLES = SAMPLE_RATE_HZ // 10  # 0.1 s per AcceptWaveform call
FIX = "download one with `streamer models download vosk --lang en` or set speech.vosk_model_path"
# Files that every Kaldi model folder Vosk can load has (new and old layouts).
_ACOUSTIC_MODELS = ("am/final.mdl", "final.mdl")


class VoskModelError(StreamerError):
    """The Vosk package or its model folder is missing or unusable."""


def _import_vosk():
    try:
        import vosk
    except ImportError:
        raise VoskModelError(
            "the vosk speech backend is not installed: run `pip install vosk` "
            "or set speech.backend = pocketsphinx"
        ) from None
    vosk.SetLogLevel(-1)
    return vosk


def looks_like_vosk_model(path: Path) -> bool:
    """Whether ``path`` is a folder holding a Kaldi acoustic model Vosk can load."""
    return path.is_dir() and any((path / name).is_file() for name in _ACOUSTIC_MODELS)


def load_vosk_model(path: str | Path):
    """Load a Vosk model folder, or raise a one-line :class:`VoskModelError`."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise VoskModelError(f"vosk model folder {folder} does not exist: {FIX}")
    if not looks_like_vosk_model(folder):
        raise VoskModelError(f"{folder} is not a vosk model or it is damaged: {FIX}")
    vosk = _import_vosk()
    try:
        with native_stderr_silenced():  # Kaldi prints load errors there even at log level -1
            return vosk.Model(str(folder))
    except Exception:  # vosk raises a bare Exception("Failed to create a model")
        raise VoskModelError(f"{folder} is not a vosk model or it is damaged: {FIX}") from None


class VoskRecognizer:
    """Streaming recogniser on a Vosk model.

    Parameters
    ----------
    model_path : str or Path
        The model folder (the one holding ``am/``, ``conf/``, ``graph/``).
    model : vosk.Model, optional
        An already loaded model to share between recognisers (``model_path`` still names it).
    """

    def __init__(self, model_path: str | Path, model=None):
        self._vosk = _import_vosk()
        self.model_path = Path(model_path).expanduser()
        self._model = model if model is not None else load_vosk_model(self.model_path)
        self.name = f"vosk ({self.model_path})"
        self.reset()

    def reset(self) -> None:
        """Forget the stream; the next push starts a new one."""
        self._recognizer = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE_HZ)
        self._recognizer.SetWords(True)
        self._chunks = PcmChunks(CHUNK_SAMPLES)
        self._t0_s: float | None = None
        self._ready: list[Word] = []
        self._fed = 0  # samples given to Kaldi
        self._settled = 0  # samples up to Kaldi's last final result

    def push(self, samples: np.ndarray, t_s: float) -> None:
        """Add 16 kHz mono samples (float in [-1, 1]) whose first sample is at ``t_s`` s."""
        if self._t0_s is None:
            self._t0_s = float(t_s)
        for chunk in self._chunks.push(samples):  # one call per 0.1 s chunk
            self._fed += chunk.size
            if self._recognizer.AcceptWaveform(chunk.tobytes()):
                self._take(self._recognizer.Result())
                self._settled = self._fed

    @property
    def settled_s(self) -> float:
        """Media time (s) of Kaldi's last final result: later audio may still give words."""
        return (self._t0_s or 0.0) + self._settled / SAMPLE_RATE_HZ

    def _take(self, result_json: str) -> None:
        """Queue the words of one Vosk result, on the media clock."""
        offset = self._t0_s or 0.0
        for item in json.loads(result_json).get("result", []):
            if is_filler(item["word"]):  # e.g. [unk], [noise], <unk>
                continue
            self._ready.append(
                Word(
                    text=item["word"],
                    start_s=offset + float(item["start"]),
                    end_s=offset + float(item["end"]),
                    confidence=float(min(max(item.get("conf", 1.0), 0.0), 1.0)),
                )
            )

    def pull(self) -> list[Word]:
        """Return the words finished since the last call (possibly none), in time order."""
        words, self._ready = self._ready, []
        return words

    def flush(self) -> list[Word]:
        """End the stream: finish the last utterance and return the words not yet pulled."""
        remainder = self._chunks.take_remainder()
        if remainder.size and self._recognizer.AcceptWaveform(remainder.tobytes()):
            self._take(self._recognizer.Result())
        self._take(self._recognizer.FinalResult())
        return self.pull()
