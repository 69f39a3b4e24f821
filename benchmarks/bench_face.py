"""Frames per second of video decoding + face tracking on the talking heads, and where the time goes.

Usage: python benchmarks/bench_face.py [VIDEO ...]   (default: ../shared/media/talking_heads/*.mp4)

For every frame it times decoding (PyAV, including the RGB conversion) and tracking
(MediaPipe Face Landmarker, pose, eye points and landmarks), one process, one thread of
ours (MediaPipe and FFmpeg use their own threads). Also prints the share of frames with a
face and the range of each pose angle (degrees).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from streamer.config import load_config
from streamer.features.face.tracker import FaceTracker
from streamer.sources.media_file import iter_video_frames

SHARED = Path(
    os.environ.get("STREAMER_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)


def main() -> None:
    videos = [Path(p) for p in sys.argv[1:]] or sorted(
        (SHARED / "media" / "talking_heads").glob("*.mp4")
    )
    config = load_config().face
    model_path = SHARED / "models" / "face_landmarker.task"
    total = {"decode": 0.0, "track": 0.0, "frames": 0, "faces": 0}
    print(
        "| video | frames | size | face | pitch range | yaw range | roll range | decode ms/frame | track ms/frame | frames/s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for video in videos:
        decode_s = track_s = 0.0
        n_frames = n_faces = 0
        poses = []
        with FaceTracker(config, model_path if model_path.is_file() else None) as tracker:
            frames = iter_video_frames(video)
            while True:
                started = time.perf_counter()
                frame = next(frames, None)
                decoded = time.perf_counter()
                if frame is None:
                    break
                observation = tracker.process(frame)
                tracked = time.perf_counter()
                decode_s += decoded - started
                track_s += tracked - decoded
                n_frames += 1
                n_faces += observation.face
                if observation.face:
                    poses.append(observation.pose_deg)
        low, high = np.min(poses, axis=0), np.max(poses, axis=0)
        ranges = " | ".join(f"{lo:.0f} to {hi:.0f}" for lo, hi in zip(low, high, strict=True))
        print(
            f"| {video.name} | {n_frames} | {_size(video)} | {100 * n_faces / n_frames:.1f} % | "
            f"{ranges} | {1000 * decode_s / n_frames:.2f} | {1000 * track_s / n_frames:.2f} | "
            f"{n_frames / (decode_s + track_s):.0f} |"
        )
        total["decode"] += decode_s
        total["track"] += track_s
        total["frames"] += n_frames
        total["faces"] += n_faces
    elapsed = total["decode"] + total["track"]
    print(
        f"\nall: {total['frames']} frames, {total['frames'] / elapsed:.0f} frames/s; "
        f"decode {100 * total['decode'] / elapsed:.0f} % of the time, "
        f"tracking {100 * total['track'] / elapsed:.0f} %; "
        f"a face in {100 * total['faces'] / total['frames']:.1f} % of frames"
    )


def _size(video: Path) -> str:
    frame = next(iter_video_frames(video))
    return f"{frame.image.shape[1]}x{frame.image.shape[0]}"


if __name__ == "__main__":
    main()
