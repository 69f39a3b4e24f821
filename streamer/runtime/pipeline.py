"""The streaming pipeline: sources -> modality workers -> alignment by hop -> fusion.

Worker threads: the video worker tracks the face and rolls the video bags; the audio
worker computes the LLDs, rolls the audio bags and sends the audio (at 16 kHz) to the
recogniser's child process; the text worker rolls the text bags from the words that come
back. Each sends its hops, numbered ``k`` (time ``k * hop_s``), to the fusion stage, which
runs in the thread that iterates the pipeline: hop ``k`` is estimated once every modality
has delivered it, or, in real time (live, or replay at the media's pace), once
``latency_budget_s`` has passed since the hop ended. Then a late modality gives its latest
bag when that is at most ``max_stale_s`` old, else it counts as missing (a bag of zeros, as
the network saw dropped modalities in training). A modality also counts as missing while
it has nothing: no face (its bag is empty anyway), no voice in the whole window (the audio
bag is replaced by zeros), or no working device.

A device that fails (a camera unplugged, a microphone gone) does not end a live session:
the worker tries to reopen it every ``reconnect_interval_s`` while the other modality goes on.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from streamer.errors import StreamerError
from streamer.features.lld.resample import StreamingResampler
from streamer.runtime.modality_stages import HopRows
from streamer.runtime.speech_process import SPEECH_RATE_HZ
from streamer.runtime.stats import PipelineStats
from streamer.types import Estimate

_IDLE_POLL_S = 0.05
_AHEAD_HOPS = 300  # in a replay, a worker waits when this many hops (30 s) ahead of the fusion stage
# The fusion network runs on one torch thread while a session runs: with two, its parallel
# regions waited for a thread that the recogniser or the face tracker held off its core (in
# real time, with the niced recogniser child: hop latency p95 90 ms against 205 ms before
# both; in a fast replay the fusion stage took 0.142 s per media second).
_FUSION_THREADS = 1


def _stop_quietly(source) -> None:
    """Stop a source (camera, microphone, file reader); one already gone is fine."""
    stop = getattr(source, "stop", None) or getattr(source, "close", None)
    if stop is not None:
        with contextlib.suppress(Exception):
            stop()


@dataclass
class _Modality:
    """The fusion stage's view of one modality."""

    size: int
    rows: dict[int, tuple[np.ndarray, float, float]] = field(default_factory=dict)
    latest: tuple[int, np.ndarray, float] | None = None  # hop, bag, presence
    ended: bool = False


