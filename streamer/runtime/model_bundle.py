"""The fusion networks and the codebooks they were trained with, loaded together.

A models folder holds ``<name>.pt`` / ``<name>.json`` pairs written by ``streamer train``
(one network per dimension, or one multi-task network) and, optionally, ``config.yaml``:
the settings its features were made with, read on top of the defaults at run time. Each
network's JSON names the codebooks its bags came from (file, group, size, checksum); they
are looked for in the models folder, then in the codebooks folder, and a file whose
checksum differs is refused: bags from other codebooks would mean nothing to the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.bow.codebook import Codebook
from streamer.errors import StreamerError
from streamer.features.speech.words import Vocabulary

DIMENSIONS = ("arousal", "valence", "liking")
MODALITIES = ("audio", "video", "text")
SHIPPED_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
SHIPPED_CODEBOOKS_DIR = Path(__file__).resolve().parent.parent / "codebooks"
MODEL_CONFIG_NAME = "config.yaml"


class ModelMismatchError(StreamerError):
    """Codebooks, networks or settings that do not belong together."""


@dataclass
class _Network:
    name: str
    model: object  # torch.nn.Module
    dimensions: list[str]
    scalers: dict  # dimension -> Scaler
    inputs: dict[str, int]  # modality -> input size


class AffectModel:
    """The networks of a models folder and the codebooks they need.

    Attributes
    ----------
    folder : Path
        The models folder.
    dimensions : tuple of str
        The dimensions some network estimates, in ``DIMENSIONS`` order (the default model:
        arousal and valence; liking needs a model trained on data with liking labels).
    codebooks : dict of str to Codebook or Vocabulary
        ``audio``, ``pose``, ``eyes``, ``landmarks`` and ``text`` (only those the networks use).
    groups : dict of str to list of str
        The codebook groups of each modality, in the order their bags sit side by side.
    modalities : tuple of str
        The modalities the networks take, in ``MODALITIES`` order.
    """

    def __init__(
        self, folder: Path, networks: list[_Network], codebooks: dict, groups: dict
    ):
        self.folder = folder
        self._networks = networks
        self.codebooks = codebooks
        self.groups = groups
        found = {d for net in networks for d in net.dimensions}
        self.dimensions = tuple(d for d in DIMENSIONS if d in found)
        used = {m for net in networks for m in net.inputs}
        self.modalities = tuple(m for m in MODALITIES if m in used)

    def bag_size(self, modality: str) -> int:
        """Words in one bag of ``modality`` (video: pose, eyes and landmarks side by side)."""
        return sum(_n_words(self.codebooks[g]) for g in self.groups[modality])

    def predict(self, bags: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Scaled estimates of each dimension the model has.

        Parameters
        ----------
        bags : dict of str to ndarray, shape (n_hops, bag_size(modality))
            One row per hop for each modality; a missing modality is a row of zeros (as the
            network saw it in training when that modality was dropped or empty).

        Returns
        -------
        dict of str to ndarray, shape (n_hops,)
            Per dimension, the estimate after the scaling module, clipped to the label
            range [-1, 1] (the scaling stretches predictions and can pass it slightly).
        """
        import torch

        out = {}
        with torch.no_grad():
            for net in self._networks:
                inputs = {}
                for modality, size in net.inputs.items():
                    rows = np.asarray(bags[modality], dtype=np.float32)
                    if rows.ndim != 2 or rows.shape[1] != size:
                        raise ModelMismatchError(
                            f"{modality} bags have shape {rows.shape}, the network {net.name} "
                            f"takes {size} words: use the codebooks it was trained with"
                        )
                    inputs[modality] = torch.from_numpy(rows)
                raw = net.model(inputs).numpy().reshape(len(rows), -1)
                for j, dimension in enumerate(net.dimensions):
                    scaled = net.scalers[dimension].apply(raw[:, j].astype(np.float64))
                    out[dimension] = np.clip(scaled, -1.0, 1.0)
        return out


def _n_words(book) -> int:
    return len(book) if isinstance(book, Vocabulary) else book.n_words


