"""Live frames from a camera (or a stream URL) through OpenCV, on a capture thread.

The capture thread only reads frames, converts them to RGB and appends them to a bounded
queue; when the queue is full the oldest frame is dropped and counted. Frame times are
``time.monotonic()`` at the moment ``cap.read()`` returned, minus the session start:
``CAP_PROP_POS_MSEC`` is not used, because for live cameras its meaning depends on the
backend (V4L2 buffer timestamps, 0 on others) and it cannot be checked without hardware.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from streamer.errors import StreamerError
from streamer.types import VideoFrame

_LOG = logging.getLogger(__name__)
_FIX_HINT = "check that a camera is connected, or choose another one with --camera N"
_RETRY_PAUSE_S = 0.01  # pause after a failed read, so a dead camera does not spin a core
_POLL_S = 0.05  # how often a waiting iterator checks for a stalled or stopped capture
_JOIN_TIMEOUT_S = 0.5  # stop() waits this long for the thread, then leaves it (a daemon)
_URL_TIMEOUT_MS = 5000  # FFmpeg open/read timeout for stream URLs
_LINUX = sys.platform.startswith("linux")


class CameraError(StreamerError):
    """A camera that cannot be opened, or that stopped delivering frames."""


def _video_devices() -> list[Path]:
    """The ``/dev/videoN`` nodes, sorted by ``N`` (empty off Linux)."""
    nodes = [p for p in Path("/dev").glob("video*") if p.name[5:].isdigit()] if _LINUX else []
    return sorted(nodes, key=lambda p: int(p.name[5:]))


def _open_opencv_capture(camera: int | str):
    """Open ``cv2.VideoCapture``: V4L2 on Linux (no slow backend probing), timeouts for URLs."""
    import cv2

    if isinstance(camera, int) or (_LINUX and camera.startswith("/dev/video")):
        return cv2.VideoCapture(camera, cv2.CAP_V4L2 if _LINUX else cv2.CAP_ANY)
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _URL_TIMEOUT_MS]
    timeouts += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, _URL_TIMEOUT_MS]
    return cv2.VideoCapture(camera, cv2.CAP_ANY, timeouts)


def _missing_device(camera: int | str) -> str | None:
    """Why ``camera`` cannot exist, when that is known without opening it (else None)."""
    if isinstance(camera, str):  # URLs and GStreamer pipelines are left to OpenCV
        is_missing_path = camera.startswith("/dev/") and not Path(camera).exists()
        return f"no such device {camera}" if is_missing_path else None
    if not _LINUX or Path(f"/dev/video{camera}").exists():
        return None
    found = ", ".join(str(p) for p in _video_devices())
    if not found:
        return "no camera on this machine, there is no /dev/video* device"
    return f"no such device /dev/video{camera}, the cameras here are {found}"


def _open_error(camera: int | str) -> CameraError:
    """The one-line error for a camera that did not open."""
    reason = _missing_device(camera)
    if reason is None and isinstance(camera, int) and _LINUX:
        reason = f"/dev/video{camera} is busy, not a capture device, or not permitted (close other programs using it; check you are in the `video` group)"
    reason = reason or "no such device, or another program is using it"
    return CameraError(f"camera {camera!r} cannot be opened: {reason} ({_FIX_HINT})")


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """OpenCV's BGR (or gray, or BGRA) picture as a new C-contiguous RGB uint8 array."""
    import cv2

    n_channels = 1 if image.ndim == 2 else image.shape[2]
    code = {1: cv2.COLOR_GRAY2RGB, 4: cv2.COLOR_BGRA2RGB}.get(n_channels, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(cv2.cvtColor(image, code), dtype=np.uint8)


class CameraSource:
    """Frames from a live camera, read on a daemon thread into a bounded drop-oldest queue.

    Parameters
    ----------
    camera : int or str
        Camera index (``/dev/videoN`` on Linux), a device path, or a stream URL. A string of
        digits is taken as an index.
    width, height : int, optional
        Requested frame size in pixels (the camera may choose another).
    fps : float, optional
        Requested frame rate in frames per second.
    queue_size : int
        Frames kept for a slow consumer; older frames are dropped (``n_dropped``).
    no_frame_timeout_s : float
        Seconds without a frame after which the capture counts as dead (unplugged).
    capture_factory : callable, optional
        ``capture_factory(camera)`` returns an object with ``isOpened()``, ``read()``,
        ``set()``, ``get()`` and ``release()``; defaults to ``cv2.VideoCapture``.

    Raises
    ------
    CameraError
        If the camera cannot be opened. The device is opened here, so errors come early.
    """

    def __init__(
        self,
        camera: int | str = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        queue_size: int = 4,
        no_frame_timeout_s: float = 2.0,
        capture_factory: Callable[[int | str], object] | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if isinstance(camera, str) and camera.isdigit():
            camera = int(camera)
        self.camera = camera
        self.no_frame_timeout_s = float(no_frame_timeout_s)
        if capture_factory is None:
            if _missing_device(camera) is not None:  # fail fast, without OpenCV's noise
                raise _open_error(camera)
            capture_factory = _open_opencv_capture
        self._capture = capture_factory(camera)
        if not self._capture.isOpened():
            self._capture.release()
            raise _open_error(camera)
        import cv2

        requested = [(cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height)]
        for prop, value in [*requested, (cv2.CAP_PROP_FPS, fps)]:
            if value is not None:
                self._capture.set(prop, float(value))
        self._frames: deque[VideoFrame] = deque(maxlen=queue_size)
        self._frames_changed = threading.Condition()
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        self._failure: str | None = None
        self._n_dropped = 0
        self._origin_s = 0.0
        self._last_frame_monotonic_s = 0.0

    @property
    def n_dropped(self) -> int:
        """Frames dropped because the consumer fell behind (the oldest go first)."""
        return self._n_dropped

    def start(self, session_start_s: float | None = None) -> CameraSource:
        """Start capturing; frame times ``t_s`` count seconds from ``session_start_s``.

        ``session_start_s`` is a ``time.monotonic()`` value shared by the session's sources
        (default: now).
        """
        if self._thread is not None:
            return self
        self._origin_s = time.monotonic() if session_start_s is None else session_start_s
        self._last_frame_monotonic_s = time.monotonic()
        self._thread = threading.Thread(
            target=self._capture_loop, name=f"camera-{self.camera}", daemon=True
        )
        self._thread.start()
        return self

    def _capture_loop(self) -> None:
        n_read = 0
        try:
            while not self._stop_requested.is_set():
                ok, image = self._capture.read()
                read_at_s = time.monotonic()
                if self._stop_requested.is_set():
                    break
                if not ok or image is None:
                    if read_at_s - self._last_frame_monotonic_s > self.no_frame_timeout_s:
                        self._failure = self._stall_message()
                        break
                    self._stop_requested.wait(_RETRY_PAUSE_S)
                    continue
                self._last_frame_monotonic_s = read_at_s
                frame = VideoFrame(read_at_s - self._origin_s, _to_rgb(image), n_read)
                n_read += 1
                with self._frames_changed:
                    if len(self._frames) == self._frames.maxlen:
                        self._n_dropped += 1  # the deque drops the oldest on append
                    self._frames.append(frame)
                    self._frames_changed.notify_all()
        except Exception as exc:  # an OpenCV error must end the stream, not kill it silently
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self._failure = f"camera {self.camera!r} failed while capturing: {first_line} (reconnect it, or {_FIX_HINT})"
        finally:
            self._capture.release()
            with self._frames_changed:
                self._finished = True
                self._frames_changed.notify_all()

    def _stall_message(self) -> str:
        return f"camera {self.camera!r} stopped delivering frames: none for {self.no_frame_timeout_s:g} s (was it unplugged? reconnect it, close other programs using it, or {_FIX_HINT})"

    def read(self, timeout_s: float | None = None) -> VideoFrame | None:
        """The oldest queued frame, waiting up to ``timeout_s`` seconds (None: no limit).

        Returns None on timeout or once the source is stopped and drained. Raises
        ``CameraError`` once the capture has failed and the frames before it are consumed.
        """
        if self._thread is None:
            raise RuntimeError("call start() before read()")
        with self._frames_changed:
            self._frames_changed.wait_for(
                lambda: self._frames or self._finished or self._stop_requested.is_set(),
                timeout_s,
            )
            if self._frames:
                return self._frames.popleft()
            if self._finished and self._failure is not None:
                raise CameraError(self._failure)
            return None

    def __iter__(self) -> Iterator[VideoFrame]:
        """Frames until ``stop()``; raises ``CameraError`` when the camera stops delivering."""
        self.start()
        while not self._stop_requested.is_set():
            frame = self.read(_POLL_S)
            if frame is not None:
                yield frame
            elif self._finished:
                return
            elif time.monotonic() - self._last_frame_monotonic_s > self.no_frame_timeout_s:
                raise CameraError(self._stall_message())  # read() itself is stuck

    def stop(self) -> None:
        """Stop capturing and release the camera; returns within about 0.5 s. Idempotent.

        The thread releases the capture itself when its ``read()`` returns; if that read
        blocks, the daemon thread is left behind (it cannot keep the process alive).
        """
        if self._stop_requested.is_set():
            return
        with self._frames_changed:
            self._stop_requested.set()
            self._frames_changed.notify_all()
        if self._thread is None:
            self._finished = True
            self._capture.release()
            return
        self._thread.join(_JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            _LOG.warning("camera %r: read() blocks; it is released when read returns", self.camera)

    def __enter__(self) -> CameraSource:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def list_cameras(max_index: int = 10) -> list[dict]:
    """The cameras that open, as ``{"index", "width", "height", "fps", "backend"}`` dicts.

    Sizes in pixels, rates in frames per second. On Linux only existing ``/dev/videoN``
    nodes are probed (no camera: an instant ``[]``); elsewhere indices below ``max_index``.
    """
    import cv2

    indices = [int(p.name[5:]) for p in _video_devices()] if _LINUX else range(max_index)
    indices = [index for index in indices if index < max_index]
    cameras = []
    log_level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # probing is noisy
    try:
        for index in indices:
            capture = _open_opencv_capture(index)
            if capture.isOpened():
                width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
                height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
                fps = float(capture.get(cv2.CAP_PROP_FPS))
                backend = capture.getBackendName()
                cameras.append(
                    dict(index=index, width=width, height=height, fps=fps, backend=backend)
                )
            capture.release()
    finally:
        cv2.utils.logging.setLogLevel(log_level)
    return cameras
