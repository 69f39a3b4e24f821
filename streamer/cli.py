"""The ``streamer`` command line.

Every command takes ``--config FILE`` and ``--set section.key=value``. Errors the user
can fix are printed as one line, ``streamer: error: ...``, with exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import time
from pathlib import Path

from streamer import __version__
from streamer.config import load_config
from streamer.errors import StreamerError
from streamer.output_files import refuse_inputs_as_outputs
from streamer.runtime.commands import add_commands as add_runtime_commands
from streamer.status_output import quiet_when_closed


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    with quiet_when_closed() as status:
        try:
            refuse_inputs_as_outputs(
                [getattr(args, name, None) for name in OUTPUT_ARGUMENTS],
                [path for name in INPUT_ARGUMENTS for path in _paths(getattr(args, name, None))],
            )
            config = load_config(args.config, args.overrides)
            return args.run(args, config) or 0
        except StreamerError as exc:
            status.end_line()
            print(f"streamer: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            status.end_line()
            print("streamer: interrupted", file=sys.stderr)
            return 130


OUTPUT_ARGUMENTS = ("out", "csv", "plot")  # files a command writes (or its output folder)
INPUT_ARGUMENTS = ("input", "inputs", "video", "codebook", "config")  # files it reads


def _paths(value) -> list:
    """An argument's file paths: none, one, or a list (folders are not files to protect)."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if v is not None and not Path(v).is_dir()]