def _load_codebook(name: str, places: list[Path]):
    for folder in places:
        path = folder / name
        if path.is_file():
            return path, (Vocabulary.load(path) if name.endswith(".txt") else Codebook.load(path))
    where = " or ".join(str(p) for p in places)
    raise ModelMismatchError(
        f"codebook {name} that the model needs is not in {where}: copy it there or name its "
        "folder with --codebooks"
    )


def _model_names(folder: Path) -> list[str]:
    names = sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.pt").is_file())
    if not names:
        raise StreamerError(
            f"no models in {folder} (no <name>.pt with its <name>.json): train them with "
            "`streamer train` or give the right folder with --models"
        )
    return names


def load_affect_model(
    models_dir: str | Path | None = None, codebooks_dir: str | Path | None = None
) -> AffectModel:
    """Load every network of ``models_dir`` and the codebooks they were trained with.

    Parameters
    ----------
    models_dir : path, optional
        Default: the model shipped with streamer.
    codebooks_dir : path, optional
        Where to look for the codebooks after ``models_dir``; default: the shipped ones.

    Raises
    ------
    ModelMismatchError
        A codebook is missing, differs from the one a network was trained with, or two
        networks were trained with different codebooks.
    """
    from streamer.fusion.model_schema import check_meta
    from streamer.fusion.network import load_model
    from streamer.fusion.scaling import Scaler

    folder = Path(models_dir) if models_dir else SHIPPED_MODELS_DIR
    if not folder.is_dir():
        raise StreamerError(f"models folder {folder} does not exist: fix --models")
    places = [folder, Path(codebooks_dir) if codebooks_dir else SHIPPED_CODEBOOKS_DIR]
    networks, codebooks, checksums, groups = [], {}, {}, {}
    for name in _model_names(folder):
        model, meta = load_model(folder, name)
        check_meta(meta, f"{folder / name}.json")
        manifest = meta.get("codebooks") or {}
        inputs = dict(model.architecture()["args"]["input_dims"])
        for modality in inputs:
            if modality not in manifest:
                raise ModelMismatchError(
                    f"model {folder / name}.json does not name the {modality} codebooks it was "
                    "trained with: train it on bags made by `streamer features bow`"
                )
            order = [entry["group"] for entry in manifest[modality]]
            if groups.setdefault(modality, order) != order:
                raise ModelMismatchError(
                    f"model {name} puts the {modality} bags in the order {order}, another "
                    f"network of {folder} in {groups[modality]}: keep one model per folder"
                )
            for entry in manifest[modality]:
                group, file = entry["group"], entry["file"]
                if group not in codebooks:
                    path, book = _load_codebook(file, places)
                    codebooks[group], checksums[group] = book, (book.checksum, path)
                checksum, path = checksums[group]
                if checksum != entry["checksum"]:
                    raise ModelMismatchError(
                        f"codebook {path} (checksum {checksum}) is not the {group} codebook "
                        f"the model {name} was trained with ({entry['checksum']}): put the "
                        "codebooks the model came with beside it in its folder (or set "
                        "runtime.codebooks_dir)"
                    )
        scalers = {d: Scaler.from_dict(meta["scaling"][d]) for d in meta["dimensions"]}
        networks.append(_Network(name, model, list(meta["dimensions"]), scalers, inputs))
    bundle = AffectModel(folder, networks, codebooks, groups)
    for net in networks:
        for modality, size in net.inputs.items():
            if bundle.bag_size(modality) != size:
                raise ModelMismatchError(
                    f"model {net.name} takes {size} {modality} words but its codebooks hold "
                    f"{bundle.bag_size(modality)}: retrain it or use its own codebooks"
                )
    return bundle


def model_config_path(models_dir: str | Path | None = None) -> Path | None:
    """The ``config.yaml`` of a models folder (its feature settings), or None."""
    path = (Path(models_dir) if models_dir else SHIPPED_MODELS_DIR) / MODEL_CONFIG_NAME
    return path if path.is_file() else None


def describe(model: AffectModel) -> str:
    """One line: folder, dimensions, and what is missing (liking, for the default model)."""
    missing = [d for d in DIMENSIONS if d not in model.dimensions]
    columns = "its column stays" if len(missing) == 1 else "their columns stay"
    note = f"; no {' or '.join(missing)} network: {columns} empty" if missing else ""
    return f"model {model.folder}: {', '.join(model.dimensions)}{note}"
