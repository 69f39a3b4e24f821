"""The paper's evaluation protocol: Table II (SVR baselines), Table III (DNNs), Fig. 2 (delay)
and Fig. 3 (modality importance), written as Markdown, CSV and PNG files.

Per dimension the features are shifted by the configured delay (``training.<dim>_delay_s``);
models are fitted on Train, complexities / epochs / the late fusion are chosen on the Devel
tuning subset, and CCC is reported on the tuning and on the test subsets of Devel. Every
scaling module is fitted on the TRAINING predictions of its model.

Choices made to keep it fast (documented in the report files too):

- SVR complexity search on every ``SVR_SEARCH_STRIDE``-th training row (the best C is refitted
  on all rows, see :func:`streamer.training.baselines.fit_svr`), ``n_jobs`` processes.
- Fig. 2 scores the early-fusion SVR with the complexity chosen at the configured delay
  (refitted on all training rows for each delay), not the proposed network.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamer.config import Config
from streamer.errors import StreamerError
from streamer.fusion.delay import delay_grid_search
from streamer.fusion.metrics import ccc, pcc, rmse
from streamer.fusion.network import EarlyFusionNet, FusionNet
from streamer.fusion.scaling import Scaler
from streamer.training.baselines import (
    AVEC_COMPLEXITIES,
    concat_modalities,
    fit_late_fusion,
    fit_svr_at,
    fit_svr_baselines,
)
from streamer.training.datasets import Corpus, Recording
from streamer.training.protocol import (
    codebook_manifests,
    proposed_network,
    stack,
    with_pretraining_items,
)
from streamer.training.train import predict, train_model

SVR_SCALINGS = ("none", "std_ratio", "minmax")
DNN_SCALINGS = ("none", "decimal", "std_ratio")
SVR_SEARCH_STRIDE = 5
DEFAULT_DELAYS_S = tuple(np.round(np.arange(0.0, 5.01, 0.5), 2))
SUBSETS = ("tuning", "test")
SCORE_KEYS = (*SUBSETS, "test_pcc", "test_rmse")  # CCC per subset; PCC, RMSE on test


class ProgressBar:
    """A textual progress bar on stderr: ``[#####.....] 3/10 arousal: SVR``."""

    def __init__(self, total: int, width: int = 30, stream=None) -> None:
        self.total, self.width, self.done = max(int(total), 1), width, 0
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()

    def step(self, label: str) -> None:
        """Announce the stage ``label`` about to run (counts the previous one as done)."""
        self._draw(label)
        self.done += 1

    def close(self) -> None:
        """Draw the full bar and end the line."""
        self.done = self.total
        self._draw("done")
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, label: str) -> None:
        filled = int(self.width * min(self.done, self.total) / self.total)
        elapsed_s = time.perf_counter() - self.started
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
            f"{elapsed_s:5.0f} s  {label:<40.40}"
        )
        self.stream.flush()


@dataclass
class Report:
    """Everything the evaluation measured.

    Attributes
    ----------
    table2, table3 : list of dict
        One row per (dimension, model, scaling): CCC (unitless) on ``tuning`` and ``test``;
        Table III rows also hold ``tuning_std``, ``test_std`` (over runs) and ``runs``.
    delays : dict of str to (list of float, ndarray, float)
        Per dimension: delay grid (s), tuning CCC per delay, best delay (s).
    importance : dict of str to dict of str to float
        Per dimension, late-fusion modality importance (summing to 1).
    notes : list of str
        The shortcuts taken (search stride, what Fig. 2 scores...).
    """

    table2: list[dict] = field(default_factory=list)
    table3: list[dict] = field(default_factory=list)
    delays: dict[str, tuple[list[float], np.ndarray, float]] = field(default_factory=dict)
    importance: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _scores(scaler: Scaler, predictions: dict, targets: dict) -> dict[str, float]:
    """CCC on each subset, and PCC and RMSE on the test subset."""
    scores = {s: ccc(targets[s], scaler.apply(predictions[s])) for s in SUBSETS}
    test_prediction = scaler.apply(predictions["test"])
    scores["test_pcc"] = pcc(targets["test"], test_prediction)
    scores["test_rmse"] = rmse(targets["test"], test_prediction)
    return scores


