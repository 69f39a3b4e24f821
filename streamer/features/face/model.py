"""Finding the MediaPipe Face Landmarker model file, downloading it only as a last resort.

Order: ``face.model_path`` in the config, the ``STREAMER_FACE_MODEL`` environment
variable, the copy shipped inside the package (``streamer/models/face_landmarker.task``),
the user cache, then a download from MediaPipe's official address into the cache, checked
against the pinned sha256. A file named by the config or the environment is used as it is
(it may be another version of the model); the shipped, cached or downloaded file must
match the checksum.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from streamer.errors import StreamerError

MODEL_FILENAME = "face_landmarker.task"
MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
    "float16/1/face_landmarker.task"
)
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
ENV_VARIABLE = "STREAMER_FACE_MODEL"
DOWNLOAD_TIMEOUT_S = 30.0
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "models" / MODEL_FILENAME


class FaceModelError(StreamerError):
    """The face landmark model cannot be found or fetched."""


def user_cache_dir() -> Path:
    """Where streamer keeps downloaded models: ``$XDG_CACHE_HOME/streamer`` or ``~/.cache/streamer``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamer"


def resolve_face_model(config_path: str = "", url: str = MODEL_URL) -> Path:
    """Return the path of a usable ``face_landmarker.task``, downloading it if needed.

    Parameters
    ----------
    config_path : str
        ``face.model_path`` from the config ("" when not set).
    url : str
        Where to download the model from when no local copy exists.

    Raises
    ------
    FaceModelError
        When a named file does not exist, or nothing is cached and the download fails.
    """
    for source, value in (
        ("face.model_path", config_path),
        (ENV_VARIABLE, os.environ.get(ENV_VARIABLE, "")),
    ):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                what = "which is not a file" if path.exists() else "which does not exist"
                raise FaceModelError(
                    f"{source} names {path}, {what}: fix the path, or unset it "
                    f"to use the shipped {MODEL_FILENAME}"
                )
            if not zipfile.is_zipfile(path):  # a .task bundle is a zip archive
                raise FaceModelError(
                    f"{source} names {path}, which is not a MediaPipe Face Landmarker model "
                    f"(.task): fix the path, or unset it to use the shipped {MODEL_FILENAME}"
                )
            return path
    if SHIPPED_MODEL.is_file() and _sha256(SHIPPED_MODEL) == MODEL_SHA256:
        return SHIPPED_MODEL
    cached = user_cache_dir() / MODEL_FILENAME
    if cached.is_file() and _sha256(cached) == MODEL_SHA256:
        return cached
    return _download(url, cached)


def _download(url: str, target: Path) -> Path:
    """Fetch the model into ``target`` (via a temporary file), checking its sha256."""
    fix = (
        f"download {MODEL_URL} and put it at {target}, or set face.model_path or "
        f"{ENV_VARIABLE} to a copy of {MODEL_FILENAME}"
    )
    print(f"streamer: downloading the face model to {target} ...", file=sys.stderr)
    partial = target.with_suffix(".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            partial.write_bytes(response.read())
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise FaceModelError(
            f"the face model {MODEL_FILENAME} is not available and could not be downloaded ({reason}): {fix}"
        ) from None
    digest = _sha256(partial)
    if digest != MODEL_SHA256:
        partial.unlink(missing_ok=True)
        raise FaceModelError(
            f"the downloaded {MODEL_FILENAME} has sha256 {digest[:12]}..., not the expected "
            f"{MODEL_SHA256[:12]}...: {fix}"
        )
    partial.replace(target)
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
