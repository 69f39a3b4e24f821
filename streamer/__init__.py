"""streamer: a real-time affect monitor (arousal, valence, liking) from face, voice and words.

Importing the package needs no camera, microphone, PortAudio or display: the modules
that use them import their libraries when they are used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streamer")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
