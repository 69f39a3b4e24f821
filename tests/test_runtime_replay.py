"""``streamer replay`` and ``streamer.stream`` on talking heads (../shared): one row per hop,
flags that follow the face and the voice, bags equal to the offline ones, real-time pace."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.cli import main
from tests.runtime_media import (
    HOP_S,
    assert_continuous,
    assert_values,
    flags,
    hop_voicing,
    read_rows,
    talking_head,
    times,
)

pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install -e .)")


@pytest.fixture(scope="module")
def model():
    from streamer.runtime.session import load_session_model, session_config

    return load_session_model(session_config())


@pytest.fixture(scope="module")
def replayed(shared_dir, tmp_path_factory):
    """``streamer replay speaker1.mp4 --csv --plot`` (as fast as possible), run once."""
    face_model = shared_dir / "models" / "face_landmarker.task"
    if not face_model.is_file():
        pytest.skip(f"the face model {face_model} is absent")
    folder = tmp_path_factory.mktemp("replay")
    video = talking_head(shared_dir, 1)
    csv, png = folder / "speaker1.csv", folder / "speaker1.png"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMER_FACE_MODEL", str(face_model))
        status = main(["replay", str(video), "--csv", str(csv), "--plot", str(png)])
    return video, status, csv, png


def _duration_s(video) -> float:
    from streamer.sources.media_file import probe_media

    return probe_media(video)[2]


def _assert_rows_cover_the_media(estimates, video, late_s: float = 0.0) -> None:
    """One row per 0.1 s of media, from 0 to the media's end (within one hop); ``late_s``
    more when hops are due on the wall clock before the end of the file is known."""
    assert_continuous(estimates)
    duration_s = _duration_s(video)
    assert duration_s - HOP_S - 1e-6 <= estimates[-1].t_s <= duration_s + late_s + 1e-6, (
        f"rows end at {estimates[-1].t_s} s, the media at {duration_s} s"
    )


def _voicing_flags(video):
    """Per hop, whether the file's own LLDs have ``runtime.voiced_fraction`` voiced frames."""
    from streamer.runtime.session import session_config

    config = session_config()
    return hop_voicing(video, config) >= config.runtime.voiced_fraction


def _agreement(voiced, speech, lag_hops: int = 0) -> float:
    """Share of hops where ``speech[k]`` equals ``voiced[k - lag_hops]``."""
    n = min(len(voiced) + lag_hops, len(speech))
    return float(np.mean(speech[lag_hops:n] == voiced[: n - lag_hops]))


def test_replay_gives_a_row_per_hop_with_face_and_voice_flags(replayed, model):
    video, status, csv, png = replayed
    assert status == 0
    estimates = read_rows(csv)  # checks the header and that every row has its 7 fields
    _assert_rows_cover_the_media(estimates, video)
    assert_values(estimates, model.dimensions)  # the default model: liking stays empty
    latency_ms = np.array([e.latency_ms for e in estimates])
    assert np.all(np.isfinite(latency_ms)) and np.all(latency_ms >= 0)
    face = flags(estimates, "face")
    assert face.mean() >= 0.95, f"a face in only {face.mean():.0%} of the hops"
    speech = flags(estimates, "speech")
    assert 0 < speech.sum() < len(speech), "the speech flag never changes"
    voiced = _voicing_flags(video)
    assert abs(len(voiced) - len(speech)) <= 1
    agreement = _agreement(voiced, speech)
    assert agreement >= 0.95, f"speech flags agree with the file's voicing on {agreement:.0%}"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import cv2

    assert cv2.imread(str(png)).shape == (500, 1000, 3)


def test_stream_gives_the_estimates_of_the_cli(replayed, face_model, monkeypatch):
    import streamer
    from streamer.features.face.tracker import FaceTracker

    video, status, csv, _ = replayed
    assert status == 0
    from_csv = read_rows(csv)
    closed = []
    close = FaceTracker.close
    monkeypatch.setattr(FaceTracker, "close", lambda self: closed.append(self) or close(self))
    pipeline = streamer.stream(video)
    from_api = list(pipeline)
    assert len(closed) == 1  # MediaPipe released when the session ends, not by the GC
    assert pipeline.stats.n_hops == len(from_api) == len(from_csv)
    np.testing.assert_allclose(times(from_api), times(from_csv), atol=1e-9)
    for name in ("arousal", "valence", "liking"):  # the CSV holds 7 significant digits
        api = np.array([getattr(e, name) for e in from_api])
        np.testing.assert_allclose(api, [getattr(e, name) for e in from_csv], rtol=1e-6, atol=1e-7)
    for name in ("face", "speech"):
        np.testing.assert_array_equal(flags(from_api, name), flags(from_csv, name))


