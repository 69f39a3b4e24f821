"""Speed, latency and memory of the streaming runtime on talking-head video.

Usage: python -m benchmarks.bench_runtime [--shared ../shared] [--soak-min 30] [--skip-soak]
       [--phases abc] [--realtime-s 60] [--realtime-media FILE] [--profile]
       [--ahead-hops 200] [--set KEY=VALUE ...] [--out FILE.md]

(a) Fast replay of >= 60 s of talking heads (the five ``<shared>/media/talking_heads``
    videos joined with :func:`join_videos`, repeated): wall time, real-time factor (media
    s / wall s), each stage's time (``PipelineStats.stage_s``), the CPU time of every
    pipeline thread and of the speech child process, peak memory, hops, drops. References
    measured in the same run on the same file: video decoding alone, the face tracker
    alone, the audio stage alone, the speech recogniser alone (in this process); and the
    same replay with every frame tracked (``runtime.face_fps=0``) and with the pipeline's
    ``_AHEAD_HOPS`` raised to ``--ahead-hops`` (an experiment: the module constant is
    patched for that run).
(b) Real-time replay (``--realtime-s`` of the same file): latency from the end of each hop
    to its estimate (median, p95), hops each modality was late, drops, and the
    recogniser's end-of-word delay (from a word's end to its text bag, wall clock) and CPU
    share. ``--realtime-media`` replays that file instead (e.g. ``english_60s.wav``).
(c) Soak: fast replay of ``--soak-min`` minutes of media, memory (VmRSS of this process and
    of the speech child) sampled every 10 s of wall time; growth from warm-up (10 % of the
    media) to the end.

The machine's load is measured over each phase from /proc/stat (all CPU time spent by
anyone) minus our own (this process and its children), so a run beside other work can be
read correctly. ``--profile`` adds a cProfile run of (a), one profile per pipeline thread.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from streamer.runtime.session import load_session_model, replay_session, session_config
from streamer.sources.media_file import iter_audio_blocks, iter_video_frames, probe_media
from streamer.sources.media_writer import join_videos

TICK_S = os.sysconf("SC_CLK_TCK")


# ---- measuring -----------------------------------------------------------------------
def _status_kb(pid: int | str, key: str) -> float | None:
    """A field of /proc/<pid>/status in KB (VmRSS, VmHWM), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _thread_cpu_s(native_id: int) -> float | None:
    """User + system CPU time of one thread of this process (s), None when it has ended."""
    try:
        with open(f"/proc/self/task/{native_id}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK_S


def _process_cpu_s(pid: int | str) -> float | None:
    """User + system CPU time of a process (all its threads; s), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK_S


def _machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as file:
        values = [int(v) for v in file.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK_S, sum(values[:8]) / TICK_S


class Meter:
    """Wall time, our CPU time (self + waited children) and the machine's over one phase."""

    def __enter__(self) -> Meter:
        self.load_before = os.getloadavg()[0]
        self.wall0 = time.perf_counter()
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self.children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.machine0 = _machine_cpu_s()
        return self

    def __exit__(self, *exc) -> None:
        self.wall_s = time.perf_counter() - self.wall0
        s, c = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        self.self_cpu_s = s.ru_utime + s.ru_stime - self.self0.ru_utime - self.self0.ru_stime
        self.child_cpu_s = (
            c.ru_utime + c.ru_stime - self.children0.ru_utime - self.children0.ru_stime
        )
        busy, total = _machine_cpu_s()
        self.machine_busy_s = busy - self.machine0[0]
        self.n_cores = (total - self.machine0[1]) / max(self.wall_s, 1e-9)
        self.others_cpu_s = max(self.machine_busy_s - self.self_cpu_s - self.child_cpu_s, 0.0)
        self.load_after = os.getloadavg()[0]
        self.rss_after_mb = _status_kb("self", "VmRSS") / 1024
        self.self_maxrss_mb = s.ru_maxrss / 1024
        self.child_maxrss_mb = c.ru_maxrss / 1024

    def load_line(self) -> str:
        return (
            f"machine load: {self.machine_busy_s / self.wall_s:.2f} of {self.n_cores:.1f} cores busy "
            f"(ours {(self.self_cpu_s + self.child_cpu_s) / self.wall_s:.2f}, other processes "
            f"{self.others_cpu_s / self.wall_s:.2f}); 1-min load average "
            f"{self.load_before:.1f} before, {self.load_after:.1f} after; this process's RSS "
            f"at the end {self.rss_after_mb:.0f} MB"
        )


class Sampler(threading.Thread):
    """Samples memory (and the CPU time of the pipeline's threads) every ``interval_s``."""

    def __init__(self, pipeline, interval_s: float):
        super().__init__(daemon=True)
        self.pipeline, self.interval_s = pipeline, interval_s
        self.media_s = 0.0  # the latest estimate's time, set by the consumer
        self.samples: list[tuple[float, float, float, float | None]] = []  # wall, media, MB, MB
        self.thread_cpu_s: dict[str, float] = {}
        self.child_hwm_mb: float | None = None
        self.cpu: list[tuple[float, float, float | None]] = []  # wall, main CPU, child CPU (s)
        self._done = threading.Event()
        self._wall0 = time.perf_counter()

    def run(self) -> None:
        while not self._done.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        for thread in list(self.pipeline._threads) + [threading.main_thread()]:
            cpu_s = _thread_cpu_s(thread.native_id) if thread.native_id else None
            if cpu_s is not None:
                self.thread_cpu_s[thread.name] = cpu_s
        pid = self._child_pid()
        child_mb = _status_kb(pid, "VmRSS") if pid else None
        hwm = _status_kb(pid, "VmHWM") if pid else None
        if hwm is not None:
            self.child_hwm_mb = hwm / 1024
        wall_s = time.perf_counter() - self._wall0
        self.cpu.append((wall_s, _process_cpu_s("self"), _process_cpu_s(pid) if pid else None))
        rss_mb = _status_kb("self", "VmRSS") / 1024
        self.samples.append((wall_s, self.media_s, rss_mb, child_mb and child_mb / 1024))

    def recogniser_alone_s(self) -> float:
        """Wall seconds in which the speech child worked (> 0.8 core) and this process
        hardly did (< 0.1 core): the workers waiting for the recogniser's results."""
        alone = 0.0
        for (w0, m0, c0), (w1, m1, c1) in zip(self.cpu, self.cpu[1:], strict=False):
            if None in (c0, c1) or w1 <= w0:
                continue
            if (c1 - c0) / (w1 - w0) > 0.8 and (m1 - m0) / (w1 - w0) < 0.1:
                alone += w1 - w0
        return alone

    def _child_pid(self) -> int | None:
        speech = self.pipeline._speech  # private, acceptable in a benchmark
        return speech._process.pid if speech is not None else None

    def stop(self) -> None:
        self._done.set()
        self.join()


def _pct(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def run_pipeline(path, config, model, realtime, stop_at_s=None, interval_s=0.5, keep=True):
    """Iterate a replay; returns (estimates, pipeline, meter, sampler, first_estimate_wall_s).

    ``keep=False`` keeps no estimates (a soak must not grow its own memory).
    """
    pipeline = replay_session(path, config, model, realtime=realtime)
    sampler = Sampler(pipeline, interval_s)
    estimates, first_s = [], None
    with Meter() as meter:
        sampler.start()
        iterator = iter(pipeline)
        for estimate in iterator:
            if first_s is None:
                first_s = time.perf_counter() - meter.wall0
            if keep:
                estimates.append(estimate)
            sampler.media_s = estimate.t_s
            if stop_at_s is not None and estimate.t_s >= stop_at_s:
                break
        sampler.sample()  # the workers have ended; the child process not yet stopped
        iterator.close()
        pipeline.close()
        sampler.stop()
    return estimates, pipeline, meter, sampler, first_s


# ---- references ------------------------------------------------------------------------
def reference_times(path, config) -> dict[str, float]:
    """Seconds of each component alone over the same file, in this process."""
    from streamer.features.face.tracker import FaceTracker
    from streamer.features.lld.resample import StreamingResampler
    from streamer.features.speech.backends import create_recognizer
    from streamer.runtime.modality_stages import AudioStage

    out = {}
    decode_s = track_s = 0.0
    n_frames = n_kept = 0  # all frames; those the pipeline tracks (runtime.face_fps)
    fps, next_s = config.runtime.face_fps, float("-inf")
    with FaceTracker(config.face) as tracker:
        frames = iter_video_frames(path)
        while True:
            started = time.perf_counter()
            frame = next(frames, None)
            decoded = time.perf_counter()
            if frame is None:
                break
            tracker.process(frame)
            track_s += time.perf_counter() - decoded
            decode_s += decoded - started
            n_frames += 1
            if frame.t_s >= next_s:  # the pipeline's rule (pipeline.py, media_file.py)
                n_kept += 1
                next_s = frame.t_s + 1.0 / fps - 1e-6 if fps else frame.t_s
    out.update(video_decode=decode_s, face_tracker=track_s, n_frames=n_frames, n_kept=n_kept)

    started = time.perf_counter()
    blocks = list(iter_audio_blocks(path))
    out["audio_decode"] = time.perf_counter() - started
    model = load_session_model(config)
    stage = AudioStage(model.codebooks["audio"], config.audio, config.bow, config.calibration)
    resampler = StreamingResampler(blocks[0].sample_rate_hz, 16000)
    stage_s = resample_s = 0.0
    lags_s, pieces = [], []
    for block in blocks:  # as the audio worker does it, block by block
        started = time.perf_counter()
        rows = stage.push(block)
        resampled = time.perf_counter()
        pieces.append(resampler.push(block.samples))
        resample_s += time.perf_counter() - resampled
        stage_s += resampled - started
        end_s = block.t_s + len(block.samples) / block.sample_rate_hz
        lags_s += [end_s - (rows.first_hop + i) * config.bow.hop_s for i in range(len(rows))]
    stage.flush()
    pieces.append(resampler.flush())
    out.update(audio_stage=stage_s, resample=resample_s, audio_lag_s=np.array(lags_s))
    out["n_blocks"], out["block_s"] = len(blocks), len(blocks[0].samples) / blocks[0].sample_rate_hz

    def recognise(recognizer) -> float:  # the 16 kHz pieces the child would get
        started = time.perf_counter()
        t_s = 0.0
        for piece in pieces:
            recognizer.push(piece, t_s)
            recognizer.pull()
            t_s += len(piece) / 16000
        recognizer.flush()
        return time.perf_counter() - started

    recognizer = create_recognizer(config.speech)
    out["speech_recogniser"] = recognise(recognizer)
    if recognizer.name.startswith("pocketsphinx"):  # PocketSphinx's own decoder settings
        from streamer.features.speech.pocketsphinx_backend import PocketsphinxRecognizer

        out["pocketsphinx_defaults"] = recognise(PocketsphinxRecognizer(decoder_settings={}))
    out["speech_name"] = recognizer.name
    return out


# ---- profiling ---------------------------------------------------------------------------
def profile_replay(path, config, model, top: int = 12) -> str:
    """cProfile of a fast replay: one profile per pipeline thread (worker ``_run``s patched)."""
    pipeline = replay_session(path, config, model, realtime=False)
    profiles: dict[str, cProfile.Profile] = {}

    def worker(name, work):  # replaces the instance's _run: one profile per worker thread
        profile = profiles[f"{name} worker"] = cProfile.Profile()
        profile.runcall(type(pipeline)._run, pipeline, name, work)

    def text_worker():
        profile = profiles["text worker"] = cProfile.Profile()
        profile.runcall(type(pipeline)._text_worker, pipeline)

    pipeline._run, pipeline._text_worker = worker, text_worker  # private, in a benchmark only
    main_profile = profiles["main (fusion)"] = cProfile.Profile()
    main_profile.runcall(lambda: sum(1 for _ in pipeline))
    text = []
    for name, profile in profiles.items():
        stream = io.StringIO()
        stats = pstats.Stats(profile, stream=stream).sort_stats("tottime")
        stats.print_stats(top)
        body = stream.getvalue()
        body = body[body.find("   ncalls") :] if "   ncalls" in body else body
        text.append(f"#### thread: {name}\n\n```\n{body.rstrip()}\n```\n")
    return "\n".join(text)


# ---- report --------------------------------------------------------------------------------
def make_media(shared: Path, workdir: Path, min_s: float, name: str) -> tuple[Path, float]:
    videos = sorted((shared / "media" / "talking_heads").glob("*.mp4"))
    pass_s = sum(probe_media(v)[2] for v in videos)
    repeat = max(1, math.ceil(min_s / pass_s))
    path = workdir / name
    started = time.perf_counter()
    duration_s = join_videos(videos, path, repeat=repeat)
    print(
        f"  wrote {path.name}: {len(videos)} videos x {repeat} = {duration_s:.1f} s "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return path, duration_s


def table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fast_replay_report(path, media_s, config, model, variants=()) -> list[str]:
    estimates, pipe, meter, sampler, first_s = run_pipeline(path, config, model, False)
    stats, wall = pipe.stats, meter.wall_s
    n_frames = int(round(media_s * 25))
    out = ["## (a) Fast replay", ""]
    out.append(
        f"media {media_s:.1f} s ({n_frames} frames at 25/s, {path.name}); "
        f"speech recogniser: {pipe._speech.name if pipe._speech else 'none'}; "
        f"runtime.face_fps = {config.runtime.face_fps:g}, latency_budget_s = "
        f"{config.runtime.latency_budget_s:g} s"
    )
    out.append("")
    steady = media_s / max(wall - first_s, 1e-9)
    rows = [
        ("wall time", f"{wall:.1f} s"),
        ("real-time factor (media s / wall s)", f"**{media_s / wall:.2f}x** faster than real time"),
        ("start-up (to the first estimate)", f"{first_s:.1f} s"),
        ("after start-up", f"{steady:.2f}x"),
        ("hops", f"{stats.n_hops} (expected {round(media_s / config.bow.hop_s)})"),
        ("hops with a face / with speech", f"{stats.n_face_hops} / {stats.n_speech_hops}"),
        ("words recognised", stats.n_words),
        ("dropped", pipe.dropped()),
        ("late (n_late)", stats.n_late or "none"),
        (
            "latency from read to estimate, median / p95",
            f"{_pct([e.latency_ms for e in estimates], 50):.0f} / "
            f"{_pct([e.latency_ms for e in estimates], 95):.0f} ms",
        ),
        (
            "CPU: main process / speech child",
            f"{meter.self_cpu_s:.1f} s / {meter.child_cpu_s:.1f} s",
        ),
        (
            "CPU per media second (both)",
            f"{(meter.self_cpu_s + meter.child_cpu_s) / media_s:.3f} s",
        ),
        ("peak RSS main (ru_maxrss, lifetime)", f"{meter.self_maxrss_mb:.0f} MB"),
        ("peak RSS main during the run (sampled)", f"{max(s[2] for s in sampler.samples):.0f} MB"),
        ("peak RSS speech child (VmHWM)", f"{sampler.child_hwm_mb or float('nan'):.0f} MB"),
        (
            "wall s in which only the recogniser worked (child > 0.8 core, main < 0.1)",
            f"{sampler.recogniser_alone_s():.1f} s",
        ),
    ]
    out += [table(rows, ("", "value")), "", meter.load_line(), ""]

    stage_rows = []
    for stage, seconds in sorted(stats.stage_s.items(), key=lambda kv: -kv[1]):
        stage_rows.append(
            (
                f"stage_s[{stage}] (wall, in its thread)",
                f"{seconds:.2f}",
                f"{100 * seconds / wall:.0f} %",
                f"{seconds / media_s:.3f}",
            )
        )
    stage_rows.append(
        (
            "speech child process (CPU)",
            f"{meter.child_cpu_s:.2f}",
            f"{100 * meter.child_cpu_s / wall:.0f} %",
            f"{meter.child_cpu_s / media_s:.3f}",
        )
    )
    for name, cpu_s in sorted(sampler.thread_cpu_s.items()):
        stage_rows.append(
            (
                f"thread {name} (CPU)",
                f"{cpu_s:.2f}",
                f"{100 * cpu_s / wall:.0f} %",
                f"{cpu_s / media_s:.3f}",
            )
        )
    other = meter.self_cpu_s - sum(sampler.thread_cpu_s.values())
    stage_rows.append(
        (
            "other threads of the main process (MediaPipe, FFmpeg, pipes; CPU)",
            f"{other:.2f}",
            f"{100 * other / wall:.0f} %",
            f"{other / media_s:.3f}",
        )
    )
    out += ["Where the time goes (threads run in parallel; % of the wall time):", ""]
    out += [table(stage_rows, ("stage", "s", "% of wall", "s per media s")), ""]

    for label, variant, ahead_hops in variants:  # the same replay with other settings
        from streamer.runtime import pipeline as pipeline_module

        default_ahead = pipeline_module._AHEAD_HOPS
        pipeline_module._AHEAD_HOPS = ahead_hops or default_ahead  # an experiment only
        try:
            _, v_pipe, v_meter, v_sampler, _ = run_pipeline(path, variant, model, False)
        finally:
            pipeline_module._AHEAD_HOPS = default_ahead
        out.append(
            f"Same replay with {label}: wall {v_meter.wall_s:.1f} s, **{media_s / v_meter.wall_s:.2f}x** "
            f"real time; CPU main {v_meter.self_cpu_s:.1f} s, speech child "
            f"{v_meter.child_cpu_s:.1f} s; stage_s[face] {v_pipe.stats.stage_s.get('face', 0):.1f} s; "
            f"recogniser alone {v_sampler.recogniser_alone_s():.1f} s; {v_meter.load_line()}"
        )
        out.append("")

    with Meter() as ref_meter:
        refs = reference_times(path, config)
    n, kept = refs["n_frames"], refs["n_kept"]
    ref_rows = [
        (
            "video decode alone",
            f"{refs['video_decode']:.2f}",
            f"{1000 * refs['video_decode'] / n:.2f} ms/frame",
            f"{n / refs['video_decode']:.0f} frames/s",
        ),
        (
            "face tracker alone",
            f"{refs['face_tracker']:.2f}",
            f"{1000 * refs['face_tracker'] / n:.2f} ms/frame",
            f"{n / refs['face_tracker']:.0f} frames/s",
        ),
        (
            f"pipeline face stage ({kept} frames tracked, face_fps)",
            f"{stats.stage_s.get('face', 0):.2f}",
            f"{1000 * stats.stage_s.get('face', 0) / kept:.2f} ms/frame",
            f"{stats.stage_s.get('face', 0) / kept / (refs['face_tracker'] / n):.2f}x "
            "the tracker alone per frame",
        ),
        (
            "audio decode alone",
            f"{refs['audio_decode']:.2f}",
            "",
            f"RTF {refs['audio_decode'] / media_s:.4f}",
        ),
        (
            "audio stage alone (LLD + bags)",
            f"{refs['audio_stage']:.2f}",
            "",
            f"RTF {refs['audio_stage'] / media_s:.4f}",
        ),
        (
            "resampling to 16 kHz for the recogniser alone",
            f"{refs['resample']:.2f}",
            "",
            f"RTF {refs['resample'] / media_s:.4f}",
        ),
        (
            "pipeline audio_lld stage",
            f"{stats.stage_s.get('audio_lld', 0):.2f}",
            "",
            f"{stats.stage_s.get('audio_lld', 0) / refs['audio_stage']:.2f}x the stage alone",
        ),
        (
            f"speech recogniser alone ({refs['speech_name']})",
            f"{refs['speech_recogniser']:.2f}",
            "",
            f"RTF {refs['speech_recogniser'] / media_s:.3f}",
        ),
        *(
            [
                (
                    "PocketSphinx with its default decoder settings alone",
                    f"{refs['pocketsphinx_defaults']:.2f}",
                    "",
                    f"RTF {refs['pocketsphinx_defaults'] / media_s:.3f}",
                )
            ]
            if "pocketsphinx_defaults" in refs
            else []
        ),
        (
            "pipeline speech child (CPU)",
            f"{meter.child_cpu_s:.2f}",
            "",
            f"{meter.child_cpu_s / refs['speech_recogniser']:.2f}x the recogniser alone",
        ),
    ]
    lag = refs["audio_lag_s"]
    out.append(
        f"Audio stage lag (block ends at t + lag when hop t comes out; {refs['n_blocks']} "
        f"blocks of {1000 * refs['block_s']:.0f} ms): min {lag.min():.3f}, median "
        f"{np.median(lag):.3f}, max {lag.max():.3f} s. In real time a hop's audio bag "
        f"cannot arrive within latency_budget_s = {config.runtime.latency_budget_s} s."
    )
    out.append("")
    total = refs["video_decode"] + refs["face_tracker"] * kept / n + refs["audio_decode"]
    total += refs["audio_stage"] + refs["resample"] + refs["speech_recogniser"]
    out += ["References measured in the same run, one component at a time in this process:", ""]
    out += [table(ref_rows, ("component", "s", "per frame", "rate / ratio")), ""]
    out.append(
        f"sum of the components alone (the tracker on the {kept} tracked frames): "
        f"{total:.1f} s = {total / media_s:.3f} s per media s; on 2 free cores at best "
        f"about {2 * media_s / total:.1f}x real time, and the recogniser alone caps a "
        f"replay at {media_s / refs['speech_recogniser']:.1f}x."
    )
    out += ["", "references: " + ref_meter.load_line(), ""]
    return out


def realtime_report(path, seconds, config, model) -> list[str]:
    estimates, pipe, meter, sampler, first_s = run_pipeline(path, config, model, True, seconds)
    stats = pipe.stats
    latency = np.array([e.latency_ms for e in estimates])
    delays = np.array(stats.word_delays_s)
    media_s = estimates[-1].t_s if estimates else 0.0
    rows = [
        ("speech recogniser", pipe._speech.name if pipe._speech else "none"),
        (
            "media replayed",
            f"{media_s:.1f} s in {meter.wall_s:.1f} s wall (start-up {first_s:.1f} s)",
        ),
        ("hops", stats.n_hops),
        ("latency, end of hop to estimate: median", f"{_pct(latency, 50):.1f} ms"),
        (
            "  p95 / p99 / max",
            f"**{_pct(latency, 95):.1f}** / {_pct(latency, 99):.1f} / {latency.max():.1f} ms",
        ),
        (
            "  hops over 100 ms",
            f"{int((latency > 100).sum())} ({100 * np.mean(latency > 100):.1f} %)",
        ),
        ("hops late, by modality (n_late)", stats.n_late or "none"),
        ("dropped", pipe.dropped()),
        ("words recognised", stats.n_words),
        (
            "recogniser end-of-word delay, median / p95 / max",
            f"{_pct(delays, 50):.2f} / {_pct(delays, 95):.2f} / "
            f"{delays.max() if delays.size else float('nan'):.2f} s",
        ),
        (
            "CPU: main process / speech child (share of one core over the wall time)",
            f"{meter.self_cpu_s:.1f} s / {meter.child_cpu_s:.1f} s "
            f"({100 * meter.child_cpu_s / meter.wall_s:.0f} %)",
        ),
        (
            "peak RSS main (sampled) / speech child (VmHWM)",
            f"{max(s[2] for s in sampler.samples):.0f} MB / {sampler.child_hwm_mb or float('nan'):.0f} MB",
        ),
    ]
    return ["## (b) Real-time replay", "", table(rows, ("", "value")), "", meter.load_line(), ""]


def soak_report(path, media_s, config, model) -> list[str]:
    _, pipe, meter, sampler, first_s = run_pipeline(
        path, config, model, False, interval_s=10.0, keep=False
    )
    samples = sampler.samples
    warm = next((s for s in samples if s[1] >= 0.1 * media_s), samples[0])
    # the end: the last sample before the workers wind down (they free memory as they end)
    running = [s for s in samples if s[1] < min(0.98 * media_s, media_s - 30)] or samples
    end = running[-1]
    after = [s for s in running if s[1] >= warm[1]]
    slope = (
        np.polyfit([s[1] for s in after], [s[2] for s in after], 1)[0] * 600
        if len(after) > 2
        else float("nan")
    )
    children = [s for s in after if s[3] is not None]
    child_growth = children[-1][3] - children[0][3] if children else float("nan")
    rows = [
        ("media", f"{media_s / 60:.1f} min"),
        ("wall time", f"{meter.wall_s / 60:.1f} min"),
        ("real-time factor", f"**{media_s / meter.wall_s:.2f}x**"),
        ("hops (expected)", f"{pipe.stats.n_hops} ({round(media_s / config.bow.hop_s)})"),
        ("dropped / late", f"{pipe.dropped()} / {pipe.stats.n_late or 'none'}"),
        ("words recognised", pipe.stats.n_words),
        (f"RSS main after warm-up (media {warm[1]:.0f} s)", f"{warm[2]:.1f} MB"),
        (
            f"RSS main at the end (media {end[1]:.0f} s; before the workers wind down)",
            f"{end[2]:.1f} MB",
        ),
        (
            "growth, main",
            f"**{end[2] - warm[2]:+.1f} MB** (highest after warm-up "
            f"{max(s[2] for s in after) - warm[2]:+.1f} MB; trend {slope:+.2f} MB per 10 min "
            "of media)",
        ),
        (
            "RSS speech child after warm-up / end",
            f"{children[0][3]:.1f} / {children[-1][3]:.1f} MB" if children else "n/a",
        ),
        ("growth, speech child", f"{child_growth:+.1f} MB"),
        ("RSS main once the workers ended", f"{samples[-1][2]:.1f} MB"),
        (
            "peak RSS main (ru_maxrss lifetime) / speech child (VmHWM)",
            f"{meter.self_maxrss_mb:.0f} / {sampler.child_hwm_mb or float('nan'):.0f} MB",
        ),
    ]
    shown = samples[:: max(1, len(samples) // 12)]
    shown += [] if shown[-1] is samples[-1] else [samples[-1]]
    trace = [
        (f"{s[0]:.0f}", f"{s[1]:.0f}", f"{s[2]:.1f}", "" if s[3] is None else f"{s[3]:.1f}")
        for s in shown
    ]
    return [
        "## (c) Soak",
        "",
        table(rows, ("", "value")),
        "",
        meter.load_line(),
        "",
        f"Memory samples (every 10 s of wall time; every {max(1, len(samples) // 12)}-th shown):",
        "",
        table(trace, ("wall s", "media s", "RSS main MB", "RSS child MB")),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    parser.add_argument("--soak-min", type=float, default=30.0, help="minutes of soak media")
    parser.add_argument("--skip-soak", action="store_true", help="run (a) and (b) only")
    parser.add_argument("--phases", default="abc", help="parts to run, e.g. 'b' or 'ac'")
    parser.add_argument("--realtime-s", type=float, default=60.0, help="media seconds of (b)")
    parser.add_argument("--realtime-media", type=Path, help="replay this file in (b) instead")
    parser.add_argument("--profile", action="store_true", help="add a cProfile run of (a)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a config override"
    )
    parser.add_argument(
        "--ahead-hops", type=int, default=200, help="(a) also with this _AHEAD_HOPS (0: not)"
    )
    parser.add_argument("--out", type=Path, help="also write the report here (markdown)")
    args = parser.parse_args()
    phases = args.phases.replace("c", "") if args.skip_soak else args.phases

    face_model = args.shared / "models" / "face_landmarker.task"
    overrides = [f"face.model_path={face_model}", *args.set]
    config = session_config(None, overrides)
    model = load_session_model(config)
    command = f"python -m benchmarks.bench_runtime --shared {args.shared} --phases {phases}"
    command += f" --soak-min {args.soak_min:g}" if "c" in phases else ""
    command += f" --realtime-s {args.realtime_s:g}" if "b" in phases else ""
    command += f" --realtime-media {args.realtime_media}" if args.realtime_media else ""
    command += "".join(f" --set {item}" for item in args.set)
    command += " --profile" if args.profile else ""
    command += f" --ahead-hops {args.ahead_hops}" if "a" in phases else ""
    report = [
        "# Runtime benchmark",
        "",
        f"`{command}`",
        "",
        f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M')}; "
        f"1-min load average at the start {os.getloadavg()[0]:.1f}",
        "",
    ]

    def add(part: list[str]) -> None:
        print("\n".join(part), flush=True)
        report.extend(part)

    with tempfile.TemporaryDirectory(prefix="bench_runtime_") as tmp:
        workdir = Path(tmp)
        if {"a", "b"} & set(phases) or args.profile:
            print("preparing media ...")
            path, media_s = make_media(args.shared, workdir, 60.0, "replay.mp4")
            if "a" in phases:
                print("(a) fast replay ...")
                every_frame = session_config(None, [*overrides, "runtime.face_fps=0"])
                variants = [("runtime.face_fps=0 (every frame tracked)", every_frame, None)]
                if args.ahead_hops:
                    label = f"_AHEAD_HOPS = {args.ahead_hops} (pipeline.py's constant patched)"
                    variants.append((label, config, args.ahead_hops))
                add(fast_replay_report(path, media_s, config, model, variants))
            if "b" in phases:
                print("(b) real-time replay ...")
                media = args.realtime_media or path
                add(realtime_report(media, args.realtime_s, config, model))
            if args.profile:
                print("profiling a fast replay ...")
                add(["## Profile of a fast replay (cProfile, by tottime)", "",
                     profile_replay(path, config, model)])  # fmt: skip
        if "c" in phases:
            print("preparing soak media ...")
            path, media_s = make_media(args.shared, workdir, 60.0 * args.soak_min, "soak.mp4")
            print("(c) soak ...")
            add(soak_report(path, media_s, config, model))
    if args.out:
        args.out.write_text("\n".join(report) + "\n")
        print(f"report written to {args.out}")


if __name__ == "__main__":
    main()
