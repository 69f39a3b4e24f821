"""Configuration: ``config.yaml`` loaded into frozen dataclasses, one section per component.

The defaults live in the ``config.yaml`` shipped with the package (the repository's
top-level file). A user file given with ``--config`` and ``--set section.key=value``
overrides are applied on top, then every value is checked: an unknown key, a wrong
type or an out-of-range value raises :class:`ConfigError` with a one-line message that
names the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streamer.errors import StreamerError

DEFAULT_CONFIG_PATH = Path(__file__).with_name("config.yaml")


class ConfigError(StreamerError):
    """A configuration file or override that cannot be used."""


def _choice(*allowed: str) -> dict:
    return {"choices": allowed}


def _range(low: float, high: float) -> dict:
    return {"range": (low, high)}


@dataclass(frozen=True)
class AudioConfig:
    """Audio low-level descriptor extraction."""

    backend: str = field(metadata=_choice("numpy", "opensmile"))
    resampler_half_width: int = field(metadata=_range(4, 256))
    voicing_energy_threshold: float = field(metadata=_range(0.0, 1.0))


@dataclass(frozen=True)
class CsvConfig:
    """CSV files written by streamer."""

    separator: str = field(metadata=_choice(";", ","))
    float_digits: int = field(metadata=_range(3, 17))


@dataclass(frozen=True)
class FaceConfig:
    """Face landmark tracking."""

    model_path: str
    coords: str = field(metadata=_choice("pixels", "normalised"))
    blendshapes: bool
    max_faces: int = field(metadata=_range(1, 10))
    min_detection_confidence: float = field(metadata=_range(0.0, 1.0))
    min_tracking_confidence: float = field(metadata=_range(0.0, 1.0))
    crop_search_interval_s: float = field(metadata=_range(-1.0, 3600.0))


@dataclass(frozen=True)
class SpeechConfig:
    """Word recognition."""

    backend: str = field(metadata=_choice("auto", "whisper", "vosk", "pocketsphinx"))
    whisper_model: str
    whisper_threads: int = field(metadata=_range(1, 64))
    whisper_max_utterance_s: float = field(metadata=_range(2.0, 30.0))
    whisper_step_s: float = field(metadata=_range(0.2, 10.0))
    vosk_model_path: str


@dataclass(frozen=True)
class MicrophoneConfig:
    """Live audio input."""

    device: str
    block_s: float = field(metadata=_range(0.005, 1.0))
    queue_blocks: int = field(metadata=_range(2, 10000))


@dataclass(frozen=True)
class TextConfig:
    """Text words and their vocabulary."""

    vocabulary_size: int = field(metadata=_range(1, 1_000_000))
    min_count: int = field(metadata=_range(1, 1_000_000))


@dataclass(frozen=True)
class CodebooksConfig:
    """Codebook fitting."""

    audio_size: int = field(metadata=_range(2, 100_000))
    pose_size: int = field(metadata=_range(2, 100_000))
    eyes_size: int = field(metadata=_range(2, 100_000))
    landmarks_size: int = field(metadata=_range(2, 100_000))
    generation: str = field(metadata=_choice("random++", "kmeans++"))
    assignments: int = field(metadata=_range(1, 1000))
    seed: int = field(metadata=_range(0, 2**31 - 1))
    max_training_frames: int = field(metadata=_range(0, 10**9))


@dataclass(frozen=True)
class BowConfig:
    """Rolling bags of words."""

    window_s: float = field(metadata=_range(0.01, 3600.0))
    hop_s: float = field(metadata=_range(0.001, 3600.0))
    window: str = field(metadata=_choice("causal", "centred"))
    weighting: str = field(metadata=_choice("counts", "log"))
    normalise: bool


@dataclass(frozen=True)
class CalibrationConfig:
    """Per-person calibration of the features before they are quantised."""

    audio: bool
    face: bool
    prior_s: float = field(metadata=_range(0.01, 36000.0))


@dataclass(frozen=True)
class FusionConfig:
    """Layer sizes (Table I) and regularisation of the fusion networks."""

    arousal_audio_units: int = field(metadata=_range(1, 100_000))
    arousal_video_units: int = field(metadata=_range(1, 100_000))
    arousal_text_units: int = field(metadata=_range(1, 100_000))
    arousal_fusion_units: int = field(metadata=_range(1, 100_000))
    valence_audio_units: int = field(metadata=_range(1, 100_000))
    valence_video_units: int = field(metadata=_range(1, 100_000))
    valence_text_units: int = field(metadata=_range(1, 100_000))
    valence_fusion_units: int = field(metadata=_range(1, 100_000))
    liking_audio_units: int = field(metadata=_range(1, 100_000))
    liking_video_units: int = field(metadata=_range(1, 100_000))
    liking_text_units: int = field(metadata=_range(1, 100_000))
    liking_fusion_units: int = field(metadata=_range(1, 100_000))
    dropout: float = field(metadata=_range(0.0, 0.99))
    modality_dropout: float = field(metadata=_range(0.0, 0.99))

    def units(self, dimension: str) -> tuple[dict[str, int], int]:
        """Units per modality and of the fusion layer for ``dimension`` (arousal, ...)."""
        per_modality = {
            m: getattr(self, f"{dimension}_{m}_units") for m in ("audio", "video", "text")
        }
        return per_modality, getattr(self, f"{dimension}_fusion_units")


@dataclass(frozen=True)
class TrainingConfig:
    """Training and the evaluation protocol."""

    loss: str = field(metadata=_choice("mse", "ccc"))
    learning_rate: float = field(metadata=_range(1e-7, 1.0))
    batch_size: int = field(metadata=_range(1, 1_000_000))
    max_epochs: int = field(metadata=_range(1, 100_000))
    patience: int = field(metadata=_range(0, 100_000))
    seed: int = field(metadata=_range(0, 2**31 - 1))
    device: str = field(metadata=_choice("auto", "cpu", "cuda"))
    scaling: str = field(metadata=_choice("none", "decimal", "minmax", "std_ratio"))
    arousal_delay_s: float = field(metadata=_range(0.0, 60.0))
    valence_delay_s: float = field(metadata=_range(0.0, 60.0))
    liking_delay_s: float = field(metadata=_range(0.0, 60.0))
    tuning_recordings: int = field(metadata=_range(1, 10_000))
    test_partition: str = field(metadata=_choice("devel", "test"))
    branches: str
    freeze_branches: bool
    pretraining_items: int = field(metadata=_range(0, 1000))


@dataclass(frozen=True)
class RuntimeConfig:
    """The streaming pipeline (``streamer monitor``, ``replay`` and ``streamer.stream``)."""

    models_dir: str
    codebooks_dir: str
    latency_budget_s: float = field(metadata=_range(0.0, 60.0))
    max_stale_s: float = field(metadata=_range(0.0, 60.0))
    voiced_fraction: float = field(metadata=_range(0.0, 1.0))
    speech: bool
    face_fps: float = field(metadata=_range(0.0, 1000.0))
    video_queue_frames: int = field(metadata=_range(1, 10_000))
    audio_queue_blocks: int = field(metadata=_range(1, 100_000))
    reconnect_interval_s: float = field(metadata=_range(0.0, 3600.0))


@dataclass(frozen=True)
class Config:
    """All settings, one section per component."""

    audio: AudioConfig
    csv: CsvConfig
    face: FaceConfig
    speech: SpeechConfig
    microphone: MicrophoneConfig
    text: TextConfig
    codebooks: CodebooksConfig
    bow: BowConfig
    calibration: CalibrationConfig
    fusion: FusionConfig
    training: TrainingConfig
    runtime: RuntimeConfig


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    model_file: str | Path | None = None,
) -> Config:
    """Load the defaults, then a model's settings, then a user file, then overrides.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file holding the keys to change (any subset of ``config.yaml``).
    overrides : list of str
        ``section.key=value`` strings; ``value`` is parsed as YAML (``3``, ``0.5``, ``true``).
    model_file : str or Path, optional
        The ``config.yaml`` of a models folder: the settings its features were made with.

    Returns
    -------
    Config
        The validated, frozen configuration.
    """
    values = _read_yaml(DEFAULT_CONFIG_PATH)
    if model_file is not None:
        _merge(values, _read_yaml(Path(model_file)), source=str(model_file))
    if path is not None:
        _merge(values, _read_yaml(Path(path)), source=str(path))
    for override in overrides:
        _merge(values, _parse_override(override), source="--set")
    config = _build(Config, values, prefix="")
    if config.bow.window_s < config.bow.hop_s:
        raise ConfigError(
            f"config key bow.window_s ({config.bow.window_s}) is shorter than bow.hop_s "
            f"({config.bow.hop_s}): a window must span at least one hop"
        )
    return config


MAX_CONFIG_BYTES = 1_000_000  # a config file is a few kB; refuse anything absurd
SHOWN_CHARACTERS = 60  # of a user's value in an error message


def _shown(value: Any) -> str:
    """``repr(value)`` cut to ``SHOWN_CHARACTERS``, for messages."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases (``*name``: one alias can expand a small file into gigabytes)
    and without a key given twice in one section (the second would silently win)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            line = self.peek_event().start_mark.line + 1
            raise ConfigError(f"YAML aliases (*name) are not allowed in a config (line {line})")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(f"{_shown(key)} is given twice in a config (line {line}): keep one")
            seen.add(key)
        return super().construct_mapping(node, deep)


