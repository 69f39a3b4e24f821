"""The crop search finds the small einstein face whatever decodes the JPEG, through
``streamer features video``, and invents no face where there is none (KDEF photographs
with the face blanked out)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from streamer.cli import main
from streamer.config import load_config
from streamer.features.face.ibug import IBUG49_INDICES
from streamer.types import VideoFrame

NME_TARGET = 0.08


def _pts(path: Path) -> np.ndarray:
    """iBUG 68 points (pixels, counted from 0) of a .pts file."""
    lines = path.read_text().splitlines()
    start = lines.index("{") + 1
    return np.array([[float(v) for v in line.split()] for line in lines[start : start + 68]]) - 1


def _cli_nme(picture: Path, pts: Path, tmp_path: Path) -> float:
    out = tmp_path / f"{picture.stem}.csv"
    assert main(["features", "video", str(picture), "--coords", "pixels", "--out", str(out)]) == 0
    header, row = (line.split(";") for line in out.read_text().splitlines()[:2])
    assert float(row[header.index("face")]) == 1.0, f"no face found in {picture.name}"
    found = np.array(
        [[float(row[header.index(f"lm{i}_{axis}")]) for axis in "xy"] for i in range(49)]
    )
    truth = _pts(pts)
    eyes = np.linalg.norm(truth[36] - truth[45])
    return float(np.linalg.norm(found - truth[list(IBUG49_INDICES)], axis=1).mean() / eyes)


@pytest.mark.parametrize("variant", ["as shipped", "decoded by OpenCV", "JPEG q90", "JPEG q70"])
def test_einstein_is_found_from_any_decoding(variant, shared_dir, face_model, tmp_path):
    original = shared_dir / "faces" / "einstein.jpg"
    picture = original
    if variant != "as shipped":  # OpenCV's decoding, kept losslessly, or re-encoded
        image = cv2.imread(str(original))
        quality = {"JPEG q90": 90, "JPEG q70": 70}.get(variant)
        picture = tmp_path / ("einstein.png" if quality is None else f"einstein_q{quality}.jpg")
        params = [] if quality is None else [cv2.IMWRITE_JPEG_QUALITY, quality]
        cv2.imwrite(str(picture), image, params)
    assert _cli_nme(picture, shared_dir / "faces" / "einstein.pts", tmp_path) <= NME_TARGET


def test_takeo_is_still_found(shared_dir, face_model, tmp_path):
    nme = _cli_nme(shared_dir / "faces" / "takeo.ppm", shared_dir / "faces" / "takeo.pts", tmp_path)
    assert nme <= NME_TARGET


def test_no_face_is_invented_where_the_face_was_cut_out(shared_dir, face_model):
    from streamer.features.face.tracker import FaceTracker

    config = load_config().face
    files = sorted((shared_dir / "data" / "kdef").glob("*.jpg"))[::98][:10]
    assert len(files) == 10
    found = []
    for path in files:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        h, w = image.shape[:2]
        filled = image.copy()  # the face region filled with the background's colour
        filled[int(h * 0.15) : int(h * 0.75), int(w * 0.15) : int(w * 0.85)] = image[
            5:15, 5:15
        ].mean(axis=(0, 1))
        for name, picture in {
            "blank": np.full_like(image, 128),
            "face filled": filled,
            "shoulders only": np.ascontiguousarray(image[int(h * 0.7) :]),
        }.items():
            with FaceTracker(config) as tracker:
                if tracker.process(VideoFrame(0.0, picture, 0)).face:
                    found.append(f"{path.name} ({name})")
    assert not found, f"faces found where there are none: {found}"
