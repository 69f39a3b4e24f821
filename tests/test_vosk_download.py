"""``streamer models download vosk`` against a model list served on the loopback interface."""

import hashlib
import io
import json
import zipfile

import pytest

from streamer.cli import main
from streamer.features.speech.vosk_models import (
    VoskDownloadError,
    cached_vosk_models,
    choose_model,
    download_vosk_model,
)


def _model_zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr(f"{name}/am/final.mdl", b"acoustic model " * 1000)
        zipped.writestr(f"{name}/conf/model.conf", b"--sample-frequency=16000\n")
    return buffer.getvalue()


@pytest.fixture
def server(http_folder, tmp_path, monkeypatch):
    """The served folder and its URL, with the user cache in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return http_folder


def _publish(folder, base, md5=None):
    small, big = _model_zip("vosk-model-small-xx-0.1"), _model_zip("vosk-model-xx-0.2") * 2
    (folder / "small.zip").write_bytes(small)
    (folder / "big.zip").write_bytes(big)
    models = [
        {"lang": "xx-yy", "name": "vosk-model-xx-0.2", "url": f"{base}/big.zip",
         "md5": hashlib.md5(big).hexdigest(), "size": len(big), "obsolete": "false"},
        {"lang": "xx-yy", "name": "vosk-model-small-xx-0.1", "url": f"{base}/small.zip",
         "md5": md5 or hashlib.md5(small).hexdigest(), "size": len(small), "obsolete": "false"},
        {"lang": "xx-yy", "name": "vosk-model-small-xx-0.0", "url": f"{base}/gone.zip",
         "md5": "0", "size": 10, "obsolete": "true"},
    ]  # fmt: skip
    (folder / "model-list.json").write_text(json.dumps(models))
    return f"{base}/model-list.json"


def test_downloads_checks_and_unpacks_the_smallest_current_model(server, capsys):
    list_url = _publish(*server)
    path = download_vosk_model("xx", list_url=list_url)
    assert path.name == "vosk-model-small-xx-0.1"
    assert (path / "am" / "final.mdl").is_file() and (path / "conf" / "model.conf").is_file()
    assert cached_vosk_models() == [path]
    assert "MB" in capsys.readouterr().err  # the progress bar
    # a second call finds it in the cache
    assert download_vosk_model("xx-yy", list_url=list_url, show_progress=False) == path


def test_a_damaged_download_is_refused_and_nothing_is_kept(server):
    list_url = _publish(*server, md5="0" * 32)
    with pytest.raises(VoskDownloadError, match="arrived damaged"):
        download_vosk_model("xx", list_url=list_url, show_progress=False)
    assert cached_vosk_models() == []


def test_unknown_language_lists_the_known_ones():
    with pytest.raises(
        VoskDownloadError, match="no vosk model for language 'zz': choose one of de, en-us"
    ):
        choose_model(
            [{"lang": "en-us", "name": "a", "size": 1}, {"lang": "de", "name": "b", "size": 1}],
            "zz",
        )


def test_no_network_is_a_one_line_error(server):
    with pytest.raises(VoskDownloadError) as info:
        download_vosk_model(
            "xx", list_url="http://127.0.0.1:9/model-list.json", show_progress=False
        )
    assert "cannot download the vosk model list" in str(info.value) and "\n" not in str(info.value)


def test_command_line(server, capsys):
    list_url = _publish(*server)
    assert main(["models", "download", "vosk", "--lang", "xx", "--list-url", list_url]) == 0
    assert "vosk-model-small-xx-0.1" in capsys.readouterr().out
    assert main(["models", "download", "vosk", "--lang", "zz", "--list-url", list_url]) == 2
    assert capsys.readouterr().err.startswith("streamer: error: no vosk model for language 'zz'")
