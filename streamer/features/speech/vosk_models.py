"""Vosk models in the user cache: finding them, and fetching an official one on request.

``streamer models download vosk --lang LANG`` reads the official model list, picks the
smallest current model for the language, downloads its zip with a progress bar, checks
its md5 (the list's checksum) and unpacks it into ``<user cache>/vosk/<model name>``.
Nothing is ever downloaded without that command.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from streamer.errors import StreamerError
from streamer.features.face.model import user_cache_dir

MODEL_LIST_URL = "https://alphacephei.com/vosk/models/model-list.json"
TIMEOUT_S = 30.0
_CHUNK_BYTES = 1 << 16


class VoskDownloadError(StreamerError):
    """A vosk model that cannot be listed, fetched, checked or unpacked."""


def vosk_cache_dir() -> Path:
    """The folder that holds downloaded vosk models."""
    return user_cache_dir() / "vosk"


def cached_vosk_models() -> list[Path]:
    """Model folders in the cache (those holding ``am/final.mdl`` or ``final.mdl``), by name."""
    from streamer.features.speech.vosk_backend import looks_like_vosk_model

    folder = vosk_cache_dir()
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if not p.name.startswith(".") and looks_like_vosk_model(p)
    )


def choose_model(models: list[dict], lang: str) -> dict:
    """The smallest current model of the list for ``lang`` ("en" also matches "en-us").

    Raises
    ------
    VoskDownloadError
        When the list has no current model for the language.
    """
    lang = lang.lower()
    matches = [
        m
        for m in models
        if str(m.get("obsolete", "false")).lower() != "true"
        and (m.get("lang", "").lower() == lang or m.get("lang", "").lower().startswith(lang + "-"))
    ]
    if not matches:
        known = sorted({m.get("lang", "?") for m in models})
        raise VoskDownloadError(
            f"no vosk model for language {lang!r}: choose one of {', '.join(known)}"
        )
    return min(matches, key=lambda m: (int(m.get("size", 0)), m["name"]))


def download_vosk_model(
    lang: str, list_url: str = MODEL_LIST_URL, show_progress: bool = True
) -> Path:
    """Download, check and unpack the smallest official vosk model for ``lang``.

    Parameters
    ----------
    lang : str
        Language code of the model list, e.g. ``en`` or ``en-us``, ``de``, ``ko``.
    list_url : str
        Address of the model list (a JSON array of objects with ``lang``, ``name``,
        ``url``, ``md5``, ``size``, ``obsolete``).
    show_progress : bool
        Draw a progress bar on stderr.

    Returns
    -------
    Path
        The model folder in the cache (already there: returned without downloading).
    """
    models = json.loads(_fetch(list_url, "the vosk model list").decode("utf-8"))
    model = choose_model(models, lang)
    target = vosk_cache_dir() / model["name"]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as scratch:
        archive = Path(scratch) / "model.zip"
        digest = _download(
            model["url"], archive, int(model.get("size", 0)), sys.stderr if show_progress else None
        )
        if digest != model.get("md5", "").lower():
            raise VoskDownloadError(
                f"{model['url']} arrived damaged (md5 {digest}, expected {model.get('md5')}): "
                "run the command again"
            )
        unpacked = Path(scratch) / "unpacked"
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(unpacked)
        except zipfile.BadZipFile:
            raise VoskDownloadError(
                f"{model['url']} is not a zip archive: run the command again"
            ) from None
        entries = list(unpacked.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else unpacked
        shutil.move(str(root), str(target))
    return target


def _fetch(url: str, what: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise VoskDownloadError(
            f"cannot download {what} from {url} ({getattr(exc, 'reason', exc)}): check the "
            "network, or download a model by hand and set speech.vosk_model_path"
        ) from None


def _download(url: str, path: Path, size_bytes: int, progress) -> str:
    """Stream ``url`` into ``path`` drawing a progress bar; return the file's md5 (hex)."""
    md5 = hashlib.md5()
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, path.open("wb") as file:
            total = int(response.headers.get("Content-Length") or size_bytes or 0)
            while chunk := response.read(_CHUNK_BYTES):
                file.write(chunk)
                md5.update(chunk)
                done += len(chunk)
                _draw_bar(progress, done, total, url.rsplit("/", 1)[-1])
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise VoskDownloadError(
            f"downloading {url} failed after {done / 1e6:.1f} MB ({getattr(exc, 'reason', exc)}): "
            "run the command again"
        ) from None
    if progress is not None:
        progress.write("\n")
    return md5.hexdigest()


def _draw_bar(progress, done: int, total: int, name: str, width: int = 30) -> None:
    if progress is None:
        return
    if total:
        filled = int(width * min(done / total, 1.0))
        bar = "#" * filled + "-" * (width - filled)
        progress.write(f"\r{name} [{bar}] {done / 1e6:6.1f}/{total / 1e6:.1f} MB")
    else:
        progress.write(f"\r{name} {done / 1e6:6.1f} MB")
    progress.flush()
