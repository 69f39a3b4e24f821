"""Setting up a session: a file replay or a live camera and microphone, as a Pipeline.

:func:`stream` is the Python API; ``streamer replay`` and ``streamer monitor`` use the same
functions, so a program gets exactly the estimates the CSV holds.
"""

from __future__ import annotations

from pathlib import Path

from streamer.config import Config, load_config
from streamer.runtime.feeds import ModalityFeed, PacedFeed
from streamer.runtime.modality_stages import AudioStage, FaceStage, TextStage
from streamer.runtime.model_bundle import AffectModel, load_affect_model, model_config_path
from streamer.runtime.pipeline import Pipeline


def session_config(
    config_path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    models_dir: str | Path | None = None,
) -> Config:
    """The settings of a session: defaults, the models folder's ``config.yaml``, the user's.

    ``models_dir`` (or ``runtime.models_dir`` in the user's settings) names the models
    folder; empty: the shipped default model.
    """
    if models_dir is not None:
        overrides = [*overrides, f"runtime.models_dir={models_dir}"]
    chosen = load_config(config_path, overrides).runtime.models_dir or None
    return load_config(config_path, overrides, model_file=model_config_path(chosen))


def load_session_model(config: Config) -> AffectModel:
    """The networks and codebooks ``config.runtime`` names (default: the shipped ones)."""
    return load_affect_model(config.runtime.models_dir or None, config.runtime.codebooks_dir or None)


def _stage_factories(model: AffectModel, config: Config, with_video: bool, with_audio: bool):
    """Factories of the modality stages, called in the worker threads."""

    def face():
        from streamer.features.face.tracker import FaceTracker

        books = [model.codebooks[g] for g in model.groups["video"]]
        return FaceStage(books, FaceTracker(config.face), config.bow, config.calibration)

    def audio():
        return AudioStage(model.codebooks["audio"], config.audio, config.bow, config.calibration)

    def text():
        return TextStage(model.codebooks["text"], config.bow)

    def speech(realtime: bool):
        from streamer.runtime.speech_process import SpeechProcess

        return SpeechProcess(config.speech, realtime)

    uses = model.modalities
    with_text = with_audio and "text" in uses and config.runtime.speech
    return {
        "face": face if with_video and "video" in uses else None,
        "audio": audio if with_audio else None,
        "text": text if with_text else None,
        "speech": speech if with_text else None,
    }


def replay_session(
    path: str | Path, config: Config, model: AffectModel, realtime: bool = False
) -> Pipeline:
    """A pipeline over a recorded file, as fast as possible or at the file's own pace.

    Raises
    ------
    MediaFileError
        If the file is missing, empty, or not a video or audio file.
    """
    from streamer.sources.media_file import (
        MediaFileSource,
        iter_audio_blocks,
        iter_video_frames,
        probe_media,
    )

    path = Path(path)
    has_video, has_audio, _ = probe_media(path)
    rt = config.runtime
    fps = rt.face_fps or None
    if realtime:
        video = ModalityFeed(lambda start_s: PacedFeed(
            iter_video_frames(path, fps), lambda f: f.t_s, start_s, rt.video_queue_frames))  # fmt: skip
        audio = ModalityFeed(lambda start_s: PacedFeed(
            iter_audio_blocks(path), _block_end_s, start_s, rt.audio_queue_blocks))  # fmt: skip
    else:
        video = ModalityFeed(lambda _: MediaFileSource(path, fps))
        audio = ModalityFeed(lambda _: iter_audio_blocks(path))
    stages = _stage_factories(model, config, has_video, has_audio)
    return Pipeline(
        model,
        config,
        video if stages["face"] else None,
        audio if stages["audio"] else None,
        stages,
        realtime=realtime,
    )


