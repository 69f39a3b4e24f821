"""The speech recogniser in a process of its own.

PocketSphinx holds Python's global interpreter lock while it decodes: finishing one
utterance took 1.1 s on this machine, and every thread of the process (face tracking, the
fusion stage, the window) stood still meanwhile. In a child process it blocks nobody and
uses the second core. Audio goes in as 16 kHz blocks; results come back in order, one per
block: the words finished and the audio time the recogniser has heard up to.

The child is ``python -m streamer.runtime.speech_process`` talking pickles over its
standard input and output (not ``multiprocessing``, whose "spawn" would re-run the
caller's script in the child when it has no ``if __name__ == "__main__"`` guard).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from streamer.config import SpeechConfig
from streamer.errors import StreamerError
from streamer.types import Word

SPEECH_RATE_HZ = 16000
_FLUSH, _RESET = "flush", "reset"
_POLL_S = 0.05
STREAMING_NICENESS = 10  # the child's priority below the session's, in real time


@dataclass(frozen=True)
class SpeechResult:
    """What the recogniser gave for one block.

    Attributes
    ----------
    words : list of Word
        Words finished by this block (possibly none), in time order.
    heard_s : float
        Media time up to which the recogniser has heard the audio, seconds.
    settled_s : float
        Media time before which no word will end that was not handed out yet, seconds
        (the start of the utterance still being heard): text bags up to here are final.
    final : bool
        The answer to ``flush()``: the stream is over.
    """

    words: list[Word]
    heard_s: float
    settled_s: float
    final: bool = False


def serve(config: SpeechConfig, streaming: bool, inbox, outbox) -> None:
    """The child's loop: recognise blocks (float32 samples, t_s) until told to flush.

    Streaming (in real time), the child lowers its own priority by ``STREAMING_NICENESS``:
    the face tracker and the fusion stage have a deadline every hop, while the recogniser's
    decoding step stretches when it gets less CPU.
    """
    if streaming:
        with contextlib.suppress(OSError):
            os.nice(STREAMING_NICENESS)
    try:
        from streamer.features.speech.backends import create_recognizer

        recognizer = create_recognizer(config, streaming)
        _send(outbox, ("ready", recognizer.name))
        heard_s = 0.0
        while True:
            message = pickle.load(inbox)
            if message == _RESET:
                recognizer.reset()
            elif message == _FLUSH:
                _send(outbox, SpeechResult(recognizer.flush(), heard_s, heard_s, final=True))
                return
            else:
                pcm, t_s = message
                recognizer.push(pcm.astype(np.float64), t_s)
                heard_s = t_s + len(pcm) / SPEECH_RATE_HZ
                words = recognizer.pull()
                settled_s = min(recognizer.settled_s, heard_s)
                _send(outbox, SpeechResult(words, heard_s, settled_s))
    except (EOFError, BrokenPipeError):  # the parent went away (even kill -9): end quietly
        return
    except Exception as error:  # reported to the parent as one line
        with contextlib.suppress(OSError):
            _send(outbox, ("error", f"{type(error).__name__}: {error}".splitlines()[0]))


def _send(stream, message) -> None:
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


class SpeechProcess:
    """A recogniser (``speech`` settings) running in a child process.

    ``realtime`` (live, real-time replay): words come while an utterance is under way
    (:func:`~streamer.features.speech.backends.create_recognizer`'s ``streaming``) and
    blocks go to the child through a queue of ``max_blocks`` and a writer thread, so that
    ``push`` never waits on the child: a block that finds the queue full is dropped
    (counted in ``n_dropped``) and the recogniser starts a new utterance after the gap.
    Otherwise (a replay as fast as possible) ``push`` waits, and each utterance is decoded
    once, as ``streamer features text`` does.

    Raises
    ------
    StreamerError
        If the recogniser cannot start in the child (a missing model, for example).
    """

    def __init__(self, config: SpeechConfig, realtime: bool = False, max_blocks: int = 400):
        self._pending: queue.Queue = queue.Queue(max_blocks)  # first: close() needs it
        self._process = subprocess.Popen(
            [sys.executable, "-m", "streamer.runtime.speech_process"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        _send(self._process.stdin, (config, realtime))
        self._results: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="speech-results", daemon=True)
        self._reader.start()
        first = self._results.get()
        if not isinstance(first, tuple) or first[0] != "ready":
            self.close()
            reason = first[1] if isinstance(first, tuple) else "it exited"
            raise StreamerError(f"the speech recogniser did not start: {reason}")
        self.name = first[1]
        self._done = False
        self._drop_when_behind = realtime
        self._after_gap = False
        self._failed = False
        self.n_dropped = 0
        self._writer = threading.Thread(target=self._write, name="speech-blocks", daemon=True)
        self._writer.start()

    def _read(self) -> None:
        try:
            while True:
                self._results.put(pickle.load(self._process.stdout))
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):  # ValueError: closed pipe
            self._results.put(("exited", "the speech recogniser process exited"))

    def _write(self) -> None:
        while True:
            message = self._pending.get()
            if message is None:
                return
            try:
                _send(self._process.stdin, message)
            except (BrokenPipeError, OSError, ValueError):
                self._failed = True
                return

    def push(self, samples: np.ndarray, t_s: float) -> None:
        """Send 16 kHz samples (floats in [-1, 1]) whose first one is at media time ``t_s``."""
        # float32, not int16: the recogniser hears what `streamer features text` gives it
        pcm = np.asarray(samples, dtype=np.float32)
        if self._drop_when_behind and self._pending.full():
            self.n_dropped += 1
            self._after_gap = True
            return
        if self._after_gap:
            self._put(_RESET)
            self._after_gap = False
        self._put((pcm, float(t_s)))

    def reset(self) -> None:
        """Forget the utterance under way (the audio broke off)."""
        self._put(_RESET)

    def flush(self) -> None:
        """End of audio: the child answers with a final result, then stops."""
        self._put(_FLUSH)

    def _put(self, message) -> None:
        if self._failed:
            raise StreamerError("the speech recogniser stopped: restart the session")
        self._pending.put(message)

    def results(self, stop: threading.Event | None = None) -> Iterator[SpeechResult]:
        """The results in order, until the final one (or ``stop`` is set)."""
        while not self._done:
            try:
                result = self._results.get(timeout=_POLL_S)
            except queue.Empty:
                if stop is not None and stop.is_set():
                    return
                continue
            if not isinstance(result, SpeechResult):
                if stop is not None and stop.is_set():
                    return
                raise StreamerError(f"the speech recogniser failed: {result[1]}")
            self._done = result.final
            yield result

    def close(self) -> None:
        """Stop the child (safe to call twice)."""
        with contextlib.suppress(queue.Full):
            self._pending.put_nowait(None)  # the writer thread ends
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=5.0)
        for pipe in (self._process.stdin, self._process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


def _main() -> None:
    """Child entry point: settings first, then blocks, over stdin; results over stdout."""
    inbox = sys.stdin.buffer
    outbox = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the pickles
    from streamer.runtime import speech_process  # pickled classes named by module, not __main__

    try:
        speech_process.serve(*pickle.load(inbox), inbox, outbox)
    except EOFError:  # the parent went away before sending the settings
        pass
    finally:
        with contextlib.suppress(OSError):  # a closed pipe: nothing is left to say
            outbox.close()


if __name__ == "__main__":
    _main()