def _load_yaml(text: str):
    return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader: builds no objects


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        what = "is not a file" if path.exists() else "not found"
        raise ConfigError(f"config file {what}: {path} (give an existing YAML file to --config)")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"config file {path} is larger than {MAX_CONFIG_BYTES // 1000} kB: "
                "give a YAML file of the keys to change"
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path} ({exc.strerror}): check it") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text: save it as UTF-8") from None
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}: fix its syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold sections (a YAML mapping), not a {type(data).__name__}"
        )
    return data


def _parse_override(text: str) -> dict:
    key, sep, raw_value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) != 2 or not all(parts):
        raise ConfigError(
            f"--set {_shown(text)}: expected section.key=value, for example audio.backend=numpy"
        )
    try:
        value = _load_yaml(raw_value) if raw_value.strip() else ""
    except yaml.YAMLError:
        value = raw_value
    return {parts[0]: {parts[1]: value}}


def _merge(base: dict, update: dict, source: str) -> None:
    for section, keys in update.items():
        if section not in base:
            allowed = ", ".join(sorted(base))
            raise ConfigError(
                f"unknown config section {_shown(section)} in {source} (allowed: {allowed})"
            )
        if not isinstance(keys, dict):
            raise ConfigError(
                f"config section {_shown(section)} in {source} must be a mapping of keys to values"
            )
        base[section] = {**base[section], **keys}