class Pipeline:
    """Estimates every ``hop_s`` from a video feed and an audio feed.

    Parameters
    ----------
    model : AffectModel
        Networks and codebooks.
    config : Config
        Settings (``runtime``, ``bow``, ``audio``, ``face``, ``speech`` sections).
    video, audio : ModalityFeed, optional
        The feeds; None when the session has no such source.
    stages : dict
        Factories (or None): ``face()``, ``audio()`` and ``text()`` make the modality
        stages in the worker threads; ``speech(realtime)`` starts the recogniser
        process.
    realtime : bool
        The media arrive in real time (live, or a paced replay): hops are due at
        ``start + t`` on the wall clock, where ``start`` is taken once the workers are
        ready. Else (a replay as fast as possible) every modality's hop is waited for, and
        latency counts from when the media were read.

    Iterating yields :class:`Estimate` objects; leaving the loop (end of media, ``stop()``,
    an exception) stops the workers and releases the devices.
    """

    def __init__(self, model, config, video, audio, stages: dict, realtime: bool = False):
        self.model = model
        self.config = config
        self.stats = PipelineStats()
        self.latest_view: tuple[np.ndarray, np.ndarray | None] | None = None
        self._feeds = {"video": video, "audio": audio}
        self._stages = stages
        self._realtime = bool(realtime)
        self._realtime_start_s: float | None = None  # set when the workers are ready
        self._torch_threads: int | None = None  # torch's threads before the session
        self._go = threading.Event()
        self._out: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sources: dict[str, object] = {}  # the open source of each worker
        self._speech = None  # the SpeechProcess, when words are recognised
        rt = config.runtime
        self._hop_s = config.bow.hop_s
        self._window_hops = int(round(config.bow.window_s / self._hop_s))
        self._max_stale_hops = int(round(rt.max_stale_s / self._hop_s))
        self._modalities = {m: _Modality(model.bag_size(m)) for m in model.modalities}
        for m, state in self._modalities.items():
            source = "video" if m == "video" else "audio"
            if self._feeds[source] is None or (m == "text" and stages.get("speech") is None):
                state.ended = True  # never comes: always missing
        self._recent_voiced: deque[float] = deque(maxlen=self._window_hops)
        self._next_hop = 0

    # ---- control -------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the session to end (from any thread, a signal handler included)."""
        self._stop.set()
        self._go.set()  # workers still waiting to start go straight to their end
        for source in list(self._sources.values()):
            _stop_quietly(source)

    def __iter__(self) -> Iterator[Estimate]:
        try:
            self._start_workers()  # a recogniser that cannot start raises here
            self._wait_until_ready()
            while not self._stop.is_set():
                try:
                    message = self._out.get(timeout=self._wait_s())
                except queue.Empty:
                    message = None
                if message is not None:
                    self._accept(message)
                    while True:  # take everything already waiting before estimating
                        try:
                            self._accept(self._out.get_nowait())
                        except queue.Empty:
                            break
                yield from self._estimates()
                if self._finished():
                    break
        finally:
            self.close()

    def dropped(self) -> dict[str, int]:
        """Items dropped so far by each source because processing fell behind."""
        counts = dict(self.stats.n_dropped)
        for name, source in list(self._sources.items()):
            counts[name] = counts.get(name, 0) + int(getattr(source, "n_dropped", 0))
        return counts

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers, join them, release the devices (safe to call twice)."""
        self.stop()
        for thread in self._threads:
            thread.join(timeout=5.0)
        if self._speech is not None:
            self._speech.close()
            self.stats.n_dropped["speech"] = self._speech.n_dropped
        if self._torch_threads is not None:
            import torch

            torch.set_num_threads(self._torch_threads)
            self._torch_threads = None
        for feed in self._feeds.values():
            if feed is not None and feed.close is not None:
                with contextlib.suppress(Exception):
                    feed.close()

    # ---- workers -------------------------------------------------------------------
    def _start_workers(self) -> None:
        import torch  # see _FUSION_THREADS

        self._torch_threads = torch.get_num_threads()
        torch.set_num_threads(_FUSION_THREADS)
        workers = [("video", self._video_worker), ("audio", self._audio_worker)]
        for name, target in workers:
            if self._feeds[name] is not None:
                self._start_thread(name, self._run, (name, target))
        if self._stages.get("speech") is not None and self._feeds["audio"] is not None:
            self._speech = self._stages["speech"](self._realtime)
            self._start_thread("text", self._text_worker, ())

    def _start_thread(self, name: str, target: Callable, args: tuple) -> None:
        thread = threading.Thread(target=target, args=args, name=f"streamer-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _wait_until_ready(self) -> None:
        """Wait for every worker to set up its stages (models load), then start the clock."""
        n_waiting = len(self._threads)
        while n_waiting and not self._stop.is_set():
            try:
                message = self._out.get(timeout=_IDLE_POLL_S)
            except queue.Empty:
                continue
            if message[0] == "ready":
                n_waiting -= 1
            else:
                self._accept(message)
        if self._realtime:
            self._realtime_start_s = time.monotonic()
        self._go.set()

    def _run(self, name: str, work: Callable) -> None:
        """Run one worker over its feed, reopening a failed live device."""
        feed = self._feeds[name]
        stages = {}
        try:
            stages = work(None)
            self._out.put(("ready", name, None))
            self._go.wait()
            while not self._stop.is_set():
                try:
                    source = self._sources[name] = feed.open(self._realtime_start_s)
                    for item in source:
                        if self._stop.is_set():
                            break
                        work(item, stages)
                    if self._stop.is_set() or not feed.reopen:
                        break
                    raise StreamerError(f"the {name} source stopped delivering")
                except StreamerError as error:
                    self._out.put(("error", name, str(error)))
                    if not feed.reopen:
                        break
                    self._release(name)
                    work("restart", stages)
                    self._stop.wait(self.config.runtime.reconnect_interval_s)
            work("flush", stages)
        except BaseException as error:  # reaches the consumer thread
            self._out.put(("crash", name, error))
        finally:
            self._release(name)
            for stage in stages.values():  # here, not in the garbage collector of any thread
                with contextlib.suppress(Exception):
                    getattr(stage, "close", lambda: None)()
            self._out.put(("ended", name, None))

    def _release(self, name: str) -> None:
        """Stop a worker's source (closing the device) and remember its drop count."""
        source = self._sources.pop(name, None)
        if source is None:
            return
        self.stats.n_dropped[name] = self.stats.n_dropped.get(name, 0) + int(
            getattr(source, "n_dropped", 0)
        )
        _stop_quietly(source)

    def _video_worker(self, item, stages=None):
        if item is None:
            return {"face": self._stages["face"](), "next_face_s": float("-inf")}
        face = stages["face"]
        if item == "flush":
            self._send("video", face.flush())
        elif item == "restart":
            pass  # frames simply resume later; the bags roll on
        else:
            if item.t_s < stages["next_face_s"]:  # at most runtime.face_fps frames a second
                self.latest_view = (item.image, self.latest_view[1] if self.latest_view else None)
                return
            fps = self.config.runtime.face_fps
            stages["next_face_s"] = item.t_s + 1.0 / fps - 1e-6 if fps else item.t_s
            read_wall = time.monotonic()
            started = time.perf_counter()
            rows, observation = face.push(item)
            self.stats.add_time("face", time.perf_counter() - started)
            self.latest_view = (item.image, observation.landmarks_px)
            self._send("video", rows, read_wall)

    def _audio_worker(self, item, stages=None):
        if item is None:
            return {"audio": self._stages["audio"](), "resampler": None}
        audio = stages["audio"]
        if isinstance(item, str):
            if item == "flush":
                self._send("audio", audio.flush())
                if self._speech is not None:
                    if stages["resampler"] is not None:
                        self._speech.push(stages["resampler"].flush(), stages["speech_s"])
                    self._speech.flush()
            else:  # restart: the signal broke off
                audio.restart()
                stages["resampler"] = None
                if self._speech is not None:
                    self._speech.reset()
            return
        read_wall = time.monotonic()
        started = time.perf_counter()
        rows = audio.push(item)
        self.stats.add_time("audio_lld", time.perf_counter() - started)
        self._send("audio", rows, read_wall)
        if self._speech is not None:
            if stages["resampler"] is None:
                stages["resampler"] = StreamingResampler(item.sample_rate_hz, SPEECH_RATE_HZ)
                stages["speech_s"] = item.t_s
            samples = stages["resampler"].push(item.samples)
            self._speech.push(samples, stages["speech_s"])
            stages["speech_s"] += len(samples) / SPEECH_RATE_HZ

    def _text_worker(self) -> None:
        """Turn the recogniser's results into text bags (a thread of its own)."""
        try:
            text = self._stages["text"]()
            self._out.put(("ready", "text", None))
            last_s = 0.0
            for result in self._speech.results(self._stop):
                rows = text.push(result.words, result.settled_s)
                self.stats.n_words += len(result.words)
                if self._realtime:  # from the word's end (wall clock) to its text bag
                    now_s = time.monotonic() - self._realtime_start_s
                    self.stats.word_delays_s.extend(now_s - w.end_s for w in result.words)
                else:
                    self.stats.word_delays_s.extend(result.heard_s - w.end_s for w in result.words)
                last_s = result.heard_s
                self._send("text", rows, time.monotonic())
            self._send("text", text.flush(last_s))
        except BaseException as error:  # reaches the consumer thread
            self._out.put(("crash", "text", error))
        finally:
            self._out.put(("ended", "text", None))

    def _send(self, modality: str, rows: HopRows, read_wall: float | None = None) -> None:
        if modality not in self._modalities or not len(rows):
            return
        if not self._realtime:  # keep at most _AHEAD_HOPS ahead of the fusion stage
            while rows.first_hop - self._next_hop > _AHEAD_HOPS and not self._stop.is_set():
                time.sleep(0.005)
        self._out.put(("rows", modality, (rows, read_wall)))

    # ---- fusion --------------------------------------------------------------------
    def _accept(self, message) -> None:
        kind, name, payload = message
        if kind == "rows":
            rows, read_wall = payload
            state = self._modalities[name]
            for i in range(len(rows)):
                k = rows.first_hop + i
                if k >= self._next_hop:
                    state.rows[k] = (rows.bags[i], float(rows.present[i]), read_wall)
            last = rows.first_hop + len(rows) - 1
            state.latest = (last, rows.bags[-1], float(rows.present[-1]))
        elif kind == "error":
            self.stats.errors.append(f"{name}: {payload}")
        elif kind == "crash":
            raise payload
        elif kind == "ended" and name in self._modalities:
            self._modalities[name].ended = True

    def _wait_s(self) -> float:
        """How long the fusion stage may wait for the next message."""
        if not self._realtime:
            return _IDLE_POLL_S
        deadline = self._realtime_start_s + self._next_hop * self._hop_s
        deadline += self.config.runtime.latency_budget_s
        return min(max(deadline - time.monotonic(), 0.001), _IDLE_POLL_S)

    def _finished(self) -> bool:
        return all(s.ended and not s.rows for s in self._modalities.values())

    def _estimates(self) -> Iterator[Estimate]:
        while True:
            k = self._next_hop
            waiting = [m for m, s in self._modalities.items() if k not in s.rows and not s.ended]
            if waiting and (not self._budget_spent(k) or self._media_ended_before(k)):
                return
            if not waiting and all(k not in s.rows for s in self._modalities.values()):
                return  # every modality ended before this hop
            for m in waiting:
                self.stats.n_late[m] = self.stats.n_late.get(m, 0) + 1
            yield self._estimate(k)
            self._next_hop += 1

    def _media_ended_before(self, k: int) -> bool:
        """Audio and video have ended before hop ``k``: only the recogniser's last words
        may still come (no hop past the end of a replay is estimated from stale bags)."""
        media = [s for m, s in self._modalities.items() if m != "text"]
        return bool(media) and all(s.ended and k not in s.rows for s in media)

    def _budget_spent(self, k: int) -> bool:
        if not self._realtime:
            return False
        due = self._realtime_start_s + k * self._hop_s + self.config.runtime.latency_budget_s
        return time.monotonic() >= due

    def _estimate(self, k: int) -> Estimate:
        started = time.perf_counter()
        bags, presence, read_walls = {}, {}, []
        for m, state in self._modalities.items():
            row = state.rows.pop(k, None)
            if row is not None:
                bags[m], presence[m] = row[0], row[1]
                if row[2] is not None:
                    read_walls.append(row[2])
            elif state.latest is not None and 0 <= k - state.latest[0] <= self._max_stale_hops:
                bags[m], presence[m] = state.latest[1], state.latest[2]  # the latest known
            else:
                bags[m], presence[m] = np.zeros(state.size), 0.0
        voiced = presence.get("audio", 0.0)
        self._recent_voiced.append(voiced)
        if "audio" in bags and max(self._recent_voiced) == 0.0:
            bags["audio"] = np.zeros(self._modalities["audio"].size)  # silence: missing
        values = self.model.predict({m: bag[None, :] for m, bag in bags.items()})
        now = time.monotonic()
        if self._realtime:
            reference = self._realtime_start_s + k * self._hop_s
        else:
            reference = max(read_walls) if read_walls else now
        face = presence.get("video", 0.0) > 0.0
        speech = voiced >= self.config.runtime.voiced_fraction
        estimate = Estimate(
            t_s=round(k * self._hop_s, 6),
            arousal=float(values["arousal"][0]) if "arousal" in values else float("nan"),
            valence=float(values["valence"][0]) if "valence" in values else float("nan"),
            liking=float(values["liking"][0]) if "liking" in values else float("nan"),
            face=face,
            speech=speech,
            latency_ms=max(now - reference, 0.0) * 1000.0,
        )
        self.stats.n_hops += 1
        self.stats.n_face_hops += face
        self.stats.n_speech_hops += speech
        self.stats.add_time("fusion", time.perf_counter() - started)
        return estimate
