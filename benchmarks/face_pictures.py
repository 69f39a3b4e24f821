"""Draw the tracked eye points and landmarks on one frame of each talking head, into one picture.

Usage: python benchmarks/face_pictures.py [--out docs/face_landmarks.jpg] [--at 2.0]

Each panel is the frame nearest ``--at`` seconds of one video, with the 49 iBUG landmarks
(green), the 10 iris points (red) and the pose in degrees written underneath.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from streamer.config import load_config
from streamer.features.face.tracker import FaceTracker
from streamer.sources.media_file import iter_video_frames

SHARED = Path(
    os.environ.get("STREAMER_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)
PANEL_PX = 300


def annotated_frame(video: Path, at_s: float) -> np.ndarray:
    """The frame nearest ``at_s`` with its landmarks drawn, resized to a square panel (BGR)."""
    model = SHARED / "models" / "face_landmarker.task"
    with FaceTracker(load_config().face, model if model.is_file() else None) as tracker:
        for frame in iter_video_frames(video):
            observation = tracker.process(frame)  # track every frame up to the chosen one
            if frame.t_s >= at_s:
                break
    image = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
    radius = max(2, image.shape[0] // 250)
    for x, y in observation.landmarks:
        cv2.circle(image, (round(x), round(y)), radius, (0, 220, 0), -1, cv2.LINE_AA)
    for x, y in observation.eyes:
        cv2.circle(image, (round(x), round(y)), radius, (0, 0, 255), -1, cv2.LINE_AA)
    panel = cv2.resize(image, (PANEL_PX, PANEL_PX), interpolation=cv2.INTER_AREA)
    pitch, yaw, roll = observation.pose_deg
    label = f"{video.stem} t={frame.t_s:.2f}s  pitch {pitch:.0f} yaw {yaw:.0f} roll {roll:.0f}"
    cv2.rectangle(panel, (0, PANEL_PX - 22), (PANEL_PX, PANEL_PX), (0, 0, 0), -1)
    cv2.putText(panel, label, (4, PANEL_PX - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (255, 255, 255), 1)
    return panel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/face_landmarks.jpg"))
    parser.add_argument("--at", type=float, default=2.0, help="seconds into each video")
    args = parser.parse_args()
    videos = sorted((SHARED / "media" / "talking_heads").glob("*.mp4"))
    panels = [annotated_frame(video, args.at) for video in videos]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.hstack(panels), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