def _svr_rows(dimension, data, n_jobs, complexities) -> tuple[list[dict], dict, dict]:
    """Table II rows of one dimension; also the fitted baselines and the late fusion."""
    train, y_train = data["train"]
    baselines = fit_svr_baselines(
        train, y_train, *data["tuning"], search_stride=SVR_SEARCH_STRIDE, n_jobs=n_jobs,
        complexities=complexities,
    )  # fmt: skip
    preds = {
        name: {part: model.predict(data[part][0]) for part in ("train", *SUBSETS)}
        for name, model in baselines.items()
    }
    unimodal = [name for name in baselines if name != "early"]
    late = fit_late_fusion({m: preds[m]["tuning"] for m in unimodal}, data["tuning"][1])
    preds["late"] = {
        part: late.predict({m: preds[m][part] for m in unimodal}) for part in ("train", *SUBSETS)
    }
    targets = {s: data[s][1] for s in SUBSETS}
    rows = []
    for name, by_part in preds.items():
        label = {"early": "SVR early fusion", "late": "SVR late fusion"}.get(name, f"SVR {name}")
        for kind in SVR_SCALINGS:
            scaler = Scaler(kind).fit(by_part["train"], y_train)
            row = {"dimension": dimension, "model": label, "scaling": kind}
            rows.append(row | _scores(scaler, by_part, targets))
    return rows, baselines, late


def _dnn_rows(dimension, data, dims, config, runs, progress, codebooks) -> list[dict]:
    """Table III rows of one dimension: both networks x scalings, mean and std over runs."""
    settings = config.training
    units, fusion_units = config.fusion.units(dimension)

    def early() -> EarlyFusionNet:
        return EarlyFusionNet(sum(dims.values()), dropout=config.fusion.dropout, input_dims=dims)

    def proposed() -> FusionNet:
        return proposed_network(dims, units, fusion_units, config, [dimension], codebooks)

    # The proposed network is trained as `streamer train` trains it: with pretrained
    # branches, the pretraining items join its training rows.
    proposed_train = data["train"]
    if settings.branches and settings.pretraining_items:
        inputs, targets = with_pretraining_items(
            (data["train"][0], data["train"][1][:, None]), dims, dimension, codebooks, settings
        )
        proposed_train = (inputs, targets[:, 0])
    rows = []
    for label, factory, train in (
        ("DNN early fusion", early, data["train"]),
        ("Proposed fusion", proposed, proposed_train),
    ):
        per_run = {kind: {s: [] for s in SCORE_KEYS} for kind in DNN_SCALINGS}
        for run in range(runs):
            progress(f"{dimension}: {label} run {run + 1}/{runs}")
            model, _ = train_model(
                *train, *data["tuning"], factory, epochs=settings.max_epochs,
                batch_size=settings.batch_size, learning_rate=settings.learning_rate,
                patience=settings.patience, seed=settings.seed + run, loss=settings.loss,
                device=settings.device,
            )  # fmt: skip
            model = model.to("cpu")
            preds = {p: predict(model, data[p][0])[:, 0] for p in SUBSETS}
            preds["train"] = predict(model, train[0])[:, 0]
            for kind in DNN_SCALINGS:
                scaler = Scaler(kind).fit(preds["train"], train[1])
                for s, value in _scores(scaler, preds, {s: data[s][1] for s in SUBSETS}).items():
                    per_run[kind][s].append(value)
        for kind, values in per_run.items():
            row = {"dimension": dimension, "model": label, "scaling": kind, "runs": runs}
            for s in SCORE_KEYS:
                row[s] = float(np.mean(values[s]))
            for s in SUBSETS:
                row[f"{s}_std"] = float(np.std(values[s], ddof=1)) if runs > 1 else 0.0
            rows.append(row)
    return rows


def _stack_one(recordings, modalities, delay_s: float, label: int):
    """Inputs and the 1-D targets of one label (see :func:`protocol.stack`)."""
    inputs, targets = stack(recordings, modalities, [delay_s], [label])
    return inputs, targets[:, 0]


def _delay_curve(corpus, tuning, modalities, label, c, delays_s):
    """Tuning CCC of the early-fusion SVR (complexity ``c``) for each delay (s)."""

    def score(delay_s: float) -> float:
        train, y = _stack_one(corpus.recordings["train"], modalities, delay_s, label)
        tune, y_tune = _stack_one(tuning, modalities, delay_s, label)
        model = fit_svr_at(c, concat_modalities(train, modalities), y, 1000, 1e-4)
        return ccc(y_tune, model.predict(concat_modalities(tune, modalities)))

    return delay_grid_search(delays_s, score)


