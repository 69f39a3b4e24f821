"""The demo corpus builder (``streamer data demo-corpus``) on the shared EmoDB, KDEF, EmoBank."""

from __future__ import annotations

import csv
import json

import cv2  # noqa: F401  (cv2 before av: the media test imports av)
import numpy as np
import pytest

from streamer.cli import main
from streamer.errors import StreamerError
from streamer.training.demo_corpus import (
    HOP_S,
    LAG_S,
    lagged_labels,
    make_demo_corpus,
    plan_corpus,
    voiced_window,
)
from streamer.training.sources import load_sources, speaker_sex

COUNTS = (2, 1, 1)


@pytest.fixture(scope="module")
def corpus(shared_dir, tmp_path_factory):
    """A tiny corpus (2/1/1 recordings of 2 segments) and its manifest."""
    out = tmp_path_factory.mktemp("demo")
    manifest = make_demo_corpus(shared_dir, out, seed=3, recordings=COUNTS, n_segments=2)
    return out, manifest


def _rows(path):
    with path.open(encoding="utf-8") as file:
        return list(csv.reader(file, delimiter=";"))


def test_files_exist(corpus):
    out, manifest = corpus
    names = sorted(manifest["recordings"])
    assert names == ["Devel_01", "Test_01", "Train_01", "Train_02"]
    for name in names:
        for path in (f"media/{name}.mp4", f"words/{name}.csv", f"labels/{name}.csv"):
            assert (out / path).stat().st_size > 0
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_media_has_video_and_audio_of_the_recording_duration(corpus):
    import av

    out, manifest = corpus
    recording = manifest["recordings"]["Train_01"]
    with av.open(str(out / recording["media"])) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert (video.width, video.height) == (288, 384)
        n_frames = sum(1 for _ in container.decode(video))
    with av.open(str(out / recording["media"])) as container:
        n_samples = sum(f.samples for f in container.decode(container.streams.audio[0]))
    video_s = n_frames / 25
    audio_s = n_samples / audio.sample_rate
    assert video_s == pytest.approx(recording["duration_s"])
    assert audio_s == pytest.approx(video_s, abs=0.05)


def test_labels_every_tenth_second_with_category_values_and_a_lag(corpus):
    out, manifest = corpus
    va = manifest["category_va"]
    for name, recording in manifest["recordings"].items():
        rows = _rows(out / "labels" / f"{name}.csv")
        assert rows[0] == ["name", "timestamp", "arousal", "valence"]
        times = np.array([float(r[1]) for r in rows[1:]])
        values = np.array([[float(r[2]), float(r[3])] for r in rows[1:]])
        assert np.allclose(times, np.arange(len(times)) * HOP_S)
        assert times[-1] == pytest.approx(recording["duration_s"] - HOP_S)
        assert np.all(np.abs(values) <= 1)
        previous = None
        for segment in recording["segments"]:
            target = np.array([va[segment["category"]][k] for k in ("arousal", "valence")])
            inside = (times >= segment["start_s"] - 1e-6) & (times < segment["end_s"] - 1e-6)
            assert np.abs(values[inside][-5:] - target).max() < 0.05  # settled by the end
            if previous is not None:  # a causal first-order lag after the change
                k = np.flatnonzero(inside)[0]
                done = (values[k : k + 30] - previous) / (target - previous)
                expected = 1 - np.exp(-(np.arange(30) + 1) * HOP_S / LAG_S)
                assert np.allclose(done, expected[:, None], atol=0.02)
            previous = values[inside][-1]


def test_lagged_labels_is_a_causal_first_order_lag():
    step = np.r_[np.zeros(20), np.ones(50)][:, None]
    lagged = lagged_labels(step, lag_s=1.0)[:, 0]
    assert np.all(lagged[:20] == 0)
    assert lagged[29] == pytest.approx(1 - np.exp(-1.0), abs=1e-9)  # 10 rows = 1 s after
    assert np.all(np.diff(lagged) >= 0)


