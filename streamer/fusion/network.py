"""The multimodal fusion network (Table I of the paper), the early-fusion DNN baseline, and
saving and loading them as a plain ``state_dict`` plus a JSON file of metadata.

Both networks take a mapping ``{modality: tensor of shape (n_rows, n_features)}`` and return
a tensor of shape ``(n_rows, n_outputs)``. A modality that is absent from the mapping (or
``None``) is an all-zero input: that is what a missing face or a silent voice gives.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from streamer.errors import StreamerError
from streamer.fusion.model_schema import check_architecture

FORMAT_VERSION = 1

# Table I of the paper: units of the two layers of each modality (L1 = L2) and of the
# fusion layer, one network per dimension.
TABLE_I: dict[str, dict[str, Any]] = {
    "arousal": {"modality_units": {"audio": 50, "video": 100, "text": 200}, "fusion_units": 100},
    "valence": {"modality_units": {"audio": 200, "video": 200, "text": 200}, "fusion_units": 200},
    "liking": {"modality_units": {"audio": 50, "video": 100, "text": 100}, "fusion_units": 50},
}

# Hidden layers of the early-fusion DNN baseline (our choice: the paper gives no sizes).
EARLY_FUSION_UNITS: tuple[int, ...] = (200, 100)


def _batch_of(inputs: Mapping[str, torch.Tensor | None], names: Sequence[str]) -> tuple[int, Any]:
    """Number of rows and a reference tensor (device, dtype) from the present modalities."""
    for name in names:
        value = inputs.get(name)
        if value is not None:
            return value.shape[0], value
    raise StreamerError("every modality is missing: give at least one input tensor")


def _modality_input(
    inputs: Mapping[str, torch.Tensor | None], name: str, dim: int, n_rows: int, ref: torch.Tensor
) -> torch.Tensor:
    """The input of one modality, zeros when it is absent; checks its width."""
    value = inputs.get(name)
    if value is None:
        return ref.new_zeros((n_rows, dim))
    if value.ndim != 2 or value.shape[1] != dim:
        raise StreamerError(
            f"modality {name!r} has shape {tuple(value.shape)}, the network expects (n, {dim})"
        )
    return value


class FusionNet(nn.Module):
    """Two fully connected layers per modality, concatenation, one fusion layer, linear output.

    Parameters
    ----------
    input_dims : dict[str, int]
        Features per modality (e.g. ``{"audio": 1000, "video": 3000, "text": 521}``); the
        order of the keys is the order of concatenation.
    modality_units : dict[str, int]
        Units of both layers of each modality (Table I: L1 = L2).
    fusion_units : int
        Units of the shared fusion layer.
    dropout : float
        Dropout probability after every hidden layer during training (0 = none).
    modality_dropout : float
        During training, probability of zeroing a whole modality's input, independently per
        row and modality (a row never loses all of them). Teaches the network to cope with a
        missing face or voice, which at inference is an all-zero input.
    n_outputs : int
        Linear output neurons: 1 per dimension, 3 for the multi-task option.

    Notes
    -----
    Hidden layers use ReLU. The paper's text (as available to us) does not name the
    activation; ReLU is our assumption.
    """

    def __init__(
        self,
        input_dims: dict[str, int],
        modality_units: dict[str, int],
        fusion_units: int,
        dropout: float = 0.0,
        modality_dropout: float = 0.0,
        n_outputs: int = 1,
    ) -> None:
        super().__init__()
        missing = [name for name in input_dims if name not in modality_units]
        if missing:
            raise StreamerError(f"modality_units has no size for {missing}: add them")
        if not 0.0 <= modality_dropout < 1.0 or not 0.0 <= dropout < 1.0:
            raise StreamerError("dropout and modality_dropout must be in [0, 1)")
        self.input_dims = {name: int(dim) for name, dim in input_dims.items()}
        self.modality_units = {name: int(modality_units[name]) for name in self.input_dims}
        self.fusion_units = int(fusion_units)
        self.dropout = float(dropout)
        self.modality_dropout = float(modality_dropout)
        self.n_outputs = int(n_outputs)
        self.branches = nn.ModuleDict()
        for name, dim in self.input_dims.items():
            units = self.modality_units[name]
            self.branches[name] = nn.Sequential(
                nn.Linear(dim, units),
                nn.ReLU(),
                nn.Dropout(self.dropout),
                nn.Linear(units, units),
                nn.ReLU(),
                nn.Dropout(self.dropout),
            )
        concat_units = sum(self.modality_units.values())
        self.fusion = nn.Sequential(
            nn.Linear(concat_units, self.fusion_units), nn.ReLU(), nn.Dropout(self.dropout)
        )
        self.output = nn.Linear(self.fusion_units, self.n_outputs)

    def architecture(self) -> dict[str, Any]:
        """Class name and constructor arguments (JSON-serialisable)."""
        return {
            "class": "FusionNet",
            "args": {
                "input_dims": dict(self.input_dims),
                "modality_units": dict(self.modality_units),
                "fusion_units": self.fusion_units,
                "dropout": self.dropout,
                "modality_dropout": self.modality_dropout,
                "n_outputs": self.n_outputs,
            },
        }

    def _keep_masks(self, n_rows: int, ref: torch.Tensor) -> torch.Tensor:
        """(n_rows, n_modalities) 0/1 masks; rows that would lose every modality keep all."""
        n_mod = len(self.input_dims)
        keep = torch.rand((n_rows, n_mod), device=ref.device) >= self.modality_dropout
        none_left = ~keep.any(dim=1, keepdim=True)
        return (keep | none_left).to(ref.dtype)

    def forward(self, inputs: Mapping[str, torch.Tensor | None]) -> torch.Tensor:
        """Predictions, shape (n_rows, n_outputs), from ``{modality: (n_rows, dim)}``."""
        names = list(self.input_dims)
        n_rows, ref = _batch_of(inputs, names)
        keep = None
        if self.training and self.modality_dropout > 0.0:
            keep = self._keep_masks(n_rows, ref)
        hidden = []
        for index, name in enumerate(names):
            x = _modality_input(inputs, name, self.input_dims[name], n_rows, ref)
            if keep is not None:
                x = x * keep[:, index : index + 1]
            hidden.append(self.branches[name](x))
        return self.output(self.fusion(torch.cat(hidden, dim=1)))


class EarlyFusionNet(nn.Module):
    """The DNN baseline: concatenated inputs into fully connected ReLU layers, linear output.

    Parameters
    ----------
    total_dim : int
        Features after concatenation (e.g. 4521).
    hidden_units : sequence of int
        Units of each hidden layer; default ``EARLY_FUSION_UNITS`` = (200, 100), our choice.
    dropout : float
        Dropout probability after every hidden layer during training.
    n_outputs : int
        Linear output neurons.
    input_dims : dict[str, int] or None
        When given, ``forward`` also accepts a mapping and concatenates it in this order
        (absent modalities are zeros); otherwise it takes one (n_rows, total_dim) tensor.
    """

    def __init__(
        self,
        total_dim: int,
        hidden_units: Sequence[int] = EARLY_FUSION_UNITS,
        dropout: float = 0.0,
        n_outputs: int = 1,
        input_dims: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        if input_dims is not None and sum(input_dims.values()) != total_dim:
            raise StreamerError(
                f"input_dims add up to {sum(input_dims.values())}, not total_dim {total_dim}"
            )
        self.total_dim = int(total_dim)
        self.hidden_units = tuple(int(units) for units in hidden_units)
        self.dropout = float(dropout)
        self.n_outputs = int(n_outputs)
        self.input_dims = None if input_dims is None else {k: int(v) for k, v in input_dims.items()}
        layers: list[nn.Module] = []
        width = self.total_dim
        for units in self.hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(self.dropout)]
            width = units
        layers.append(nn.Linear(width, self.n_outputs))
        self.layers = nn.Sequential(*layers)

    def architecture(self) -> dict[str, Any]:
        """Class name and constructor arguments (JSON-serialisable)."""
        return {
            "class": "EarlyFusionNet",
            "args": {
                "total_dim": self.total_dim,
                "hidden_units": list(self.hidden_units),
                "dropout": self.dropout,
                "n_outputs": self.n_outputs,
                "input_dims": None if self.input_dims is None else dict(self.input_dims),
            },
        }

    def forward(self, inputs: torch.Tensor | Mapping[str, torch.Tensor | None]) -> torch.Tensor:
        """Predictions, shape (n_rows, n_outputs), from a tensor or a modality mapping."""
        if isinstance(inputs, Mapping):
            if self.input_dims is None:
                raise StreamerError("this EarlyFusionNet has no input_dims: pass one tensor")
            names = list(self.input_dims)
            n_rows, ref = _batch_of(inputs, names)
            parts = [_modality_input(inputs, n, self.input_dims[n], n_rows, ref) for n in names]
            inputs = torch.cat(parts, dim=1)
        return self.layers(inputs)


MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "FusionNet": FusionNet,
    "EarlyFusionNet": EarlyFusionNet,
}


def build_model(architecture: Mapping[str, Any]) -> nn.Module:
    """A fresh network from ``{"class": name, "args": {...}}`` (as ``architecture()`` gives)."""
    name = architecture.get("class")
    if name not in MODEL_CLASSES:
        raise StreamerError(
            f"unknown network class {name!r}: expected one of {sorted(MODEL_CLASSES)}"
        )
    try:
        return MODEL_CLASSES[name](**architecture.get("args", {}))
    except TypeError as error:
        raise StreamerError(f"bad arguments for {name}: {error}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(
    model: nn.Module, folder: str | Path, name: str, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write ``name.pt`` (a plain ``state_dict``) and ``name.json`` (architecture + ``meta``).

    Parameters
    ----------
    model : FusionNet or EarlyFusionNet
        The network; its ``architecture()`` goes into the JSON.
    folder : path
        Destination folder (created when absent).
    name : str
        File stem, e.g. ``"arousal"``.
    meta : dict, optional
        Anything JSON-serialisable to keep beside it: the config, scaling parameters, the
        delay (s), codebook checksums, tuning CCC...

    Returns
    -------
    Path
        The JSON file. It also records the sha256 of the weights file.
    """
    if not hasattr(model, "architecture"):
        raise StreamerError(f"cannot save a {type(model).__name__}: it has no architecture()")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights_path = folder / f"{name}.pt"
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    torch.save(state, weights_path)
    record = {
        "format": FORMAT_VERSION,
        "architecture": model.architecture(),
        "weights": weights_path.name,
        "weights_sha256": _sha256(weights_path),
        "meta": dict(meta or {}),
    }
    json_path = folder / f"{name}.json"
    try:
        text = json.dumps(record, indent=2, sort_keys=False)
    except TypeError as error:
        raise StreamerError(f"model meta for {name!r} is not JSON-serialisable: {error}") from None
    json_path.write_text(text + "\n", encoding="utf-8")
    return json_path


