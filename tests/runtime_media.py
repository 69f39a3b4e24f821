"""Helpers of the runtime tests: talking heads, generated videos, estimate CSVs, voicing."""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2  # noqa: F401  (cv2 before av: both bundle FFmpeg libraries)
import numpy as np

from streamer.runtime.sinks import ESTIMATE_COLUMNS
from streamer.types import Estimate

HOP_S = 0.1
SPEECH_CHILD = "streamer.runtime.speech_process"


def talking_head(shared_dir: Path, n: int) -> Path:
    """``speaker<n>.mp4`` of ``../shared/media/talking_heads`` (5-6.6 s, a face all the time)."""
    return shared_dir / "media" / "talking_heads" / f"speaker{n}.mp4"


def subprocess_env(face_model: Path) -> dict:
    """The environment of a ``streamer`` child process: the face model, this checkout."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, STREAMER_FACE_MODEL=str(face_model), PYTHONPATH=path)


# ---- estimate CSVs --------------------------------------------------------------------


def csv_lines(path: Path) -> tuple[str, list[str]]:
    """The header and the data lines of an estimates CSV (a cut last line included)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return (lines[0] if lines else ""), lines[1:]


def parse_row(line: str) -> Estimate:
    """One complete CSV row (7 fields, ``;``) as an Estimate; raises on anything else."""
    fields = line.split(";")
    assert len(fields) == len(ESTIMATE_COLUMNS), f"incomplete row {line!r}"
    t_s, arousal, valence, liking = (float(f) if f else math.nan for f in fields[:4])
    assert fields[4] in ("0", "1") and fields[5] in ("0", "1"), f"bad flags in {line!r}"
    latency_ms = float(fields[6]) if fields[6] else math.nan
    return Estimate(t_s, arousal, valence, liking, fields[4] == "1", fields[5] == "1", latency_ms)


def read_rows(path: Path) -> list[Estimate]:
    """Every row of an estimates CSV, checking the header and that each row is complete."""
    header, lines = csv_lines(path)
    assert header == ";".join(ESTIMATE_COLUMNS)
    return [parse_row(line) for line in lines]


def assert_continuous(estimates: list[Estimate], first_s: float = 0.0) -> None:
    """Rows at ``first_s``, ``first_s + 0.1``, ... without a gap or a repeat."""
    t_s = np.array([e.t_s for e in estimates])
    expected = np.round(first_s + HOP_S * np.arange(len(t_s)), 6)
    np.testing.assert_allclose(t_s, expected, atol=1e-6)


def assert_values(estimates: list[Estimate], dimensions: tuple[str, ...]) -> None:
    """Finite values of the model's dimensions, NaN (an empty field) for the others."""
    for name in ("arousal", "valence", "liking"):
        values = np.array([getattr(e, name) for e in estimates])
        if name in dimensions:
            assert np.all(np.isfinite(values)), f"{name} is not finite everywhere"
        else:
            assert np.all(np.isnan(values)), f"the model has no {name}, but values came"


def flags(estimates: list[Estimate], name: str) -> np.ndarray:
    return np.array([getattr(e, name) for e in estimates], dtype=bool)


def times(estimates: list[Estimate]) -> np.ndarray:
    return np.array([e.t_s for e in estimates])


# ---- what the file itself holds -------------------------------------------------------


def hop_voicing(path: Path, config) -> np.ndarray:
    """Per 0.1 s hop ``k``, the fraction of the file's 10 ms LLD frames in ``(t - hop, t]``
    with a pitch (``F0semitoneFrom27.5Hz_sma3nz > 0``), computed offline."""
    from streamer.bow.rolling import bags
    from streamer.features.audio_lld import iter_file_llds
    from streamer.features.lld.extractor import LLD_NAMES

    frames = list(iter_file_llds(path, config.audio))
    t_s = np.concatenate([f.t_s for f in frames])
    voiced = np.concatenate(
        [f.values[:, LLD_NAMES.index("F0semitoneFrom27.5Hz_sma3nz")] > 0 for f in frames]
    )
    hop_s = config.bow.hop_s
    _, counts = bags(t_s, voiced.astype(np.int64), 2, window_s=hop_s, hop_s=hop_s,
                     weighting="counts", normalise=True)  # fmt: skip
    return counts[:, 1]


def decode_frames(path: Path, n_frames: int | None = None, scale: float = 1.0) -> list[np.ndarray]:
    """The first ``n_frames`` RGB pictures of a video (all when None), resized by ``scale``."""
    from streamer.sources.media_file import iter_video_frames

    images = []
    for frame in iter_video_frames(path):
        image = frame.image
        if scale != 1.0:
            size = (round(image.shape[1] * scale) // 2 * 2, round(image.shape[0] * scale) // 2 * 2)
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        images.append(image)
        if n_frames is not None and len(images) >= n_frames:
            break
    return images


def looped(samples: np.ndarray, n: int) -> np.ndarray:
    """``samples`` repeated until ``n`` of them."""
    return np.resize(np.asarray(samples), n)


# ---- writing videos -------------------------------------------------------------------


def write_video(
    path: Path, images: list[np.ndarray], fps: int, audio: np.ndarray, sample_rate_hz: int
) -> Path:
    """An MP4 (H.264 video, AAC mono audio) of RGB ``images`` at ``fps`` over ``audio``."""
    import av

    height, width = images[0].shape[:2]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "23"}
        sound = container.add_stream("aac", rate=sample_rate_hz, layout="mono")
        sound.bit_rate = 64_000
        for k, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), "rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        block = 1024
        for start in range(0, len(audio), block):
            chunk = np.asarray(audio[None, start : start + block], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = sample_rate_hz
            frame.pts = start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return path


def remux_faststart(source: Path, target: Path) -> Path:
    """Copy an MP4's packets into a new MP4 with its index (``moov``) before the media data,
    so that a truncated copy still opens and decodes up to the cut."""
    import av

    with (
        av.open(str(source)) as inp,
        av.open(str(target), "w", options={"movflags": "faststart"}) as out,
    ):
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return target


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
