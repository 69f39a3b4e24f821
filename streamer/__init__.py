"""streamer: a real-time affect monitor (arousal, valence, liking) from face, voice and words.

Importing the package needs no camera, microphone, PortAudio or display: the modules
that use them import their libraries when they are used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streamer")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def stream(source, **options):
    """Estimates every 0.1 s from a video file or a camera: see :func:`streamer.runtime.session.stream`.

    >>> for estimate in streamer.stream("talk.mp4"):  # doctest: +SKIP
    ...     print(estimate.t_s, estimate.arousal, estimate.valence)
    """
    from streamer.runtime.session import stream as _stream

    return _stream(source, **options)
