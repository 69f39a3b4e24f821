"""What a streaming session did: estimates, drops, late hops, words, stage times, errors."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PipelineStats:
    """What happened in a session (read it after or during the iteration).

    Attributes
    ----------
    n_hops : int
        Estimates made.
    n_dropped : dict of str to int
        Items each source dropped because processing fell behind.
    n_face_hops, n_speech_hops : int
        Hops with the face flag, and with the speech flag.
    n_late : dict of str to int
        Hops a modality had not delivered within the latency budget.
    n_words : int
        Words recognised.
    word_delays_s : list of float
        Per word, the recogniser's end-of-word delay, seconds: in real time, from when the
        word ended (wall clock) to its arrival at the text bags; in a fast replay, the
        audio time pushed to the recogniser when the word came out minus its end time.
    stage_s : dict of str to float
        Wall time spent in each stage (face, audio LLD, speech, fusion), seconds.
    errors : list of str
        Device failures and recoveries, as one-line messages.
    """

    n_hops: int = 0
    n_dropped: dict[str, int] = field(default_factory=dict)
    n_face_hops: int = 0
    n_speech_hops: int = 0
    n_late: dict[str, int] = field(default_factory=dict)
    n_words: int = 0
    word_delays_s: list[float] = field(default_factory=list)
    stage_s: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add_time(self, stage: str, seconds: float) -> None:
        """Count ``seconds`` of wall time against ``stage``."""
        self.stage_s[stage] = self.stage_s.get(stage, 0.0) + seconds
