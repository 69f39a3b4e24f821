"""One stage per modality: raw media in, one bag of words per 0.1 s hop out.

Each stage is single-threaded and deterministic: the same media give the same bags
whatever the block sizes, and the bags equal those ``streamer features bow`` makes from the
feature CSVs (audio: every 10 ms LLD frame; video: the frames with a face; text: the
recognised words at their end times). Every bag series starts at hop 0 (``t = 0``), so row
``k`` of every modality is the hop at ``k * hop_s``.

A stage also reports, per hop, how much of the hop had signal: the fraction of voiced
audio frames, or of video frames with a face (the ``speech`` and ``face`` flags).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.bow.calibration import running_calibration
from streamer.bow.rolling import RollingBag, text_assignments
from streamer.config import AudioConfig, BowConfig
from streamer.features.face_features import observation_row
from streamer.features.lld.extractor import LLD_NAMES
from streamer.types import AudioBlock, VideoFrame, Word

_F0_COLUMN = LLD_NAMES.index("F0semitoneFrom27.5Hz_sma3nz")
# columns of observation_row: face, pitch, yaw, roll, 10 eye points, 49 landmarks
_FACE_COLUMNS = {"pose": slice(1, 4), "eyes": slice(4, 24), "landmarks": slice(24, 122)}


@dataclass(frozen=True)
class HopRows:
    """Consecutive hops of one modality.

    Attributes
    ----------
    first_hop : int
        Index ``k`` of the first row (its time is ``k * hop_s``).
    bags : ndarray, shape (n_hops, n_words)
        The modality's bags (groups side by side).
    present : ndarray, shape (n_hops,)
        Fraction (0-1) of the hop's frames with signal (voice, face); ones for text.
    """

    first_hop: int
    bags: np.ndarray
    present: np.ndarray

    def __len__(self) -> int:
        return len(self.bags)


class _SideBySideBags:
    """Rolling bags of several word groups side by side, plus a per-hop presence fraction."""

    def __init__(self, sizes: list[int], bow: BowConfig):
        options = dict(window_s=bow.window_s, hop_s=bow.hop_s, window=bow.window,
                       weighting=bow.weighting, normalise=bow.normalise)  # fmt: skip
        self._groups = [RollingBag(n, **options) for n in sizes]
        # every frame in a window of one hop, counted as word 1 (present) or 0 (absent)
        self._presence = RollingBag(2, window_s=bow.hop_s, hop_s=bow.hop_s, window="causal",
                                    weighting="counts", normalise=True)  # fmt: skip
        self._next_hop = 0
        self._last_s = 0.0

    def push(
        self, t_s: np.ndarray, bagged: np.ndarray, assignments: list, present: np.ndarray
    ) -> HopRows:
        """Add frames and return the hops they finish.

        Parameters
        ----------
        t_s : (n,) float
            Frame times, seconds, non-decreasing.
        bagged : (n,) bool
            The frames that go into the bags (a face frame without a face does not).
        assignments : list of (n_bagged, a) int
            Per group, the words of the bagged frames.
        present : (n,) bool
            Whether each frame has signal (voice, face), for the presence fraction.
        """
        if not len(t_s):
            return self._collect([(np.zeros(0), np.zeros((0, b.n_words))) for b in self._groups],
                                 (np.zeros(0), np.zeros((0, 2))))  # fmt: skip
        last_s = float(t_s[-1])
        self._last_s = max(self._last_s, last_s)
        parts = [
            _concat(bag.push(t_s[bagged], words), bag.advance(last_s))
            for bag, words in zip(self._groups, assignments, strict=True)
        ]
        presence = _concat(self._presence.push(t_s, present.astype(np.int64)),
                           self._presence.advance(last_s))  # fmt: skip
        return self._collect(parts, presence)

    def advance(self, t_s: float) -> HopRows:
        """No frame at or before ``t_s`` is still to come: emit the hops before it."""
        self._last_s = max(self._last_s, float(t_s))
        return self._collect([bag.advance(t_s) for bag in self._groups],
                             self._presence.advance(t_s))  # fmt: skip

    def flush(self, end_s: float | None = None) -> HopRows:
        """End of stream: the hops up to the last frame or ``end_s`` (s), whichever is later."""
        end = self._last_s if end_s is None else max(self._last_s, end_s)
        return self._collect([bag.flush(end) for bag in self._groups], self._presence.flush(end))

    def _collect(self, parts: list, presence: tuple) -> HopRows:
        n = len(presence[0])
        if any(len(times) != n for times, _ in parts):
            raise AssertionError("bags of one modality fell out of step")
        rows = HopRows(self._next_hop, np.hstack([rows for _, rows in parts]), presence[1][:, 1])
        self._next_hop += n
        return rows


class AudioStage:
    """Audio blocks -> 23 LLDs every 10 ms -> audio words -> audio bags; voiced fraction.

    Parameters
    ----------
    codebook : Codebook
        The audio codebook.
    audio : AudioConfig
        LLD settings.
    bow : BowConfig
        Window, hop and weighting of the bags.
    calibration : CalibrationConfig, optional
        Per-person calibration of the LLDs (:mod:`streamer.bow.calibration`), over the
        whole session (a reopened device is the same person).
    """

    def __init__(self, codebook, audio: AudioConfig, bow: BowConfig, calibration=None):
        self.codebook = codebook
        self._calibration = running_calibration(codebook, calibration)
        self._audio_config = audio
        self._bags = _SideBySideBags([codebook.n_words], bow)
        self._extractor = None
        self._origin_s = 0.0

    def push(self, block: AudioBlock) -> HopRows:
        """Add a block of samples; return the hops finished so far."""
        if self._extractor is None:
            from streamer.features.audio_lld import create_extractor

            self._extractor = create_extractor(self._audio_config, block.sample_rate_hz)
            self._origin_s = block.t_s
        return self._frames(self._extractor.push(block.samples))

    def restart(self) -> None:
        """The audio broke off (a device reopened): the next block starts a new signal."""
        self._extractor = None

    def flush(self, end_s: float | None = None) -> HopRows:
        """End of stream: the remaining hops (up to ``end_s`` seconds when later)."""
        rows = self._frames(self._extractor.flush()) if self._extractor is not None else None
        tail = self._bags.flush(end_s)
        return tail if rows is None else _join(rows, tail)

    def _frames(self, frames) -> HopRows:
        t_s = frames.t_s + self._origin_s
        if not len(t_s):
            return self._bags.push(t_s, np.zeros(0, bool), [np.zeros((0, 1), np.int64)],
                                   np.zeros(0, bool))  # fmt: skip
        voiced = frames.values[:, _F0_COLUMN] > 0.0
        values = frames.values if self._calibration is None else self._calibration.push(frames.values)
        words = self.codebook.quantise(values)
        return self._bags.push(t_s, np.ones(len(t_s), bool), [words], voiced)


class FaceStage:
    """Video frames -> face tracker -> pose, eye and landmark words -> video bags.

    Parameters
    ----------
    codebooks : list of Codebook
        The video codebooks in the order their bags sit side by side (``pose``, ``eyes``,
        ``landmarks`` for the default model).
    tracker : FaceTracker
        Tracks the face; its ``coords`` must be those the codebooks were fitted on.
    bow : BowConfig
        Window, hop and weighting of the bags.
    calibration : CalibrationConfig, optional
        Per-person calibration of each group (:mod:`streamer.bow.calibration`) over the
        frames with a face since the session began.
    """

    def __init__(self, codebooks: list, tracker, bow: BowConfig, calibration=None):
        self.codebooks = codebooks
        self._calibrations = [running_calibration(book, calibration) for book in codebooks]
        self.tracker = tracker
        self._bags = _SideBySideBags([book.n_words for book in codebooks], bow)

    def push(self, frame: VideoFrame):
        """Track one frame; return the hops finished so far and the tracker's observation."""
        observation = self.tracker.process(frame)
        t_s = np.array([frame.t_s])
        present = np.array([observation.face])
        row = observation_row(observation)[None, :]
        words = []
        for book, calibration in zip(self.codebooks, self._calibrations, strict=True):
            if not observation.face:
                words.append(np.zeros((0, 1), np.int64))
                continue
            values = row[:, _FACE_COLUMNS[book.group]]
            words.append(book.quantise(values if calibration is None else calibration.push(values)))
        return self._bags.push(t_s, present, words, present), observation

    def flush(self, end_s: float | None = None) -> HopRows:
        """End of stream: the remaining hops (up to ``end_s`` seconds when later)."""
        return self._bags.flush(end_s)

    def close(self) -> None:
        """Release the tracker's MediaPipe graphs (left to the garbage collector, MediaPipe's
        close can deadlock the thread that collects them)."""
        self.tracker.close()


