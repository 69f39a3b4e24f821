"""Who is in which partition (streamer.training.sources) on the shared corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.training.sources import (
    PARTITIONS,
    lfw_person,
    load_sources,
    speaker_sex,
    split_people,
)


@pytest.fixture(scope="module")
def sources(shared_dir):
    return load_sources(shared_dir)


def test_every_corpus_is_indexed_with_its_categories(sources):
    speakers = {s for s, _ in sources["utterances"]}
    assert len([s for s in speakers if s.startswith("r")]) == 20
    assert len(speakers) == 30
    assert sum(len(p) for (s, _), p in sources["utterances"].items() if s.startswith("r")) == 1200
    assert {c for s, c in sources["utterances"] if s.startswith("r")} >= {"calm", "surprise"}
    assert len(sources["lfw"]) > 3000 and len(sources["lexicon"]) > 19000
    assert set(sources["va"]) >= {"calm", "surprise", "boredom", "neutral"}
    assert all(-1 <= v <= 1 and -1 <= a <= 1 for v, a in sources["va"].values())


def test_parts_are_disjoint_and_stable(sources):
    split = split_people(sources, 0)
    for key in ("speakers", "actors", "persons", "words"):
        groups = [set(split[p][key]) for p in PARTITIONS]
        assert sum(map(len, groups)) == len(set.union(*groups)), key
        assert all(groups), key
    # EmoDB and KDEF keep the parts of the model card (seed 0)
    emodb = {p: sorted(s for s in split[p]["speakers"] if not s.startswith("r")) for p in PARTITIONS}
    assert emodb["test"] == ["10", "16"] and emodb["devel"] == ["13", "15"]
    ravdess = [[s for s in split[p]["speakers"] if s.startswith("r")] for p in PARTITIONS]
    assert [len(r) for r in ravdess] == [12, 4, 4]
    assert all(sorted(map(speaker_sex, r)) == ["f"] * (len(r) // 2) + ["m"] * (len(r) // 2)
               for r in ravdess)  # fmt: skip
    assert split_people(sources, 0) == split


def test_lfw_person_is_the_file_name_without_its_number():
    assert lfw_person(Path("x/George_W_Bush_0012.jpg")) == "George_W_Bush"
    assert lfw_person(Path("webimage.jpg")) == "webimage"