def _output_folder(path: str) -> Path:
    """``--out DIR`` as a folder; a one-line error when it names an existing file."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise StreamerError(f"--out {folder} is a file, not a folder: choose a folder")
    return folder


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
    _add_input_and_out(audio, "a WAV or any audio/video file FFmpeg reads", with_name=True)
    audio.set_defaults(run=run_features_audio)

    video = kinds.add_parser(
        "video",
        parents=[common],
        help="head pose, 10 eye points and 49 landmarks per video frame",
        description="Write the face features of INPUT, one row per frame: face (0/1), pitch, "
        "yaw, roll (degrees), the 10 iris points and the iBUG 49 landmarks "
        "(header name;frameTime;face;pitch;yaw;roll;eye0_x;...;lm48_y).",
    )
    _add_input_and_out(video, "a video file or a picture", with_name=True)
    video.add_argument(
        "--coords",
        choices=("pixels", "normalised"),
        help="coordinates of points: pixels, or face-centred in inter-ocular distances "
        "(default: face.coords in the config)",
    )
    video.add_argument(
        "--fps", type=float, help="process at most this many frames per second (default: all)"
    )
    video.add_argument(
        "--blendshapes", action="store_true", help="add MediaPipe's 52 blendshape scores"
    )
    video.set_defaults(run=run_features_video)

    text = kinds.add_parser(
        "text",
        parents=[common],
        help="the words spoken, with their start and end times",
        description="Recognise the words spoken in INPUT and write one row per word: "
        "header start;end;word;confidence (seconds, seconds, word, 0-1).",
    )
    _add_input_and_out(text, "a WAV or any audio/video file FFmpeg reads", with_name=False)
    text.set_defaults(run=run_features_text)

    bow = kinds.add_parser(
        "bow",
        parents=[common],
        help="rolling bags of words (AVEC 2017 layout) from feature CSVs",
        description="Quantise the frames of feature CSVs (from `streamer features audio|video|text`) "
        "against codebooks and write one file per recording to DIR: lines "
        "name;timestamp;f1;...;fN every bow.hop_s seconds, no header (the AVEC 2017 layout). "
        "A video file takes its pose, eyes and landmarks codebooks (bags side by side, in "
        "the order given); a word file takes the text vocabulary. Any other numeric CSV "
        "(';' or ',', header optional) is bagged with --attributes or --columns.",
    )
    bow.add_argument(
        "inputs", nargs="+", metavar="INPUT_CSV", help="feature CSVs, one per recording"
    )
    _add_column_selection(bow)
    bow.add_argument(
        "--codebook",
        action="append",
        required=True,
        metavar="FILE",
        help="a codebook (.npz, or openXBOW's text format) or a text vocabulary; repeatable",
    )
    bow.add_argument("--out", required=True, metavar="DIR", help="folder for the bag files")
    bow.set_defaults(run=run_features_bow)

    codebooks = commands.add_parser("codebooks", help="codebooks of the bags of words")
    codebook_commands = codebooks.add_subparsers(title="codebook commands", metavar="ACTION")
    fit = codebook_commands.add_parser(
        "fit",
        parents=[common],
        help="fit a codebook (or the text vocabulary) on feature CSVs",
        description="Fit the codebook of one feature group on the CSVs of `streamer features "
        "audio|video` (random++ or kmeans++, sizes and seed from the codebooks section of the "
        "config), or build the text vocabulary from the word CSVs of `streamer features text`. "
        "FILE ending in .npz is streamer's format; any other name gets openXBOW's text format "
        "(the vocabulary is always a text file).",
    )
    fit.add_argument(
        "--group",
        choices=("audio", "pose", "eyes", "landmarks", "text"),
        help="the feature group of streamer's CSVs (not with --attributes/--columns)",
    )
    fit.add_argument(
        "--input", nargs="+", required=True, metavar="CSV", help="training feature CSVs"
    )
    fit.add_argument("--out", required=True, metavar="FILE", help="the codebook file to write")
    fit.add_argument(
        "--size",
        type=int,
        default=0,
        metavar="N",
        help="words in the codebook (default: codebooks.<group>_size; codebooks.audio_size "
        "with --attributes/--columns)",
    )
    _add_column_selection(fit)
    fit.set_defaults(run=run_codebooks_fit)

    train = commands.add_parser(
        "train",
        parents=[common],
        help="train the proposed fusion network of each dimension on an AVEC 2017 layout corpus",
        description="Train one proposed fusion network per dimension on DIR (the AVEC 2017 "
        "layout: audio/video/text_features_xbow_6s and labels), choosing the best epoch by "
        "CCC on the Devel tuning subset, fit the scaling module and write "
        "<dimension>.pt / <dimension>.json to OUT.",
    )
    train.add_argument("--data", required=True, metavar="DIR", help="the corpus folder")
    train.add_argument("--out", required=True, metavar="DIR", help="folder for the models")
    train.add_argument(
        "--dimensions",
        help="comma-separated, e.g. arousal,valence (default: every label the corpus has)",
    )
    train.add_argument(
        "--multitask",
        action="store_true",
        help="one network with an output per dimension instead of one network per dimension",
    )
    train.set_defaults(run=run_train)

    pretrain = commands.add_parser(
        "pretrain",
        parents=[common],
        help="fit the codebooks and pretrain each branch on unimodal real data",
        description="Fit the codebooks on the training people of EmoDB, RAVDESS, KDEF, "
        "faces_lfw, EmoBank and the NRC VAD lexicon, then train each dimension's branch of "
        "each modality on one bag per utterance, photograph, sentence or word; write "
        "OUT/codebooks and OUT/branches (for training.branches).",
    )
    pretrain.add_argument(
        "--shared", required=True, metavar="DIR", help="the shared folder (holding data/)"
    )
    pretrain.add_argument("--out", required=True, metavar="DIR", help="folder for the results")
    pretrain.add_argument(
        "--seed", type=int, default=0, help="partition seed, as the demo corpus's (default 0)"
    )
    pretrain.add_argument(
        "--processes", type=int, default=2, help="processes computing frames (default 2)"
    )
    pretrain.set_defaults(run=run_pretrain)

    data = commands.add_parser("data", help="build corpora to train on")
    data_commands = data.add_subparsers(title="data commands", metavar="ACTION")
    demo = data_commands.add_parser(
        "demo-corpus",
        parents=[common],
        help="a pseudo-paired demo corpus from EmoDB speech, KDEF faces and EmoBank sentences",
        description="Build recordings of emotion-category segments (EmoDB speech, a KDEF face "
        "with a slow head wobble, EmoBank sentences as words) in OUT: media/<name>.mp4, "
        "words/<name>.csv, labels/<name>.csv (arousal and valence every 0.1 s) and "
        "manifest.json; speakers, actors and sentences disjoint between partitions.",
    )
    demo.add_argument(
        "--shared", required=True, metavar="DIR", help="the shared folder (holding data/)"
    )
    demo.add_argument("--out", required=True, metavar="DIR", help="folder for the corpus")
    demo.add_argument("--seed", type=int, default=0, help="seed of every choice (default 0)")
    demo.add_argument(
        "--recordings-per-partition",
        default="20,6,6",
        metavar="TRAIN,DEVEL,TEST",
        help="recordings in Train, Devel and Test (default 20,6,6)",
    )
    demo.add_argument(
        "--segments", type=int, default=7, help="segments (4-8 s each) per recording (default 7)"
    )
    demo.add_argument(
        "--processes", type=int, default=2, help="processes writing the MP4 files (default 2)"
    )
    demo.set_defaults(run=run_data_demo_corpus)

    evaluate = commands.add_parser(
        "evaluate",
        parents=[common],
        help="reproduce the paper's Tables II and III and Figs. 2 and 3 on a corpus",
        description="Fit the SVR baselines (unimodal, early and late fusion), the early-fusion "
        "DNN and the proposed network per dimension on DIR (the AVEC 2017 layout) and write "
        "table2/table3 (.md, .csv), fig2_delay and fig3_modalities (.png, .csv) to OUT.",
    )
    evaluate.add_argument("--data", required=True, metavar="DIR", help="the corpus folder")
    evaluate.add_argument("--out", required=True, metavar="DIR", help="folder for the report")
    evaluate.add_argument(
        "--dimensions",
        help="comma-separated, e.g. arousal,valence (default: every label the corpus has)",
    )
    evaluate.add_argument(
        "--runs", type=int, default=1, help="seeds per network in Table III (mean ± std)"
    )
    evaluate.add_argument(
        "--delays",
        help="Fig. 2 delay grid in seconds, comma-separated (default: 0, 0.5, ..., 5)",
    )
    evaluate.set_defaults(run=run_evaluate)

    models = commands.add_parser("models", help="models streamer uses")
    model_commands = models.add_subparsers(title="model commands", metavar="ACTION")
    download = model_commands.add_parser("download", help="download a model into the user cache")
    download_kinds = download.add_subparsers(title="models", metavar="MODEL")
    vosk = download_kinds.add_parser(
        "vosk",
        parents=[common],
        help="an official vosk speech model",
        description="Download the smallest official vosk model for a language into the user "
        "cache, with a progress bar and an md5 check; `speech.backend: auto` uses it from then on.",
    )
    vosk.add_argument("--lang", required=True, help="language code, e.g. en, en-us, de, fr, ko")
    vosk.add_argument("--list-url", help=argparse.SUPPRESS)  # another model list (tests, mirrors)
    vosk.set_defaults(run=run_models_download_vosk)

    devices = commands.add_parser(
        "devices",
        parents=[common],
        help="list the microphones and cameras that can be opened",
        description="List the audio inputs (for --mic) and the cameras (for --camera).",
    )
    devices.set_defaults(run=run_devices)
    add_runtime_commands(commands, common)
    return parser


def _add_input_and_out(parser: argparse.ArgumentParser, input_help: str, with_name: bool) -> None:
    parser.add_argument("input", metavar="INPUT", help=input_help)
    parser.add_argument("--out", required=True, metavar="FILE.csv", help="the CSV file to write")
    if with_name:
        parser.add_argument(
            "--name",
            help="value of the CSV's name column (default: INPUT's file name without suffix)",
        )


def run_features_audio(args: argparse.Namespace, config) -> int:
    """``streamer features audio INPUT --out FILE.csv``."""
    from streamer.features.audio_lld import LLD_NAMES, iter_file_llds

    frames = iter_file_llds(args.input, config.audio)
    n_rows, elapsed_s = _write_features(args, config, LLD_NAMES, frames)
    print(
        f"wrote {n_rows} frames ({n_rows / 100:.2f} s of audio, {config.audio.backend} backend) "
        f"to {args.out} in {elapsed_s:.2f} s",
        file=sys.stderr,
    )
    return 0


def run_features_video(args: argparse.Namespace, config) -> int:
    """``streamer features video INPUT --out FILE.csv``."""
    from streamer.features.face_features import face_column_names, iter_file_face_frames

    if args.fps is not None and args.fps <= 0:
        raise StreamerError(f"--fps must be positive, got {args.fps}")
    face = dataclasses.replace(
        config.face,
        coords=args.coords or config.face.coords,
        blendshapes=args.blendshapes or config.face.blendshapes,
    )
    names = face_column_names(face.blendshapes)
    n_faces = 0

    def counted(frames):
        nonlocal n_faces
        for frame in frames:
            n_faces += int(frame.values[0, 0])
            yield frame

    frames = counted(iter_file_face_frames(args.input, face, args.fps))
    n_rows, elapsed_s = _write_features(args, config, names, frames)
    share = n_faces / n_rows if n_rows else 0.0
    print(
        f"wrote {n_rows} frames to {args.out} in {elapsed_s:.2f} s "
        f"({n_rows / max(elapsed_s, 1e-9):.0f} frames/s); a face in {share:.1%} of them",
        file=sys.stderr,
    )
    return 0


def run_features_text(args: argparse.Namespace, config) -> int:
    """``streamer features text INPUT --out FILE.csv``."""
    from streamer.feature_csv import WordCsvWriter
    from streamer.features.speech.backends import create_recognizer
    from streamer.features.speech.transcribe import iter_file_words

    recognizer = create_recognizer(config.speech)
    print(f"speech recognition: {recognizer.name}", file=sys.stderr)
    started = time.perf_counter()
    with WordCsvWriter(args.out, config.csv.separator) as writer:
        for words in iter_file_words(args.input, recognizer):
            writer.write(words)
    elapsed_s = time.perf_counter() - started
    print(f"wrote {writer.n_rows} words to {args.out} in {elapsed_s:.2f} s", file=sys.stderr)
    return 0


def _add_column_selection(parser: argparse.ArgumentParser) -> None:
    """--attributes / --columns / --time-column: the feature columns of any numeric CSV."""
    parser.add_argument(
        "--attributes",
        metavar="SPEC",
        help="openXBOW's attribute string, a letter per column: n name, t time (s), 1-9 "
        "features of codebook 1-9, 0/c/r skipped; [k] repeats, e.g. nt1[23]",
    )
    parser.add_argument(
        "--columns",
        action="append",
        metavar="A,B,...",
        help="feature column names from the header, one option per codebook",
    )
    parser.add_argument(
        "--time-column",
        default="",
        metavar="NAME",
        help="the time column with --columns (default: frameTime, time, timestamp or time_s)",
    )


def _column_selection(args: argparse.Namespace):
    """The ColumnSelection the arguments ask for, or None for streamer's own CSVs."""
    from streamer.bow.column_selection import ColumnSelection

    if not args.attributes and not args.columns:
        if args.time_column:
            raise StreamerError("--time-column goes with --columns")
        return None
    columns = tuple(
        tuple(name.strip() for name in group.split(",") if name.strip())
        for group in args.columns or ()
    )
    return ColumnSelection(args.attributes or "", columns, args.time_column)


