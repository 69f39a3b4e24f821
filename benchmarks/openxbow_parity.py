"""streamer's bags against the real openXBOW jar, run as an external program.

Usage: python -m benchmarks.openxbow_parity [--jar FILE] [--frames N]

For each setting (codebook generation, assignments ``a``, ``-log``, input scaling, regular
or irregular timestamps) it writes 23 random-walk LLD columns to a CSV, lets the jar make a
codebook and centred bags (``-attributes nt1[23] -size 50 -t 6.0 0.1 -B codebook``), runs
``streamer features bow`` on the same CSV with that codebook (``--attributes nt1[23]``,
``bow.window=centred``, ``bow.normalise=false``) and prints the rows compared and the
largest absolute difference. Exit status 1 if any bag differs by more than 1e-6 or the
row counts differ.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.cli import main as streamer_main

N_FEATURES = 23
N_WORDS = 50
TOLERANCE = 1e-6
GENERATIONS = ("random++", "kmeans++")
ASSIGNMENTS = (1, 5, 20)
SCALINGS = ("-standardizeInput", "-normalizeInput", "")


@dataclass(frozen=True)
class Setting:
    generation: str
    assignments: int
    log: bool
    scaling: str  # an openXBOW option or "" for none
    irregular: bool  # jittered frame steps, first frame at 0.37 s

    def label(self) -> str:
        return (
            f"{self.generation} a={self.assignments} {'-log' if self.log else 'counts'} "
            f"{self.scaling or 'unscaled'} {'irregular' if self.irregular else 'regular'}"
        )


def default_jar() -> Path:
    shared = Path(os.environ.get("STREAMER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return shared / "tools" / "openxbow" / "openXBOW.jar"


def jar_runnable(jar: Path) -> str:
    """Why the jar cannot be run here, or "" when it can."""
    if shutil.which("java") is None:
        return "java is not installed (apt-get install openjdk-17-jre-headless)"
    if not jar.is_file():
        return f"the openXBOW jar {jar} is absent"
    return ""


def write_llds(path: Path, n_frames: int, irregular: bool, seed: int) -> None:
    """Random-walk LLDs in openXBOW's CSV layout: header, then 'name';time;f1..f23."""
    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.normal(size=(n_frames, N_FEATURES)), axis=0)
    if irregular:
        t_s = 0.37 + np.cumsum(rng.uniform(0.004, 0.03, size=n_frames))
    else:
        t_s = np.arange(n_frames) * 0.01
    header = ";".join(["name", "frameTime", *(f"f{i}" for i in range(N_FEATURES))])
    rows = [
        ";".join(["'rec'", f"{t:.4f}", *(f"{v:.6f}" for v in row)])
        for t, row in zip(t_s, values, strict=True)
    ]
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def compare(setting: Setting, jar: Path, work: Path, n_frames: int, seed: int = 1):
    """(rows of the jar, rows of streamer, max abs difference) for one setting."""
    work.mkdir(parents=True, exist_ok=True)
    llds, codebook, jar_bags = work / "llds.csv", work / "codebook.txt", work / "jar.csv"
    write_llds(llds, n_frames, setting.irregular, seed)
    command = [
        "java", "-jar", str(jar), "-i", str(llds), "-o", str(jar_bags),
        "-attributes", f"nt1[{N_FEATURES}]", "-size", str(N_WORDS),
        "-a", str(setting.assignments), "-c", setting.generation,
        "-t", "6.0", "0.1", "-B", str(codebook),
    ]  # fmt: skip
    command += ["-log"] if setting.log else []
    command += [setting.scaling] if setting.scaling else []
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    expected = np.loadtxt(jar_bags, delimiter=";", ndmin=2)
    out = work / "streamer"
    status = streamer_main(
        [
            "features", "bow", str(llds), "--attributes", f"nt1[{N_FEATURES}]",
            "--codebook", str(codebook), "--out", str(out),
            "--set", "bow.window=centred", "--set", "bow.normalise=false",
            "--set", f"bow.weighting={'log' if setting.log else 'counts'}",
            "--set", "csv.float_digits=9",
        ]
    )  # fmt: skip
    if status != 0:
        raise RuntimeError(f"streamer features bow failed for {setting.label()}")
    ours = np.loadtxt(out / "rec.csv", delimiter=";", ndmin=2, usecols=range(2, 2 + N_WORDS))
    n = min(len(expected), len(ours))
    return len(expected), len(ours), float(np.abs(expected[:n] - ours[:n]).max())


def all_settings() -> list[Setting]:
    return [
        Setting(*values)
        for values in itertools.product(
            GENERATIONS, ASSIGNMENTS, (True, False), SCALINGS, (False, True)
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jar", type=Path, default=default_jar())
    parser.add_argument("--frames", type=int, default=3000, help="LLD frames per file")
    parser.add_argument("--work", type=Path, default=Path("openxbow_parity_work"))
    args = parser.parse_args(argv)
    reason = jar_runnable(args.jar)
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    print("| setting | rows (jar) | rows (streamer) | max abs difference |")
    print("| --- | ---: | ---: | ---: |")
    worst, same_rows = 0.0, True
    for setting in all_settings():
        n_jar, n_ours, difference = compare(setting, args.jar, args.work, args.frames)
        worst, same_rows = max(worst, difference), same_rows and n_jar == n_ours
        print(f"| {setting.label()} | {n_jar} | {n_ours} | {difference:.1e} |", flush=True)
    print(f"largest difference {worst:.1e} (tolerance {TOLERANCE:.0e}); rows equal: {same_rows}")
    return 0 if worst <= TOLERANCE and same_rows else 1


if __name__ == "__main__":
    sys.exit(main())