def live_session(
    config: Config,
    model: AffectModel,
    camera: int | str | None = 0,
    microphone: int | str | None = "",
    open_camera=None,
    open_microphone=None,
) -> Pipeline:
    """A pipeline over a live camera and microphone (either may be None: not used).

    The devices are opened here, so that a missing camera or microphone is a clear error
    before the session starts; they start capturing on the session's clock once the
    workers are ready, and a device that fails later is reopened by the pipeline.

    Parameters
    ----------
    camera : int, str or None
        Camera index or device path; None: no video.
    microphone : int, str or None
        Input device index or part of its name ("" the default); None: no audio.
    open_camera, open_microphone : callable, optional
        ``open_camera(camera)`` / ``open_microphone(microphone)`` return an opened, not yet
        started source with ``start(session_start_s)``, iteration, ``stop()`` and
        ``n_dropped`` (default: :class:`CameraSource`, :class:`MicrophoneSource`; tests
        pass fakes).
    """
    from streamer.sources.camera import CameraSource
    from streamer.sources.microphone import MicrophoneSource

    rt, mic = config.runtime, config.microphone
    open_camera = open_camera or (
        lambda device: CameraSource(device, queue_size=rt.video_queue_frames)
    )
    open_microphone = open_microphone or (
        lambda device: MicrophoneSource(device, block_s=mic.block_s, queue_blocks=mic.queue_blocks)
    )
    feeds = {}
    for name, device, opener in (("video", camera, open_camera),
                                 ("audio", microphone, open_microphone)):  # fmt: skip
        if device is None:
            continue
        try:
            first_then = _FirstThenOpener(opener(device), lambda o=opener, d=device: o(d))
        except BaseException:  # release the device opened before this one failed
            for feed in feeds.values():
                feed.close()
            raise
        feeds[name] = ModalityFeed(first_then, reopen=True, close=first_then.close)
    stages = _stage_factories(model, config, "video" in feeds, "audio" in feeds)
    return Pipeline(model, config, feeds.get("video"), feeds.get("audio"), stages, realtime=True)


class _FirstThenOpener:
    """A feed opener that starts the already opened ``device`` first, then opens anew.

    The devices are opened before the session (so a missing one is an early, clear
    error) and started on the session's clock once the workers are ready; ``close``
    releases one the session never got to start.
    """

    def __init__(self, device, opener):
        self._pending, self._opener = [device], opener

    def __call__(self, start_s: float):
        return (self._pending.pop() if self._pending else self._opener()).start(start_s)

    def close(self) -> None:
        while self._pending:
            self._pending.pop().stop()


def _block_end_s(block) -> float:
    return block.t_s + len(block.samples) / block.sample_rate_hz


def stream(
    source: str | Path | int,
    *,
    realtime: bool | None = None,
    microphone: int | str | None = "",
    models: str | Path | None = None,
    config: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> Pipeline:
    """Estimates of arousal, valence and liking every 0.1 s from a video file or a camera.

    Parameters
    ----------
    source : path or int
        A video (or audio) file, or a camera index.
    realtime : bool, optional
        Files only: at the file's own pace (True) or as fast as possible (default).
    microphone : int, str or None
        Cameras only: the input device ("" the default; None: no audio).
    models : path, optional
        A models folder; default: the shipped model.
    config : path, optional
        A YAML file of settings; ``overrides`` are ``section.key=value`` strings.

    Returns
    -------
    Pipeline
        Iterate it for :class:`~streamer.types.Estimate` objects; ``stop()`` ends it from
        another thread; leaving the loop releases every device. ``stats`` tells drops,
        coverage and stage times.

    Examples
    --------
    >>> for estimate in streamer.stream("talk.mp4"):  # doctest: +SKIP
    ...     print(estimate.t_s, estimate.arousal, estimate.valence)
    """
    settings = session_config(config, overrides, models)
    model = load_session_model(settings)
    if isinstance(source, int):
        return live_session(settings, model, camera=source, microphone=microphone)
    return replay_session(source, settings, model, realtime=bool(realtime))