def _build(cls: type, values: Any, prefix: str) -> Any:
    names = [f.name for f in dataclasses.fields(cls)]
    if not isinstance(values, dict):
        raise ConfigError(
            f"config {prefix.rstrip('.') or 'file'} must be a mapping with keys {', '.join(names)}"
        )
    unknown = sorted(set(values) - set(names), key=str)
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown config key {_shown(prefix + str(unknown[0]))} ({hint}allowed: "
            f"{', '.join(names)})"
        )
    missing = [name for name in names if name not in values]
    if missing:
        raise ConfigError(
            f"config key {prefix}{missing[0]} is missing (the shipped config.yaml has it)"
        )
    types = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(types[f.name]):
            kwargs[f.name] = _build(types[f.name], values[f.name], prefix=f"{key}.")
        else:
            kwargs[f.name] = _check_value(key, values[f.name], types[f.name], f.metadata)
    return cls(**kwargs)


def _check_value(key: str, value: Any, kind: type, metadata: Any) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"config key {key} must be {kind.__name__}, got {_shown(value)}")
    choices = metadata.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(
            f"config key {key} must be one of {', '.join(map(repr, choices))}, got {_shown(value)}"
        )
    bounds = metadata.get("range")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ConfigError(
            f"config key {key} must be between {bounds[0]} and {bounds[1]}, got {_shown(value)}"
        )
    return value