def test_fast_replay_bags_are_the_offline_bags(shared_dir, face_model, model, tmp_path):
    """The replay's estimates are the model's predictions on the bags that ``streamer
    features audio|video|text`` and ``recording_bags`` make offline from the same file
    (words included: the recogniser's words do not depend on block sizes, and a text bag
    waits until no word ending in its window can still come)."""
    from streamer.bow.feature_tables import read_feature_csv
    from streamer.bow.recording_bags import recording_bags
    from streamer.runtime.model_bundle import model_config_path
    from streamer.runtime.session import session_config

    video = talking_head(shared_dir, 5)
    model_settings = model_config_path()  # the settings the model's features were made with
    settings = ["--config", str(model_settings)] if model_settings else []
    face_fps = session_config().runtime.face_fps  # the runtime tracks at most this many a second
    fps = ["--fps", str(face_fps)] if face_fps else []
    audio_csv, video_csv, out = tmp_path / "a.csv", tmp_path / "v.csv", tmp_path / "r.csv"
    words_csv = tmp_path / "w.csv"
    assert main(["features", "audio", str(video), "--out", str(audio_csv), *settings]) == 0
    assert main(["features", "video", str(video), "--out", str(video_csv), *settings, *fps]) == 0
    assert main(["features", "text", str(video), "--out", str(words_csv), *settings]) == 0
    assert main(["replay", str(video), "--csv", str(out)]) == 0
    estimates = read_rows(out)
    _assert_rows_cover_the_media(estimates, video)

    config = session_config()
    bow = config.bow
    calibration = config.calibration  # the model's: per-person calibration, causal, offline too
    audio_table = read_feature_csv(audio_csv)
    _, audio_bags = recording_bags(audio_table, [model.codebooks["audio"]], bow, None, calibration)
    video_books = [model.codebooks[group] for group in model.groups["video"]]
    _, video_bags = recording_bags(read_feature_csv(video_csv), video_books, bow, None, calibration)
    n = min(len(audio_bags), len(video_bags))
    assert n >= len(estimates) - 1
    # no voiced frame in the whole window: the runtime counts the audio as missing (zeros)
    voiced = hop_voicing(video, config)[:n]
    window_hops = int(round(bow.window_s / bow.hop_s))
    silent = np.array([voiced[max(0, k - window_hops + 1) : k + 1].max() == 0 for k in range(n)])
    audio_bags = np.where(silent[:, None], 0.0, audio_bags[:n])
    words = read_feature_csv(words_csv)
    assert len(words.words) >= 5  # speaker5 says a sentence
    _, text_bags = recording_bags(words, [model.codebooks["text"]], bow)
    text_bags = np.vstack([text_bags, np.repeat(text_bags[-1:], n, axis=0)])[:n]
    assert text_bags.sum() > 0
    bags = {"audio": audio_bags, "video": video_bags[:n], "text": text_bags}
    offline = model.predict(bags)
    assert set(offline) == set(model.dimensions)
    for name, values in offline.items():
        replayed = np.array([getattr(e, name) for e in estimates[:n]])
        np.testing.assert_allclose(replayed, values, atol=1e-5, err_msg=name)
    speech = flags(estimates[:n], "speech")
    np.testing.assert_array_equal(speech, voiced >= config.runtime.voiced_fraction)


def test_realtime_replay_keeps_pace_within_the_latency_budget(
    shared_dir, face_model, model, tmp_path
):
    from streamer.runtime.session import session_config

    video = talking_head(shared_dir, 5)
    out = tmp_path / "realtime.csv"
    assert main(["replay", str(video), "--realtime", "--csv", str(out)]) == 0
    estimates = read_rows(out)
    runtime = session_config().runtime
    # live, a hop is given once its latency budget is spent: on a busy machine the audio
    # worker may report the file's end a few hops after the last sample
    _assert_rows_cover_the_media(estimates, video, late_s=3 * HOP_S)
    assert_values(estimates, model.dimensions)
    assert flags(estimates, "face").mean() >= 0.95
    speech = flags(estimates, "speech")
    assert 0 < speech.sum() < len(speech)
    latency_ms = np.array([e.latency_ms for e in estimates])
    assert np.all(np.isfinite(latency_ms)) and np.all(latency_ms >= 0)
    median_ms = float(np.median(latency_ms))
    assert median_ms < runtime.latency_budget_s * 1000 + 50, f"median latency {median_ms:.0f} ms"
    # Hops are due latency_budget_s after their time, but the audio LLDs come about 0.5 s
    # late (the Viterbi pitch smoother decides a frame 39 frames later): the fusion stage
    # then takes the latest audio bag, at most max_stale_s old, and so the speech flags
    # follow the voice with that delay.
    voiced = _voicing_flags(video)
    max_lag = int(round(runtime.max_stale_s / HOP_S))
    by_lag = [_agreement(voiced, speech, lag) for lag in range(max_lag + 1)]
    best = int(np.argmax(by_lag))
    print(f"\nrealtime speech flags: agreement {by_lag[0]:.0%} with the voicing of the same hop, "
          f"{by_lag[best]:.0%} with that of {best} hops before; median latency {median_ms:.0f} ms")  # fmt: skip
    assert by_lag[best] >= 0.9
