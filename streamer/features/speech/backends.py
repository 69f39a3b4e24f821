"""Choosing the speech backend: Vosk when a model is found, else PocketSphinx.

Vosk model search order: ``speech.vosk_model_path`` in the config, the ``VOSK_MODEL_PATH``
environment variable, then a model folder in the user cache (``~/.cache/streamer/vosk/*``,
the last name in sorted order). A folder named by the config or the environment must be a
usable model (a wrong path is an error, not a silent fallback). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from streamer.config import SpeechConfig
from streamer.errors import StreamerError
from streamer.features.speech.recognizer import SpeechRecognizer
from streamer.features.speech.vosk_models import cached_vosk_models, vosk_cache_dir

ENV_VARIABLE = "VOSK_MODEL_PATH"


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


def create_recognizer(config: SpeechConfig) -> SpeechRecognizer:
    """Build the recogniser ``config.backend`` asks for; its ``name`` tells which one.

    ``auto`` uses Vosk when a model is found (and the ``vosk`` package is installed),
    otherwise PocketSphinx with its bundled English model.
    """
    backend = config.backend
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
            f"unknown speech backend {backend!r}: use auto, vosk or pocketsphinx"
        )
    from streamer.features.speech.pocketsphinx_backend import PocketsphinxRecognizer

    return PocketsphinxRecognizer()
