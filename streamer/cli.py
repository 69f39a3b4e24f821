"""The ``streamer`` command line.

Every command takes ``--config FILE`` and ``--set section.key=value``. Errors the user
can fix are printed as one line, ``streamer: error: ...``, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from streamer import __version__
from streamer.config import load_config
from streamer.errors import StreamerError


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        config = load_config(args.config, args.overrides)
        return args.run(args, config) or 0
    except StreamerError as exc:
        print(f"streamer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("streamer: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="FILE", help="YAML file with settings that replace config.yaml's"
    )
    common.add_argument(
        "--set",
        dest="overrides",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[],
        help="override one setting, for example --set audio.backend=opensmile (repeatable)",
    )
    parser = argparse.ArgumentParser(
        prog="streamer",
        description="Real-time affect monitor: arousal, valence and liking from face, voice and words.",
    )
    parser.add_argument("--version", action="version", version=f"streamer {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    features = commands.add_parser("features", help="compute frame-level features of a recording")
    kinds = features.add_subparsers(title="feature kinds", metavar="KIND")
    audio = kinds.add_parser(
        "audio",
        parents=[common],
        help="the 23 eGeMAPS v01a acoustic LLDs every 10 ms",
        description="Write the 23 eGeMAPS v01a low-level descriptors of INPUT, one row per 10 ms, "
        "as a CSV that openXBOW reads (header name;frameTime;<LLD names>).",
    )
    audio.add_argument("input", metavar="INPUT", help="a WAV or any audio/video file FFmpeg reads")
    audio.add_argument("--out", required=True, metavar="FILE.csv", help="the CSV file to write")
    audio.add_argument(
        "--name", help="value of the CSV's name column (default: INPUT's file name without suffix)"
    )
    audio.set_defaults(run=run_features_audio)
    return parser


def run_features_audio(args: argparse.Namespace, config) -> int:
    """``streamer features audio INPUT --out FILE.csv``."""
    from streamer.feature_csv import FeatureCsvWriter
    from streamer.features.audio_lld import LLD_NAMES, iter_file_llds

    source = Path(args.input)
    started = time.perf_counter()
    with FeatureCsvWriter(
        args.out,
        LLD_NAMES,
        recording=args.name or source.stem,
        separator=config.csv.separator,
        float_digits=config.csv.float_digits,
    ) as writer:
        for frames in iter_file_llds(source, config.audio):
            writer.write(frames)
    n_rows = writer.n_rows
    elapsed = time.perf_counter() - started
    print(
        f"wrote {n_rows} frames ({n_rows / 100:.2f} s of audio, {config.audio.backend} backend) "
        f"to {args.out} in {elapsed:.2f} s",
        file=sys.stderr,
    )
    return 0
