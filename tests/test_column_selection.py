"""Any numeric CSV into codebooks and bags: openXBOW's attribute strings or column names."""

import numpy as np
import pytest

from streamer.bow.codebook import Codebook
from streamer.bow.column_selection import ColumnSelection, codebook_slices, read_numeric_csv
from streamer.bow.feature_tables import FeatureFileError
from streamer.cli import main


def _write(path, rows, header=None, separator=";"):
    lines = ([separator.join(header)] if header else []) + [
        separator.join(str(cell) for cell in row) for row in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _frames(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return np.arange(n) * 0.01, rng.normal(size=(n, 5))


def test_attributes_without_header_and_comma_separated(tmp_path):
    t_s, x = _frames(20)
    rows = [["'rec7'", f"{t:.2f}", *x[i, :2], "label", *x[i, 2:]] for i, t in enumerate(t_s)]
    path = _write(tmp_path / "plain.csv", rows, separator=",")
    table = read_numeric_csv(path, ColumnSelection("nt1[2]c2[3]"))
    assert table.recording == "rec7" and table.kind == "numeric"
    np.testing.assert_allclose(table.t_s, np.round(t_s, 2))
    np.testing.assert_allclose(table.values, x, rtol=1e-12)
    assert table.columns == ("column3", "column4", "column6", "column7", "column8")
    assert codebook_slices(ColumnSelection("nt1[2]c2[3]")) == [slice(0, 2), slice(2, 5)]


def test_columns_by_name_find_the_time_column_and_skip_the_rest(tmp_path):
    t_s, x = _frames(10)
    header = ["frameTime", "a", "b", "c", "d", "e"]
    path = _write(tmp_path / "mine.csv", [[t, *row] for t, row in zip(t_s, x, strict=True)], header)
    table = read_numeric_csv(path, ColumnSelection(columns=(("e", "b"),)))
    assert table.recording == "mine" and table.columns == ("e", "b")
    np.testing.assert_allclose(table.values, x[:, [4, 1]])


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (dict(attributes="nt1[3"), "bad attribute string"),
        (dict(attributes="n1[5]"), "exactly one time column"),
        (dict(attributes="nt2[5]"), "without gaps"),
        (dict(attributes="nt1[5]", columns=(("a",),)), "not both"),
    ],
)
def test_bad_selections_are_one_line_errors(selection, message):
    with pytest.raises(FeatureFileError, match=message):
        ColumnSelection(**selection)


def test_files_that_do_not_fit_are_one_line_errors(tmp_path):
    t_s, x = _frames(4)
    path = _write(tmp_path / "f.csv", [["r", t, *row] for t, row in zip(t_s, x, strict=True)])
    with pytest.raises(FeatureFileError, match="has 7 columns but the attributes"):
        read_numeric_csv(path, ColumnSelection("nt1[4]"))
    with pytest.raises(FeatureFileError, match="no time column"):
        read_numeric_csv(path, ColumnSelection(columns=(("a",),)))
    two = _write(tmp_path / "two.csv", [["a", 0.0, 1.0], ["b", 0.01, 2.0]])
    with pytest.raises(FeatureFileError, match="holds 2 recordings"):
        read_numeric_csv(two, ColumnSelection("nt1"))
    bad = _write(tmp_path / "bad.csv", [["a", 0.0, 1.0], ["a", 0.01, "x"]])
    with pytest.raises(FeatureFileError, match="bad.csv is damaged"):
        read_numeric_csv(bad, ColumnSelection("nt1"))


def test_fit_and_bag_any_csv_through_the_command_line(tmp_path):
    t_s, x = _frames()
    header = ["name", "time", "a", "b", "c", "d", "e"]
    rows = [["rec", f"{t:.2f}", *row] for t, row in zip(t_s, x, strict=True)]
    path = _write(tmp_path / "llds.csv", rows, header)
    first, second = tmp_path / "ab.npz", tmp_path / "cde.txt"
    for columns, book in (("a,b", first), ("c,d,e", second)):
        fit = ["codebooks", "fit", "--columns", columns, "--input", str(path), "--out", str(book)]
        assert main([*fit, "--size", "8"]) == 0
    assert Codebook.load(first).feature_names == ("a", "b")
    out = tmp_path / "bags"
    assert main([
        "features", "bow", str(path), "--columns", "a,b", "--columns", "c,d,e",
        "--codebook", str(first), "--codebook", str(second), "--out", str(out),
    ]) == 0  # fmt: skip
    bags = np.loadtxt(out / "rec.csv", delimiter=";", usecols=range(2, 18))
    assert bags.shape == (40, 16) and (bags[:, :8] > 0).any() and (bags[:, 8:] > 0).any()
    # the same bags by openXBOW attribute string
    again = tmp_path / "again"
    assert main([
        "features", "bow", str(path), "--attributes", "nt1[2]2[3]",
        "--codebook", str(first), "--codebook", str(second), "--out", str(again),
    ]) == 0  # fmt: skip
    assert (again / "rec.csv").read_text() == (out / "rec.csv").read_text()


def test_a_codebook_of_other_columns_is_refused(tmp_path, capsys):
    t_s, x = _frames()
    header = ["frameTime", "a", "b", "c"]
    path = _write(
        tmp_path / "l.csv", [[t, *row[:3]] for t, row in zip(t_s, x, strict=True)], header
    )
    book = tmp_path / "ab.npz"
    fit = ["codebooks", "fit", "--columns", "a,b", "--input", str(path), "--out", str(book)]
    assert main([*fit, "--size", "4"]) == 0
    bow = ["features", "bow", str(path), "--columns", "b,c", "--codebook", str(book)]
    assert main([*bow, "--out", str(tmp_path / "o")]) == 2
    assert "expects feature 0 to be 'a'" in capsys.readouterr().err
    assert main([*fit[:2], "--group", "audio", *fit[2:]]) == 2