def evaluate(
    corpus: Corpus,
    tuning: Sequence[Recording],
    test: Sequence[Recording],
    config: Config,
    dimensions: Sequence[str],
    runs: int = 1,
    delays_s: Sequence[float] = DEFAULT_DELAYS_S,
    n_jobs: int = 1,
    complexities: Sequence[float] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run the whole protocol (Tables II and III, Fig. 2 and 3 data) for ``dimensions``.

    Parameters
    ----------
    corpus : Corpus
        A loaded corpus with Train and Devel labels.
    tuning, test : sequence of Recording
        The Devel subsets (``split_devel``).
    config : Config
        Delays (s), training settings and layer sizes.
    dimensions : sequence of str
        Labels to evaluate, e.g. ``("arousal", "valence")``.
    runs : int
        Seeds per network in Table III (``training.seed``, +1, ...).
    delays_s : sequence of float
        Fig. 2 delay grid, seconds.
    n_jobs : int
        Processes for the SVR complexity search.
    complexities : sequence of float, optional
        SVR complexities (default: the AVEC grid ``2 ** -15 .. 2 ** 0``).
    progress : callable, optional
        Called with a stage label before each stage.
    """
    if runs < 1:
        raise StreamerError(f"--runs must be at least 1, got {runs}")
    progress = progress or (lambda _label: None)
    complexities = AVEC_COMPLEXITIES if complexities is None else complexities
    modalities = tuple(corpus.modalities)
    dims = {m: corpus.dims[m] for m in modalities}
    report = Report(
        notes=[
            f"SVR complexity search on every {SVR_SEARCH_STRIDE}th training row (best C refitted "
            f"on all rows), {n_jobs} process(es)",
            "Fig. 2: tuning CCC of the early-fusion SVR with the C chosen at the configured "
            "delay, refitted on all training rows for each delay",
            "Fig. 3: late-fusion importance |coef_m| * std(pred_m), normalised",
        ]
    )
    unknown = [d for d in dimensions if d not in corpus.label_names]
    if unknown:
        raise StreamerError(
            f"the corpus has no {', '.join(unknown)} labels (it has "
            f"{', '.join(corpus.label_names)}): choose others with --dimensions"
        )
    for dimension in dimensions:
        label = corpus.label_names.index(dimension)
        delay_s = getattr(config.training, f"{dimension}_delay_s")
        parts = {"train": corpus.recordings["train"], "tuning": tuning, "test": test}
        data = {p: _stack_one(recs, modalities, delay_s, label) for p, recs in parts.items()}
        progress(f"{dimension}: SVR baselines")
        rows, baselines, late = _svr_rows(dimension, data, n_jobs, complexities)
        report.table2 += rows
        report.importance[dimension] = late.modality_importance("scaled")
        report.table3 += _dnn_rows(
            dimension, data, dims, config, runs, progress, codebook_manifests(corpus)
        )
        progress(f"{dimension}: delay grid")
        chosen = baselines.get("early") or next(iter(baselines.values()))
        best, scores = _delay_curve(corpus, tuning, modalities, label, chosen.best_c, delays_s)
        report.delays[dimension] = ([float(d) for d in delays_s], scores, best)
    return report


def n_stages(n_dimensions: int, runs: int) -> int:
    """Progress stages of :func:`evaluate`: SVR, 2 networks x runs and the delay grid each."""
    return n_dimensions * (2 + 2 * runs)


def _write_csv(path: Path, rows: list[dict], columns: Sequence[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()})


def _markdown(rows: list[dict], title: str, with_std: bool, notes: Sequence[str]) -> str:
    """One line per (model, scaling), one column per dimension and subset."""
    dims = list(dict.fromkeys(r["dimension"] for r in rows))
    keys = list(dict.fromkeys((r["model"], r["scaling"]) for r in rows))
    cell = {(r["dimension"], r["model"], r["scaling"]): r for r in rows}
    head = ["model", "scaling", *(f"{d} {s}" for d in dims for s in SUBSETS)]
    lines = [f"# {title}", "", "CCC on the Devel tuning and test subsets.", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for model, scaling in keys:
        values = []
        for d in dims:
            r = cell.get((d, model, scaling))
            for s in SUBSETS:
                if r is None:
                    values.append("")
                elif with_std and r.get("runs", 1) > 1:
                    values.append(f"{r[s]:.3f} ± {r[f'{s}_std']:.3f}")
                else:
                    values.append(f"{r[s]:.3f}")
        lines.append("| " + " | ".join([model, scaling, *values]) + " |")
    lines += ["", *(f"- {n}" for n in notes), ""]
    return "\n".join(lines)


def write_report(report: Report, out: str | Path) -> list[Path]:
    """Write ``table2``/``table3`` (.md, .csv), ``fig2_delay`` and ``fig3_modalities`` (.png,
    .csv) into ``out``; return the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = ["dimension", "model", "scaling", *SCORE_KEYS]
    _write_csv(out / "table2.csv", report.table2, base)
    _write_csv(out / "table3.csv", report.table3, [*base, "tuning_std", "test_std", "runs"])
    (out / "table2.md").write_text(
        _markdown(report.table2, "Table II: SVR baselines", False, report.notes[:1]), "utf-8"
    )
    (out / "table3.md").write_text(
        _markdown(report.table3, "Table III: early-fusion DNN and proposed fusion", True, []),
        "utf-8",
    )
    delay_rows = [
        {"dimension": d, "delay_s": x, "tuning_ccc": float(s), "best": x == best}
        for d, (grid, scores, best) in report.delays.items()
        for x, s in zip(grid, scores, strict=True)
    ]
    _write_csv(out / "fig2_delay.csv", delay_rows, ["dimension", "delay_s", "tuning_ccc", "best"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for d, (grid, scores, best) in report.delays.items():
        ax.plot(grid, scores, marker="o", label=f"{d} (best {best:.1f} s)")
    ax.set_xlabel("delay (s)")
    ax.set_ylabel("CCC, tuning subset")
    ax.set_title("Fig. 2: delay compensation (early-fusion SVR)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fig2_delay.png", dpi=100)
    plt.close(fig)

    imp_rows = [
        {"dimension": d, "modality": m, "importance": float(v)}
        for d, shares in report.importance.items()
        for m, v in shares.items()
    ]
    _write_csv(out / "fig3_modalities.csv", imp_rows, ["dimension", "modality", "importance"])
    fig, ax = plt.subplots(figsize=(6, 4))
    dims = list(report.importance)
    mods = list(dict.fromkeys(r["modality"] for r in imp_rows))
    width = 0.8 / max(len(mods), 1)
    for i, m in enumerate(mods):
        heights = [report.importance[d].get(m, 0.0) for d in dims]
        ax.bar(np.arange(len(dims)) + (i - (len(mods) - 1) / 2) * width, heights, width, label=m)
    ax.set_xticks(np.arange(len(dims)), dims)
    ax.set_ylabel("share of the late fusion output")
    ax.set_ylim(0.0, 1.0)
    ax.set_title("Fig. 3: modality importance (late fusion)")
    ax.legend(loc="upper left", ncols=len(mods))
    fig.tight_layout()
    fig.savefig(out / "fig3_modalities.png", dpi=100)
    plt.close(fig)
    names = ["table2.md", "table2.csv", "table3.md", "table3.csv", "fig2_delay.png",
             "fig2_delay.csv", "fig3_modalities.png", "fig3_modalities.csv"]  # fmt: skip
    return [out / n for n in names]


def summary(report: Report) -> str:
    """A few lines: the best test CCC per table and dimension, best delays and importance."""
    lines = []
    for d in report.importance:
        best2 = max((r for r in report.table2 if r["dimension"] == d), key=lambda r: r["tuning"])
        prop = [r for r in report.table3 if r["dimension"] == d and r["model"] == "Proposed fusion"]
        best3 = max(prop, key=lambda r: r["tuning"])
        grid, _, best_delay = report.delays[d]
        shares = ", ".join(f"{m} {v:.2f}" for m, v in report.importance[d].items())
        lines.append(
            f"{d}: best SVR {best2['model']} ({best2['scaling']}) test CCC {best2['test']:.3f}; "
            f"proposed ({best3['scaling']}) test CCC {best3['test']:.3f}; best delay "
            f"{best_delay:.1f} s; importance {shares}"
        )
    return "\n".join(lines)