class TextStage:
    """Recognised words -> text bags (each word counted at its end time).

    The recogniser finishes words some time after they were said (at the end of their
    utterance). Hops are emitted as far as the recogniser's words are settled (no word
    ending earlier can still come), so a bag holds every word that ends in its window.

    Parameters
    ----------
    vocabulary : Vocabulary
        The text words.
    bow : BowConfig
        Window, hop and weighting of the bags.
    """

    def __init__(self, vocabulary, bow: BowConfig):
        self.vocabulary = vocabulary
        self._bags = _SideBySideBags([len(vocabulary)], bow)

    def push(self, words: list[Word], settled_s: float) -> HopRows:
        """Add the words the recogniser finished; no other word ends before ``settled_s`` (s)."""
        t_s, assignments = text_assignments([w for w in words if np.isfinite(w.end_s)],
                                            self.vocabulary)  # fmt: skip
        every = np.ones(len(t_s), bool)
        rows = self._bags.push(t_s, every, [assignments], every)
        return _join(rows, self._bags.advance(settled_s))

    def flush(self, end_s: float | None = None) -> HopRows:
        """End of stream: the remaining hops (up to ``end_s`` seconds when later)."""
        return self._bags.flush(end_s)


def _concat(first: tuple, second: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Two consecutive (hop times, bags) results of a RollingBag as one."""
    return np.concatenate([first[0], second[0]]), np.vstack([first[1], second[1]])


def _join(first: HopRows, second: HopRows) -> HopRows:
    """Two consecutive runs of hops as one."""
    if not len(first):
        return second
    if not len(second):
        return first
    return HopRows(
        first.first_hop,
        np.vstack([first.bags, second.bags]) if len(second) else first.bags,
        np.concatenate([first.present, second.present]),
    )
