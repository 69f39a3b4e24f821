import numpy as np
import pytest

from streamer.bow.feature_tables import GROUP_COLUMNS, FeatureFileError, read_feature_csv
from streamer.feature_csv import FeatureCsvWriter, WordCsvWriter
from streamer.features.face_features import face_column_names
from streamer.features.lld.extractor import LLD_NAMES
from streamer.types import FeatureFrames, Word


def _write(path, names, values, t_s, separator=";"):
    with FeatureCsvWriter(path, names, "rec1", separator) as writer:
        writer.write(FeatureFrames(np.asarray(t_s, float), np.asarray(values, float), names))
    return path


def test_audio_file(tmp_path):
    values = np.arange(3 * 23, dtype=float).reshape(3, 23)
    table = read_feature_csv(_write(tmp_path / "a.csv", LLD_NAMES, values, [0, 0.01, 0.02]))
    assert table.kind == "audio" and table.recording == "rec1"
    t_s, frames = table.group("audio")
    assert np.allclose(t_s, [0, 0.01, 0.02]) and np.array_equal(frames, values)
    with pytest.raises(FeatureFileError, match="has no 'pose' columns"):
        table.group("pose")


def test_video_file_keeps_face_rows_only(tmp_path):
    names = face_column_names(blendshapes=False)
    values = np.random.default_rng(0).random((4, len(names)))
    values[:, 0] = [1, 0, 1, 1]  # no face in the second frame
    table = read_feature_csv(_write(tmp_path / "v.csv", names, values, [0, 0.04, 0.08, 0.12], ","))
    assert table.kind == "video"
    for group in ("pose", "eyes", "landmarks"):
        t_s, frames = table.group(group)
        assert np.allclose(t_s, [0, 0.08, 0.12])
        assert frames.shape == (3, len(GROUP_COLUMNS[group]))
    t_s, pose = table.group("pose")
    assert np.allclose(pose[0], values[0, 1:4], atol=1e-6)


def test_word_file(tmp_path):
    with WordCsvWriter(tmp_path / "w.csv") as writer:
        writer.write([Word("Hello", 0.1, 0.4, 0.9), Word("world", 0.5, 0.9, 0.8)])
    table = read_feature_csv(tmp_path / "w.csv")
    assert table.kind == "text" and table.recording == "w"
    assert [w.text for w in table.words] == ["Hello", "world"] and np.allclose(
        table.t_s, [0.4, 0.9]
    )


def test_bad_files(tmp_path):
    (tmp_path / "x.csv").write_text("a;b;c\n1;2;3\n")
    with pytest.raises(FeatureFileError, match="is not a features CSV of streamer"):
        read_feature_csv(tmp_path / "x.csv")
    (tmp_path / "y.csv").write_text("name;frameTime;f1\nr;0.0;1\nr;0.01\n")
    with pytest.raises(FeatureFileError, match="damaged: a row has not 3 columns"):
        read_feature_csv(tmp_path / "y.csv")
    (tmp_path / "z.csv").write_text("name;frameTime;f1\nr;0.0;abc\n")
    with pytest.raises(FeatureFileError, match="not a number"):
        read_feature_csv(tmp_path / "z.csv")
    with pytest.raises(FeatureFileError, match="cannot read"):
        read_feature_csv(tmp_path / "missing.csv")