def run_features_bow(args: argparse.Namespace, config) -> int:
    """``streamer features bow INPUT_CSVS... --codebook FILE --out DIR``."""
    from streamer.bow.column_selection import codebook_slices, read_numeric_csv
    from streamer.bow.feature_tables import read_feature_csv
    from streamer.bow.recording_bags import (
        MANIFEST_NAME,
        recording_bags,
        write_codebook_manifest,
    )
    from streamer.feature_csv import write_bags_csv

    selection = _column_selection(args)
    slices = codebook_slices(selection) if selection else None
    folder = _output_folder(args.out)
    books = [_load_codebook_or_vocabulary(path) for path in args.codebook]
    inputs = [*args.inputs, *args.codebook]
    refuse_inputs_as_outputs([folder / MANIFEST_NAME], inputs)
    write_codebook_manifest(folder, args.codebook, books)
    started = time.perf_counter()
    for path in args.inputs:
        table = read_numeric_csv(path, selection) if selection else read_feature_csv(path)
        times_s, bags = recording_bags(table, books, config.bow, slices, config.calibration)
        out = folder / f"{table.recording}.csv"
        refuse_inputs_as_outputs([out], inputs)
        write_bags_csv(
            out, table.recording, times_s, bags, config.csv.separator, config.csv.float_digits
        )
        print(f"{out}: {len(times_s)} bags of {bags.shape[1]} words", file=sys.stderr)
    print(f"done in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


def run_codebooks_fit(args: argparse.Namespace, config) -> int:
    """``streamer codebooks fit --group G | --attributes SPEC | --columns A,B --input CSV... --out FILE``."""
    from streamer.bow.codebook import Codebook

    selection = _column_selection(args)
    if selection is None and not args.group:
        raise StreamerError(
            "say which features to fit: --group for streamer's CSVs, or --attributes/--columns"
        )
    if selection is not None and args.group:
        raise StreamerError(
            "--group is for streamer's CSVs: leave it out with --attributes/--columns"
        )
    if args.group == "text":
        return _fit_vocabulary(args, config)
    names, frames = _training_frames(args, selection)
    settings = config.codebooks
    group = args.group or ""
    size = args.size or getattr(settings, f"{group or 'audio'}_size")
    codebook = Codebook.fit(
        frames,
        n_words=size,
        generation=settings.generation,
        seed=settings.seed,
        max_frames=settings.max_training_frames,
        assignments=settings.assignments,
        feature_names=names,
        group=group,
    )
    codebook.save(args.out)
    print(
        f"wrote the {group or 'numeric'} codebook: {len(codebook.words)} words ({settings.generation}, "
        f"{len(frames)} training frames) to {args.out}",
        file=sys.stderr,
    )
    return 0


def _training_frames(args: argparse.Namespace, selection):
    """Feature names and training frames (n, d) of ``codebooks fit``."""
    import numpy as np

    from streamer.bow.column_selection import codebook_slices, read_numeric_csv
    from streamer.bow.feature_tables import GROUP_COLUMNS, read_feature_csv

    if selection is None:
        tables = [read_feature_csv(path) for path in args.input]
        frames = np.concatenate([table.group(args.group)[1] for table in tables])
        return GROUP_COLUMNS[args.group], frames
    if selection.n_codebooks != 1:
        raise StreamerError(
            f"the column selection names {selection.n_codebooks} feature groups: fit one "
            "codebook at a time (one --columns, or only the digit 1 in --attributes)"
        )
    (columns,) = codebook_slices(selection)
    tables = [read_numeric_csv(path, selection) for path in args.input]
    return tables[0].columns[columns], np.concatenate([t.values[:, columns] for t in tables])


def _fit_vocabulary(args: argparse.Namespace, config) -> int:
    """``codebooks fit --group text``: the vocabulary of the word CSVs."""
    from streamer.bow.feature_tables import read_feature_csv
    from streamer.features.speech.words import Vocabulary

    tables = [read_feature_csv(path) for path in args.input]
    transcripts = [" ".join(w.text for w in t.words) for t in tables if t.kind == "text"]
    if len(transcripts) != len(tables):
        raise StreamerError("--group text needs the word CSVs of `streamer features text`")
    vocabulary = Vocabulary.build(transcripts, config.text.vocabulary_size, config.text.min_count)
    if len(vocabulary) == 0:
        raise StreamerError(
            f"no word occurs {config.text.min_count} times or more in the {len(tables)} word "
            "CSVs: give more transcripts or lower text.min_count (nothing was written)"
        )
    vocabulary.save(args.out)
    print(f"wrote a vocabulary of {len(vocabulary)} words to {args.out}", file=sys.stderr)
    return 0


def _load_codebook_or_vocabulary(path: str):
    """A text vocabulary file when its header says so, else a codebook."""
    from streamer.bow.codebook import Codebook
    from streamer.features.speech.words import Vocabulary, is_vocabulary_file

    return Vocabulary.load(path) if is_vocabulary_file(path) else Codebook.load(path)


def run_train(args: argparse.Namespace, config) -> int:
    """``streamer train --data DIR --out DIR [--dimensions ...]``."""
    _output_folder(args.out)
    from streamer.training.datasets import load_corpus, tuning_and_test
    from streamer.training.protocol import codebook_manifests, save_trained, train_network

    corpus = load_corpus(args.data, max_pad_s=float("inf"))
    dimensions = (
        [d.strip() for d in args.dimensions.split(",")] if args.dimensions else corpus.label_names
    )
    tuning, test = tuning_and_test(corpus, config.training)
    print(
        f"corpus {args.data}: {len(corpus.recordings['train'])} train, {len(tuning)} tuning and "
        f"{len(test)} test recordings; inputs "
        + ", ".join(f"{m} {d}" for m, d in corpus.dims.items()),
        file=sys.stderr,
    )
    groups = [dimensions] if args.multitask else [[d] for d in dimensions]
    for group in groups:
        started = time.perf_counter()
        trained = train_network(corpus, tuning, test, group, config)
        path = save_trained(trained, args.out, config, codebook_manifests(corpus))
        for dimension, scores in trained.scores.items():
            print(
                f"{dimension}: CCC tuning {scores['tuning']['scaled']:.3f} "
                f"(raw {scores['tuning']['raw']:.3f}), test {scores['test']['scaled']:.3f} "
                f"(raw {scores['test']['raw']:.3f})",
                file=sys.stderr,
            )
        print(f"{path} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


def run_pretrain(args: argparse.Namespace, config) -> int:
    """``streamer pretrain --shared DIR --out DIR [--seed N] [--processes N]``."""
    from streamer.training.pretrain import run_pretraining

    started = time.perf_counter()
    log = functools.partial(print, file=sys.stderr)
    run_pretraining(args.shared, args.out, config, args.seed, max(1, args.processes), log=log)
    log(f"pretrained the branches into {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


def run_data_demo_corpus(args: argparse.Namespace, config) -> int:
    """``streamer data demo-corpus --shared DIR --out DIR [--seed N]``."""
    from streamer.training.demo_corpus import make_demo_corpus

    try:
        counts = tuple(int(c) for c in args.recordings_per_partition.split(","))
    except ValueError:
        counts = ()
    if len(counts) != 3 or min(counts) < 0:
        raise StreamerError(
            "--recordings-per-partition needs three counts TRAIN,DEVEL,TEST, got "
            f"{args.recordings_per_partition!r}"
        )
    started = time.perf_counter()
    manifest = make_demo_corpus(
        args.shared, args.out, args.seed, counts, args.segments, max(1, args.processes)
    )
    total_s = sum(r["duration_s"] for r in manifest["recordings"].values())
    print(
        f"wrote {len(manifest['recordings'])} recordings ({total_s / 60:.1f} min) to {args.out} "
        f"in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


def run_evaluate(args: argparse.Namespace, config) -> int:
    """``streamer evaluate --data DIR --out DIR [--dimensions ...] [--runs N]``."""
    _output_folder(args.out)
    from streamer.training import report as rep
    from streamer.training.datasets import load_corpus, tuning_and_test

    corpus = load_corpus(args.data, max_pad_s=float("inf"))
    dimensions = [d.strip() for d in args.dimensions.split(",")] if args.dimensions else None
    dimensions = dimensions or list(corpus.label_names)
    try:
        delays = [float(d) for d in args.delays.split(",")] if args.delays else None
    except ValueError:
        raise StreamerError(
            f"--delays needs comma-separated seconds, got {args.delays!r}"
        ) from None
    tuning, test = tuning_and_test(corpus, config.training)
    bar = rep.ProgressBar(rep.n_stages(len(dimensions), args.runs))
    result = rep.evaluate(
        corpus, tuning, test, config, dimensions, runs=args.runs,
        delays_s=delays or rep.DEFAULT_DELAYS_S, progress=bar.step,
    )  # fmt: skip
    bar.close()
    paths = rep.write_report(result, args.out)
    print(rep.summary(result))
    print(f"wrote {', '.join(p.name for p in paths)} to {args.out}", file=sys.stderr)
    return 0


def run_models_download_vosk(args: argparse.Namespace, config) -> int:
    """``streamer models download vosk --lang LANG``."""
    from streamer.features.speech import vosk_models

    path = vosk_models.download_vosk_model(args.lang, args.list_url or vosk_models.MODEL_LIST_URL)
    print(path)
    return 0


def run_devices(args: argparse.Namespace, config) -> int:
    """``streamer devices``: audio inputs and cameras."""
    from streamer.sources.camera import list_cameras
    from streamer.sources.microphone import MicrophoneError, list_audio_inputs

    print("audio inputs (set microphone.device to an index or part of a name):")
    try:
        inputs = list_audio_inputs()
    except MicrophoneError as exc:
        inputs = []
        print(f"  none: {exc}")
    for device in inputs:
        default = "  (default)" if device["is_default"] else ""
        print(
            f"  {device['index']:3d}  {device['name']}  {device['channels']} ch, "
            f"{device['default_samplerate']:.0f} Hz{default}"
        )
    if not inputs:
        print("  none found")
    print("cameras (by index):")
    cameras = list_cameras()
    for camera in cameras:
        print(
            f"  {camera['index']:3d}  {camera['width']}x{camera['height']}, {camera['fps']:.0f} frames/s"
        )
    if not cameras:
        print("  none found")
    return 0


def _write_features(args, config, names, frames) -> tuple[int, float]:
    """Write feature frames to ``args.out`` as they come; return rows written and seconds taken."""
    from streamer.feature_csv import FeatureCsvWriter

    started = time.perf_counter()
    with FeatureCsvWriter(
        args.out,
        names,
        recording=args.name or Path(args.input).stem,
        separator=config.csv.separator,
        float_digits=config.csv.float_digits,
    ) as writer:
        for batch in frames:
            writer.write(batch)
    return writer.n_rows, time.perf_counter() - started
