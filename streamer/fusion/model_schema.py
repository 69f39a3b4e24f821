"""The schema of a model description (``<name>.json``), checked before anything is built.

:func:`check_architecture` runs whenever a network is loaded; :func:`check_meta` when a
network is loaded to estimate affect (the runtime's models folder).

A description names the network's class and sizes, the dimensions it estimates, their
scaling and the codebooks its bags came from. Every field is checked for its type and
for limits (no 10^8-unit layer is allocated to find out it is absurd), so that a damaged
or foreign file is a one-line error naming the file and the field.
"""

from __future__ import annotations

from typing import Any

from streamer.errors import StreamerError

DIMENSIONS = ("arousal", "valence", "liking")
MODALITIES = ("audio", "video", "text")
MAX_INPUT_WORDS = 1_000_000  # words in one modality's bag
MAX_UNITS = 100_000  # units in one layer
MAX_WEIGHTS = 100_000_000  # weights in a whole network (400 MB of float32)
MAX_OUTPUTS = len(DIMENSIONS)


def _fail(where: str, problem: str) -> StreamerError:
    return StreamerError(
        f"model file {where}: {problem}: it is not a streamer model description; "
        "use a folder written by `streamer train` (or the shipped model)"
    )


def _mapping(value: Any, where: str, field: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, f"{field} is not a mapping")
    return value


def _count(value: Any, where: str, field: str, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise _fail(where, f"{field} must be a whole number from 1 to {high}")
    return value


def _fraction(value: Any, where: str, field: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
        raise _fail(where, f"{field} must be a number from 0 to below 1")


def _input_dims(args: dict, where: str, optional: bool = False) -> dict[str, int]:
    dims = args.get("input_dims")
    if dims is None and optional:
        return {}
    dims = _mapping(dims, where, "architecture.args.input_dims")
    if not dims or any(m not in MODALITIES for m in dims):
        raise _fail(where, f"input_dims must name some of {', '.join(MODALITIES)}")
    return {m: _count(n, where, f"input_dims.{m}", MAX_INPUT_WORDS) for m, n in dims.items()}


def check_architecture(architecture: Any, where: str) -> None:
    """Check ``{"class": ..., "args": {...}}`` of a FusionNet or EarlyFusionNet."""
    architecture = _mapping(architecture, where, "architecture")
    args = _mapping(architecture.get("args"), where, "architecture.args")
    name = architecture.get("class")
    outputs = _count(args.get("n_outputs"), where, "n_outputs", MAX_OUTPUTS)
    _fraction(args.get("dropout"), where, "dropout")
    if name == "FusionNet":
        dims = _input_dims(args, where)
        units = _mapping(args.get("modality_units"), where, "architecture.args.modality_units")
        if set(units) != set(dims):
            raise _fail(where, "modality_units must name the modalities of input_dims")
        units = {m: _count(u, where, f"modality_units.{m}", MAX_UNITS) for m, u in units.items()}
        fusion = _count(args.get("fusion_units"), where, "fusion_units", MAX_UNITS)
        _fraction(args.get("modality_dropout"), where, "modality_dropout")
        weights = sum(dims[m] * units[m] for m in dims) + sum(units.values()) * fusion
        weights += fusion * outputs
    elif name == "EarlyFusionNet":
        total = _count(args.get("total_dim"), where, "total_dim", MAX_INPUT_WORDS * 3)
        hidden = args.get("hidden_units")
        if not isinstance(hidden, list) or not hidden:
            raise _fail(where, "hidden_units must be a list of layer sizes")
        sizes = [total, *(_count(u, where, "hidden_units", MAX_UNITS) for u in hidden), outputs]
        weights = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
        _input_dims(args, where, optional=True)
    else:
        raise _fail(where, f"unknown network class {str(name)[:40]!r}")
    if weights > MAX_WEIGHTS:
        raise _fail(where, f"the network would hold {weights:,} weights (at most {MAX_WEIGHTS:,})")


def check_meta(meta: Any, where: str) -> None:
    """Check the dimensions, their scaling records and the codebook manifest."""
    meta = _mapping(meta, where, "meta")
    dimensions = meta.get("dimensions")
    if (
        not isinstance(dimensions, list)
        or not dimensions
        or any(d not in DIMENSIONS for d in dimensions)
    ):
        raise _fail(where, f"meta.dimensions must list some of {', '.join(DIMENSIONS)}")
    scaling = _mapping(meta.get("scaling"), where, "meta.scaling")
    for dimension in dimensions:
        _mapping(scaling.get(dimension), where, f"meta.scaling.{dimension}")
    manifest = _mapping(meta.get("codebooks", {}), where, "meta.codebooks")
    for modality, entries in manifest.items():
        if not isinstance(entries, list):
            raise _fail(where, f"meta.codebooks.{modality} is not a list")
        for entry in entries:
            entry = _mapping(entry, where, f"meta.codebooks.{modality}[]")
            for key in ("file", "group", "checksum"):
                if not isinstance(entry.get(key), str) or not entry[key]:
                    raise _fail(where, f"meta.codebooks.{modality}[] has no {key}")
