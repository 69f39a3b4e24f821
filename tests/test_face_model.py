import shutil
import zipfile

import pytest

from streamer.features.face import model
from streamer.features.face.model import FaceModelError, resolve_face_model

UNREACHABLE_URL = "http://127.0.0.1:9/face_landmarker.task"  # discard port: refused at once


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """No shipped copy, no environment variable, an empty user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(model.ENV_VARIABLE, raising=False)
    monkeypatch.setattr(model, "SHIPPED_MODEL", tmp_path / "package" / model.MODEL_FILENAME)
    return tmp_path / "cache" / "streamer" / model.MODEL_FILENAME


@pytest.fixture
def served_model(http_folder, shared_dir):
    """The shared model file served over HTTP on the loopback interface."""
    folder, base = http_folder
    shutil.copy(shared_dir / "models" / model.MODEL_FILENAME, folder / model.MODEL_FILENAME)
    return folder, f"{base}/{model.MODEL_FILENAME}"


def _fake_task(path):
    """A zip archive, as a .task bundle is (the resolver does not open the model)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("face_landmarks_detector.tflite", b"model")
    return path


def test_config_path_comes_first(tmp_path, monkeypatch, empty_cache):
    mine = _fake_task(tmp_path / "mine.task")
    monkeypatch.setenv(model.ENV_VARIABLE, str(tmp_path / "other.task"))
    assert resolve_face_model(str(mine), url=UNREACHABLE_URL) == mine


def test_environment_variable_comes_second(tmp_path, monkeypatch, empty_cache):
    mine = _fake_task(tmp_path / "env.task")
    monkeypatch.setenv(model.ENV_VARIABLE, str(mine))
    assert resolve_face_model("", url=UNREACHABLE_URL) == mine


def test_the_shipped_copy_is_used_offline_with_nothing_set(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(model.ENV_VARIABLE, raising=False)
    assert model.SHIPPED_MODEL.is_file(), "the package ships face_landmarker.task"
    assert resolve_face_model("", url=UNREACHABLE_URL) == model.SHIPPED_MODEL
    assert model._sha256(model.SHIPPED_MODEL) == model.MODEL_SHA256
    assert not (tmp_path / "cache").exists()


def test_a_damaged_shipped_copy_is_not_used(tmp_path, monkeypatch, empty_cache):
    damaged = tmp_path / "package" / model.MODEL_FILENAME
    damaged.parent.mkdir()
    damaged.write_bytes(b"truncated")
    with pytest.raises(FaceModelError, match="could not be downloaded"):
        resolve_face_model("", url=UNREACHABLE_URL)


def test_a_named_file_that_is_not_a_model_is_a_one_line_error(tmp_path, empty_cache):
    (tmp_path / "notes.task").write_text("not a model")
    with pytest.raises(FaceModelError, match="is not a MediaPipe Face Landmarker model"):
        resolve_face_model(str(tmp_path / "notes.task"), url=UNREACHABLE_URL)
    with pytest.raises(FaceModelError, match="which is not a file"):
        resolve_face_model(str(tmp_path), url=UNREACHABLE_URL)


def test_missing_named_file_is_a_one_line_error(tmp_path, empty_cache):
    with pytest.raises(
        FaceModelError, match="face.model_path names .*nope.task, which does not exist"
    ):
        resolve_face_model(str(tmp_path / "nope.task"), url=UNREACHABLE_URL)


def test_no_network_names_the_file_and_where_to_put_it(empty_cache):
    with pytest.raises(FaceModelError) as info:
        resolve_face_model("", url=UNREACHABLE_URL)
    message = str(info.value)
    assert "could not be downloaded" in message and str(empty_cache) in message
    assert "\n" not in message
    assert not empty_cache.exists()


def test_download_checks_the_sha256_and_fills_the_cache(served_model, empty_cache):
    _, url = served_model
    assert resolve_face_model("", url=url) == empty_cache
    assert model._sha256(empty_cache) == model.MODEL_SHA256
    # the cached copy is used without the network from now on
    assert resolve_face_model("", url=UNREACHABLE_URL) == empty_cache


def test_download_with_a_wrong_checksum_is_refused(served_model, empty_cache):
    folder, url = served_model
    (folder / model.MODEL_FILENAME).write_bytes(b"not the model")
    with pytest.raises(FaceModelError, match="has sha256 .* not the expected"):
        resolve_face_model("", url=url)
    assert not empty_cache.exists()


def test_corrupt_cached_copy_is_replaced(served_model, empty_cache):
    _, url = served_model
    empty_cache.parent.mkdir(parents=True)
    empty_cache.write_bytes(b"damaged")
    assert resolve_face_model("", url=url) == empty_cache
    assert model._sha256(empty_cache) == model.MODEL_SHA256
