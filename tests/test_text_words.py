import pytest

from streamer.features.speech.words import Vocabulary, VocabularyError, tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (
            "And so, my fellow Americans: ask not!",
            ["and", "so", "my", "fellow", "americans", "ask", "not"],
        ),
        (
            "Don't stop \u2014 it's the 1960s' best",
            ["don't", "stop", "it's", "the", "1960s", "best"],
        ),
        ("well-known e-mail", ["well", "known", "e", "mail"]),
        ("Über café ÇA", ["über", "café", "ça"]),
        ("'quoted' words_with_underscores", ["quoted", "words", "with", "underscores"]),
        ("... !!! ", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_build_keeps_the_most_frequent_with_a_minimum_count():
    transcripts = ["the cat sat on the mat", "The dog sat.", "a cat and a dog", "zebra"]
    vocabulary = Vocabulary.build(transcripts, size=4, min_count=2)
    # the 3, then 2 each (a, cat, dog, sat) ordered alphabetically; zebra, on, mat, and: once
    assert vocabulary.words == ("the", "a", "cat", "dog")
    assert vocabulary.counts == (3, 2, 2, 2)
    assert vocabulary.index("cat") == 2 and vocabulary.index("zebra") is None
    assert Vocabulary.build(reversed(transcripts), size=4, min_count=2) == vocabulary


def test_save_and_load_round_trip(tmp_path):
    vocabulary = Vocabulary.build(["ask not what your country can do for you"] * 3, size=521)
    path = tmp_path / "vocabulary.txt"
    vocabulary.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == vocabulary and loaded.checksum == vocabulary.checksum
    assert path.read_text().startswith("# streamer text vocabulary v1 size=9 min_count=2 sha256=")


def test_damaged_files_are_refused(tmp_path):
    path = tmp_path / "vocabulary.txt"
    Vocabulary.build(["one two two three three three"], size=3, min_count=1).save(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], "changed\t2", lines[3]]) + "\n")
    with pytest.raises(VocabularyError, match="damaged"):
        Vocabulary.load(path)
    path.write_text("hello\n")
    with pytest.raises(VocabularyError, match="not a streamer vocabulary file"):
        Vocabulary.load(path)
    with pytest.raises(VocabularyError, match="cannot read"):
        Vocabulary.load(tmp_path / "missing.txt")
