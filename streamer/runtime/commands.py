"""``streamer replay`` and ``streamer monitor``: a session, its sinks, and a clean stop.

Both run a :class:`~streamer.runtime.pipeline.Pipeline` and hand each estimate to the
sinks: the CSV (flushed row by row), the live window, the progress bar; the plot and the
summary come at the end. ``q`` in the window, Ctrl-C and SIGTERM stop the session the same
way as the end of a file: the workers are joined, the devices released, the CSV closed.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from streamer.errors import StreamerError


def add_commands(commands, common: argparse.ArgumentParser) -> None:
    """Register ``replay`` and ``monitor`` on the ``streamer`` sub-command parser."""
    sinks = argparse.ArgumentParser(add_help=False, parents=[common])
    sinks.add_argument("--csv", metavar="FILE", help="write one row per 0.1 s hop to FILE")
    sinks.add_argument(
        "--models", metavar="DIR",
        help="a models folder from `streamer train` (default: the shipped model)",
    )  # fmt: skip
    replay = commands.add_parser(
        "replay",
        parents=[sinks],
        help="estimate arousal, valence and liking along a recorded video",
        description="Run the whole pipeline over VIDEO (its pictures and its sound) and give "
        "an estimate every 0.1 s of media: as fast as possible with a progress bar, or at "
        "the video's own pace with --realtime; a summary at the end.",
    )
    replay.add_argument("video", metavar="VIDEO", help="a video (or audio) file")
    replay.add_argument(
        "--realtime", action="store_true", help="play at the video's own pace (as if live)"
    )
    replay.add_argument("--plot", metavar="FILE.png", help="plot the estimates into FILE.png")
    replay.add_argument(
        "--window", action="store_true", help="show the monitor window while replaying"
    )
    replay.set_defaults(run=run_replay)
    monitor = commands.add_parser(
        "monitor",
        parents=[sinks],
        help="the live session: webcam and microphone",
        description="Watch a camera and listen to a microphone, estimating every 0.1 s. The "
        "window shows the picture with the landmarks, the current values as bars, the last "
        "60 s as traces and whether a face and speech are present; q quits.",
    )
    monitor.add_argument(
        "--camera", default="0", help="camera index or device path (default 0; see `streamer devices`)"
    )  # fmt: skip
    monitor.add_argument(
        "--mic", help="microphone index or part of its name (default: microphone.device)"
    )
    monitor.add_argument(
        "--no-camera", action="store_true", help="audio only: open no camera"
    )
    monitor.add_argument("--no-mic", action="store_true", help="video only: open no microphone")
    monitor.add_argument(
        "--no-window", action="store_true", help="run headless (log to --csv, print a summary)"
    )
    monitor.set_defaults(run=run_monitor)


def run_replay(args: argparse.Namespace, _config=None) -> int:
    """``streamer replay VIDEO [--realtime] [--csv FILE] [--plot FILE.png] [--window]``."""
    from streamer.runtime.session import load_session_model, replay_session, session_config
    from streamer.sources.media_file import probe_media

    config = session_config(args.config, args.overrides, args.models)
    model = load_session_model(config)
    _, _, duration_s = probe_media(args.video)
    pipeline = replay_session(args.video, config, model, realtime=args.realtime)
    return _run_session(args, config, model, pipeline, duration_s, window=args.window)


def run_monitor(args: argparse.Namespace, _config=None, open_camera=None) -> int:
    """``streamer monitor [--camera N] [--mic NAME|N] [--csv FILE] [--no-window]``.

    ``open_camera(camera)`` replaces the camera source (tests feed a video through it).
    """
    from streamer.runtime.session import live_session, load_session_model, session_config

    config = session_config(args.config, args.overrides, args.models)
    model = load_session_model(config)
    if args.no_camera and args.no_mic:
        raise StreamerError("--no-camera and --no-mic leave nothing to watch: drop one of them")
    if not args.no_window:
        from streamer.runtime.display import check_display

        check_display()
    camera = None if args.no_camera else args.camera
    microphone = None if args.no_mic else (args.mic if args.mic is not None else config.microphone.device)
    pipeline = live_session(config, model, camera, microphone, open_camera=open_camera)
    return _run_session(args, config, model, pipeline, None, window=not args.no_window)


def _run_session(args, config, model, pipeline, duration_s, window: bool) -> int:
    """Feed every estimate to the sinks until the media end or a stop is asked for."""
    from streamer.runtime.display import MonitorWindow, TraceHistory, render_monitor
    from streamer.runtime.model_bundle import describe
    from streamer.runtime.sinks import EstimateCsvWriter, ReplayProgress, plot_estimates, summarise

    print(describe(model), file=sys.stderr)
    estimates, history = [], TraceHistory()
    stopped_by: list[str] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(_stop_on_signals(pipeline, stopped_by))
        stack.callback(pipeline.close)
        writer = None
        if args.csv:
            writer = stack.enter_context(
                EstimateCsvWriter(args.csv, config.csv.separator, config.csv.float_digits)
            )
        view = stack.enter_context(MonitorWindow()).open() if window else None
        progress = None if view is not None else ReplayProgress(duration_s)
        for estimate in pipeline:
            estimates.append(estimate)
            if writer is not None:
                writer.write(estimate)
            if progress is not None:
                progress.update(estimate.t_s)
            if view is not None:
                history.push(estimate)
                image, landmarks = pipeline.latest_view or (None, None)
                status = f"q: quit | dropped {sum(pipeline.dropped().values())}"
                if pipeline.stats.errors:
                    status += f" | {pipeline.stats.errors[-1]}"
                if view.show(render_monitor(image, landmarks, history, status_text=status)):
                    stopped_by.append("q")
                    break
        if progress is not None:
            progress.close()
    stats = pipeline.stats
    print(summarise(estimates, duration_s, stats.n_dropped), file=sys.stderr)
    if args.csv:
        print(f"wrote {len(estimates)} rows to {args.csv}", file=sys.stderr)
    if getattr(args, "plot", None):
        plot_estimates(estimates, args.plot, title=str(getattr(args, "video", "")))
        print(f"wrote the plot {args.plot}", file=sys.stderr)
    if stopped_by:
        print(f"stopped by {stopped_by[0]}", file=sys.stderr)
    if stats.errors and duration_s is not None:  # a replay whose file broke off
        raise StreamerError(stats.errors[0] + " (the rows before it are kept)")
    for error in stats.errors:
        print(f"streamer: warning: {error}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _stop_on_signals(pipeline, stopped_by: list[str]):
    """While active, SIGINT (Ctrl-C) and SIGTERM stop the pipeline cleanly (their names are
    appended to ``stopped_by``); the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, _frame):
        stopped_by.append(signal.Signals(signum).name)
        pipeline.stop()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
