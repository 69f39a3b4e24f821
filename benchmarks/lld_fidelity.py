"""Fidelity of the numpy LLDs against openSMILE's eGeMAPSv01a LLDs on real speech.

Usage: python benchmarks/lld_fidelity.py [--shared DIR] [--limit N] [--out TABLE.md]

Both extractors get the same 16 kHz samples (the files resampled by streamer's
resampler). Frames are matched by frameTime. Per LLD it reports Pearson r and the ratio
of means (ours / openSMILE) over all EmoDB files pooled and over english_60s.wav; for the
``_sma3nz`` descriptors only frames that both call voiced (F0 > 0) count.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from streamer.config import load_config
from streamer.features.lld.extractor import LLD_NAMES, N_SMOOTHED_PLAIN, AudioLLDExtractor
from streamer.features.lld.opensmile_backend import OpenSmileLLDExtractor
from streamer.sources.media_file import read_audio

F0_COLUMN = LLD_NAMES.index("F0semitoneFrom27.5Hz_sma3nz")
TARGETS = {  # the aims: r >= 0.9 for these groups, >= 0.7 for the rest
    name: 0.9
    for name in LLD_NAMES
    if name.split("_")[0]
    in {"Loudness", "alphaRatio", "hammarbergIndex", "slope0-500", "slope500-1500",
        "spectralFlux", "mfcc1", "mfcc2", "mfcc3", "mfcc4", "F0semitoneFrom27.5Hz"}
}  # fmt: skip


def both_extractors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Our and openSMILE's LLD matrices for one file, rows matched by frame time."""
    samples, rate = read_audio(path)
    config = load_config().audio
    tables = []
    for extractor in (AudioLLDExtractor(config, rate), OpenSmileLLDExtractor(config, rate)):
        first = extractor.push(samples)
        rest = extractor.flush()
        t_s = np.concatenate([first.t_s, rest.t_s])
        values = np.concatenate([first.values, rest.values])
        tables.append((np.round(t_s * 100).astype(int), values))
    (t_ours, ours), (t_ref, ref) = tables
    common, i_ours, i_ref = np.intersect1d(t_ours, t_ref, return_indices=True)
    return ours[i_ours], ref[i_ref]


def compare(ours: np.ndarray, ref: np.ndarray) -> list[tuple[float, float, int]]:
    """Per LLD: Pearson r, ratio of means, and the number of frames compared."""
    voiced = (ours[:, F0_COLUMN] > 0) & (ref[:, F0_COLUMN] > 0)
    rows = []
    for column in range(len(LLD_NAMES)):
        keep = slice(None) if column < N_SMOOTHED_PLAIN else voiced
        a, b = ours[keep, column], ref[keep, column]
        r = float(np.corrcoef(a, b)[0, 1]) if a.size > 2 and a.std() > 0 and b.std() > 0 else np.nan
        ratio = float(a.mean() / b.mean()) if b.size and b.mean() != 0 else np.nan
        rows.append((r, ratio, int(a.size)))
    return rows


def voicing_agreement(ours: np.ndarray, ref: np.ndarray) -> float:
    """Fraction of frames where both agree on voiced versus unvoiced."""
    return float(np.mean((ours[:, F0_COLUMN] > 0) == (ref[:, F0_COLUMN] > 0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_shared = Path(__file__).resolve().parents[1].parent / "shared"
    parser.add_argument(
        "--shared", type=Path, default=Path(os.environ.get("STREAMER_SHARED", default_shared))
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N EmoDB files")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    emodb = sorted((args.shared / "data" / "emodb").glob("*.wav"))
    if args.limit:
        emodb = emodb[: args.limit]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        pairs = list(pool.map(both_extractors, emodb))
    emodb_ours = np.concatenate([p[0] for p in pairs])
    emodb_ref = np.concatenate([p[1] for p in pairs])
    speech_ours, speech_ref = both_extractors(args.shared / "media" / "speech" / "english_60s.wav")
    emodb_rows = compare(emodb_ours, emodb_ref)
    speech_rows = compare(speech_ours, speech_ref)
    lines = [
        f"| LLD | aim r | EmoDB r ({len(emodb)} files) | EmoDB mean ratio | english_60s r | english_60s mean ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, (r1, m1, _), (r2, m2, _) in zip(LLD_NAMES, emodb_rows, speech_rows, strict=True):
        aim = TARGETS.get(name, 0.7)
        flag = "" if min(r1, r2) >= aim else " (below aim)"
        lines.append(f"| `{name}` | {aim} | {r1:.3f} | {m1:.2f} | {r2:.3f} | {m2:.2f} |{flag}")
    lines.append("")
    lines.append(
        f"Voicing agreement (both voiced or both unvoiced): EmoDB {voicing_agreement(emodb_ours, emodb_ref):.3f}, "
        f"english_60s {voicing_agreement(speech_ours, speech_ref):.3f}; frames compared: EmoDB "
        f"{len(emodb_ours)}, english_60s {len(speech_ours)}."
    )
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