def test_words_lie_inside_their_segment(corpus):
    out, manifest = corpus
    for name, recording in manifest["recordings"].items():
        rows = _rows(out / "words" / f"{name}.csv")
        assert rows[0] == ["start", "end", "word", "confidence"]
        words = rows[1:]
        assert len(words) == sum(s["words"] for s in recording["segments"])
        for segment in recording["segments"]:
            mine, words = words[: segment["words"]], words[segment["words"] :]
            assert mine and all(w[3] == "1.000" for w in mine)
            starts = [float(w[0]) for w in mine]
            ends = [float(w[1]) for w in mine]
            assert segment["start_s"] <= min(starts) and max(ends) <= segment["end_s"]
            assert all(s < e for s, e in zip(starts, ends, strict=True))
            assert starts == sorted(starts)


def _speaker(utterance: str) -> str:
    """The speaker of an utterance named as in the manifest (``emodb/03a01Fa.wav``,
    ``ravdess/03-01-05-01-01-01-07.flac``)."""
    folder, name = utterance.split("/")
    return name[:2] if folder == "emodb" else "r" + name.split(".")[0][-2:]


def test_voiced_window_starts_just_before_the_voice_and_keeps_the_length():
    rate = 1000
    samples = np.zeros(4000)
    samples[1200:2000] = np.sin(np.arange(800))
    window = voiced_window(samples, rate, 2.0)
    assert len(window) == 2000
    onset = np.flatnonzero(window)[0]
    assert 80 <= onset <= 115  # 0.1 s of silence kept before the voice (25-ms RMS smearing)
    short = voiced_window(samples[:1500], rate, 2.0)  # shorter than the window: padded
    assert len(short) == 2000 and not short[-500:].any()


def test_people_and_sentences_disjoint_between_partitions(corpus):
    _, manifest = corpus
    used = {p: {"speaker": set(), "actor": set(), "sentence": set()} for p in manifest["split"]}
    for recording in manifest["recordings"].values():
        part = used[recording["partition"]]
        part["speaker"].add(recording["speaker"])
        part["actor"].add(recording["actor"])
        assert recording["actor"][0] == speaker_sex(recording["speaker"])
        for segment in recording["segments"]:
            part["sentence"].update(segment["sentences"])
            assert all(_speaker(u) == recording["speaker"] for u in segment["utterances"])
            assert segment["face"][1:4] == recording["actor"]
    for key in ("speakers", "actors"):
        groups = [set(manifest["split"][p][key]) for p in ("train", "devel", "test")]
        assert sum(map(len, groups)) == len(set.union(*groups))
    # EmoDB 6/2/2 and RAVDESS 12/4/4
    assert [len(manifest["split"][p]["speakers"]) for p in ("train", "devel", "test")] == [18, 6, 6]
    for kind in ("speaker", "actor", "sentence"):
        a, b, c = (used[p][kind] for p in ("train", "devel", "test"))
        assert not (a & b or a & c or b & c)


def test_same_seed_same_corpus(corpus, shared_dir, tmp_path):
    out, manifest = corpus
    again = make_demo_corpus(shared_dir, tmp_path, seed=3, recordings=COUNTS, n_segments=2)
    assert again == manifest
    for name in manifest["recordings"]:
        for folder in ("words", "labels"):
            path = f"{folder}/{name}.csv"
            assert (tmp_path / path).read_bytes() == (out / path).read_bytes()
    other = plan_corpus(load_sources(shared_dir), COUNTS, 2, seed=4)
    choices = [
        [(s["category"], s["utterances"], s["sentences"]) for s in r["segments"]]
        for r in (other["recordings"]["Train_01"], manifest["recordings"]["Train_01"])
    ]
    assert choices[0] != choices[1]


def test_missing_shared_folder_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(StreamerError, match="shared data folder not found: .*nowhere"):
        make_demo_corpus(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "shared" / "data").mkdir(parents=True)
    status = main(["data", "demo-corpus", "--shared", str(tmp_path / "shared"), "--out",
                   str(tmp_path / "out")])  # fmt: skip
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "emodb" in error
