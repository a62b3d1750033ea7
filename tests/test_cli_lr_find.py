"""``kcnn lr-find``."""

import re

from kcnn import cli


def test_lr_find_writes_the_plot_and_suggests_a_rate_in_the_sweep(tmp_path, capsys):
    out = tmp_path / "lr.png"
    code = cli.main(["lr-find", "--model", "mlp", "--steps", "30", "--start-lr", "1e-5",
                     "--end-lr", "1", "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and out.stat().st_size > 5000
    rate = float(re.search(r"suggested learning rate (\S+)", printed).group(1))
    assert 1e-5 <= rate <= 1
    assert f"--lr {rate:.3g}" in printed and "kcnn train --model mlp" in printed


def test_lr_find_bad_flags_exit_2(tmp_path, capsys):
    assert cli.main(["lr-find", "--steps", "1", "--out", str(tmp_path / "x.png")]) == 2
    assert "--steps must be an integer >= 2" in capsys.readouterr().err
    assert cli.main(["lr-find", "--start-lr", "1", "--end-lr", "0.1"]) == 2
    assert "0 < start < end" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