def load_model(
    folder: str | Path, name: str, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a saved network (weights loaded with ``weights_only=True``), in eval mode.

    Returns
    -------
    model : nn.Module
        The network on ``device``, in eval mode.
    meta : dict
        The caller's ``meta`` as saved (config, scaling, delay, checksums...).
    """
    folder = Path(folder)
    json_path, weights_path = folder / f"{name}.json", folder / f"{name}.pt"
    for path in (json_path, weights_path):
        if not path.is_file():
            raise StreamerError(
                f"model file {path} is missing: train the model or fix the models folder"
            )
    try:
        record = json.loads(json_path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, not JSON
        problem = error.strerror if isinstance(error, OSError) else "it is not JSON text"
        raise StreamerError(
            f"model file {json_path} cannot be read ({problem}): use a folder written by "
            "`streamer train` (or the shipped model)"
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT_VERSION:
        found = record.get("format") if isinstance(record, dict) else None
        raise StreamerError(
            f"model file {json_path} has format {str(found)[:20]}, expected {FORMAT_VERSION}: "
            "retrain it with `streamer train`"
        )
    architecture = record.get("architecture")
    check_architecture(architecture, str(json_path))
    expected = record.get("weights_sha256")
    if expected and _sha256(weights_path) != expected:
        raise StreamerError(
            f"{weights_path} does not match {json_path.name} (sha256 differs): save them again together"
        )
    model = build_model(architecture)
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not for users
            warnings.simplefilter("ignore")
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception:  # a refused pickle (it would run code), a damaged archive
        raise StreamerError(
            f"{weights_path} is not a plain streamer weights file (streamer loads only "
            "tensors, never code from a file): use the .pt written by `streamer train` "
            "with its .json"
        ) from None
    try:
        model.load_state_dict(state, strict=True)
    except Exception:  # missing keys, other shapes
        raise StreamerError(
            f"{weights_path} does not fit the network {json_path.name} describes: save them "
            "again together with `streamer train`"
        ) from None
    model.to(device).eval()
    return model, dict(record.get("meta", {}))
