"""``kcnn predict`` and ``kcnn evaluate``."""

import csv
import json

import numpy as np
from PIL import Image

from kcnn import cli


def _write_digits(digits, folder, n=3):
    folder.mkdir()
    x = digits.x_test if digits.x_test.shape[-1] == 1 else digits.x_test.transpose(0, 2, 3, 1)
    for i in range(n):
        Image.fromarray(np.round(x[i, ..., 0] * 255).astype("uint8")).save(folder / f"{i}.png")
    return folder


def test_predict_prints_a_table_and_writes_csv(digits_run, digits, tmp_path, capsys):
    folder = _write_digits(digits, tmp_path / "images")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    code = cli.main(["predict", str(digits_run), str(folder), "--top-k", "2",
                     "--csv", str(tmp_path / "p.csv")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "top 2 classes" in out and "0.png" in out and "broken.jpg" in out
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [r["file"].rsplit("/", 1)[-1] for r in rows] == ["0.png", "1.png", "2.png",
                                                             "broken.jpg"]  # fmt: skip
    assert rows[0]["class_1"] in [str(i) for i in range(10)] and rows[-1]["error"]


def test_predict_errors_exit_2_without_a_traceback(digits_run, digits, tmp_path, capsys):
    folder = _write_digits(digits, tmp_path / "images", 1)
    assert cli.main(["predict", str(digits_run), str(folder), "--top-k", "11"]) == 2
    err = capsys.readouterr().err
    assert "--top-k must be between 1 and 10" in err and "Traceback" not in err
    assert cli.main(["predict", str(digits_run), str(tmp_path / "none.png")]) == 2
    assert "No such image file or folder" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "no-run"), str(folder)]) == 2
    assert "No such run folder or .keras file" in capsys.readouterr().err


def test_evaluate_writes_its_files(digits_run, tmp_path, capsys):
    out = tmp_path / "eval"
    assert cli.main(["evaluate", str(digits_run), "--split", "val", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "digits val set (144 images)" in printed and "| class | precision |" in printed
    assert json.loads((out / "evaluation.json").read_text())["images"] == 144
    assert (out / "confusion.png").is_file() and (out / "evaluation.md").is_file()


def test_a_csv_that_cannot_be_written_exits_2(digits_run, digits, tmp_path, capsys):
    folder = _write_digits(digits, tmp_path / "images", 1)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "p.csv").mkdir()  # a folder where the file should go
    code = cli.main(["predict", str(digits_run), str(folder), "--csv",
                     str(tmp_path / "locked" / "p.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "kcnn predict: error:" in err and "Traceback" not in err
