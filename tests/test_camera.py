"""The camera source, with a fake capture object (no hardware) and the real OpenCV path."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from streamer.errors import StreamerError
from streamer.sources.camera import CameraError, CameraSource, list_cameras


def bgr_image(value: int, height: int = 6, width: int = 8) -> np.ndarray:
    """A BGR picture whose blue, green, red planes hold value, value + 1, value + 2."""
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = value, value + 1, value + 2
    return image


class FakeCapture:
    """A ``cv2.VideoCapture`` stand-in.

    Delivers ``n_frames`` pictures (one every ``frame_interval_s``), then either fails
    (``read()`` returns False, like an unplugged camera) or blocks until ``unblock`` is set.
    """

    def __init__(self, n_frames=0, frame_interval_s=0.0, after_frames="fail", opens=True):
        self.n_frames = n_frames
        self.frame_interval_s = frame_interval_s
        self.after_frames = after_frames
        self.opens = opens
        self.n_reads = 0
        self.all_delivered = threading.Event()  # set when read() is called after the last frame
        self.unblock = threading.Event()
        self.released = threading.Event()
        self.properties = {}

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return self.opens

    def read(self):
        if self.n_reads < self.n_frames:
            time.sleep(self.frame_interval_s)
            self.n_reads += 1
            return True, bgr_image(self.n_reads - 1)
        self.all_delivered.set()
        if self.after_frames == "block":
            self.unblock.wait(5.0)
        return False, None

    def set(self, prop, value):
        self.properties[prop] = value
        return True

    def get(self, prop):
        return self.properties.get(prop, 0.0)

    def release(self):
        self.released.set()


def make_source(fake: FakeCapture, **kwargs) -> CameraSource:
    return CameraSource(0, capture_factory=lambda camera: fake, **kwargs)


def test_frames_arrive_in_order_as_rgb_with_increasing_times():
    fake = FakeCapture(n_frames=5, frame_interval_s=0.002)
    with make_source(fake, queue_size=10, no_frame_timeout_s=0.2) as source:
        frames = [source.read(timeout_s=1.0) for _ in range(5)]
    assert [frame.index for frame in frames] == [0, 1, 2, 3, 4]
    times_s = np.array([frame.t_s for frame in frames])
    assert np.all(np.diff(times_s) > 0) and 0 < times_s[0] < 1.0
    image = frames[3].image
    assert image.dtype == np.uint8 and image.shape == (6, 8, 3) and image.flags.c_contiguous
    assert image[0, 0].tolist() == [5, 4, 3]  # BGR (3, 4, 5) -> RGB
    assert source.n_dropped == 0
    assert fake.released.wait(1.0)


def test_requested_format_is_passed_to_the_capture():
    import cv2

    fake = FakeCapture()
    source = make_source(fake, width=640, height=480, fps=30)
    assert fake.properties[cv2.CAP_PROP_FRAME_WIDTH] == 640.0
    assert fake.properties[cv2.CAP_PROP_FRAME_HEIGHT] == 480.0
    assert fake.properties[cv2.CAP_PROP_FPS] == 30.0
    source.stop()
    assert fake.released.is_set()


def test_a_slow_consumer_gets_the_newest_frames_and_the_drops_are_counted():
    n_frames = 11
    fake = FakeCapture(n_frames=n_frames, after_frames="block")
    source = make_source(fake, queue_size=4, no_frame_timeout_s=5.0).start()
    try:
        assert fake.all_delivered.wait(2.0)  # every frame was queued before this read
        frames = [source.read(timeout_s=0.5) for _ in range(4)]
        assert [frame.index for frame in frames] == [7, 8, 9, 10]
        assert source.n_dropped == n_frames - 4
        assert source.read(timeout_s=0.05) is None  # nothing more: a timeout, not an error
    finally:
        source.stop()
        fake.unblock.set()


def test_stop_returns_quickly_while_the_capture_blocks_in_read():
    fake = FakeCapture(n_frames=0, after_frames="block")
    source = make_source(fake, no_frame_timeout_s=10.0).start()
    assert fake.all_delivered.wait(1.0)
    started_s = time.monotonic()
    source.stop()
    source.stop()  # idempotent
    assert time.monotonic() - started_s < 1.0
    assert list(source) == []  # a stopped source iterates to the end at once
    fake.unblock.set()
    assert fake.released.wait(1.0)  # the thread releases the capture once read() returns


def test_a_camera_that_fails_to_open_gives_one_line_error():
    fake = FakeCapture(opens=False)
    with pytest.raises(CameraError) as caught:
        CameraSource(7, capture_factory=lambda camera: fake)
    message = str(caught.value)
    assert isinstance(caught.value, StreamerError)
    assert "\n" not in message and "camera 7 cannot be opened" in message
    assert "--camera N" in message
    assert fake.released.is_set()


def test_a_camera_that_stops_delivering_ends_the_iteration_with_an_error():
    fake = FakeCapture(n_frames=3, after_frames="fail")
    source = make_source(fake, no_frame_timeout_s=0.2)
    received = []
    started_s = time.monotonic()
    with pytest.raises(CameraError, match="stopped delivering frames"), source:
        for frame in source:
            received.append(frame.index)
    assert received == [0, 1, 2]
    assert time.monotonic() - started_s < 1.5


def test_a_read_that_hangs_ends_the_iteration_with_an_error():
    fake = FakeCapture(n_frames=2, after_frames="block")
    started_s = time.monotonic()
    source = make_source(fake, no_frame_timeout_s=0.2)
    with pytest.raises(CameraError, match="stopped delivering frames"), source:
        for _ in source:
            pass
    assert time.monotonic() - started_s < 1.5
    fake.unblock.set()


def test_a_missing_real_camera_fails_fast_with_a_clear_error():
    started_s = time.monotonic()
    with pytest.raises(CameraError) as caught:
        CameraSource(99)
    assert time.monotonic() - started_s < 3.0
    assert "camera 99 cannot be opened" in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_device_path_fails_fast_with_a_clear_error():
    started_s = time.monotonic()
    with pytest.raises(CameraError, match="/dev/video99"):
        CameraSource("/dev/video99")
    assert time.monotonic() - started_s < 3.0


def test_the_opencv_backend_reports_a_missing_camera_quickly():
    from streamer.sources.camera import _open_opencv_capture

    started_s = time.monotonic()
    capture = _open_opencv_capture(99)
    assert not capture.isOpened()
    capture.release()
    assert time.monotonic() - started_s < 3.0


def test_list_cameras_is_empty_and_fast_without_video_devices():
    from streamer.sources.camera import _video_devices

    if _video_devices():
        pytest.skip("this machine has /dev/video* devices")
    started_s = time.monotonic()
    assert list_cameras() == []
    assert time.monotonic() - started_s < 1.0
