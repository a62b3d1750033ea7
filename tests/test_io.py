"""kcnn._io: the one atomic writer."""

import json
import os
import stat

import pytest

from kcnn import _io


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_text_json_and_bytes_get_the_umask_mode(tmp_path, umask_022):
    _io.write_text(tmp_path / "a.md", "hello")
    _io.write_json(tmp_path / "b.json", {"x": [1, 2]})
    _io.write_bytes(tmp_path / "sub" / "c.bin", b"\x00\x01")
    assert (tmp_path / "a.md").read_text() == "hello"
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": [1, 2]}
    assert (tmp_path / "sub" / "c.bin").read_bytes() == b"\x00\x01"
    for name in ("a.md", "b.json", "sub/c.bin"):
        assert _mode(tmp_path / name) == 0o644, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.json", "sub"]


def test_a_stricter_umask_is_honoured(tmp_path):
    old = os.umask(0o077)
    try:
        _io.write_text(tmp_path / "a.md", "x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.md") == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="killed"):
        with _io.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".keras"
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    stale = [
        ".checkpoint.json.abc123.tmp",  # this module's names
        ".model.keras.1f2e3d4c.tmp.keras",
        ".checkpoint.json.k2j3h4.tmp",  # earlier kcnn versions' names
        ".model.tmp.keras",
        ".curves.png.tmp.png",
    ]
    for name in stale:
        (tmp_path / name).write_text("x")
    (tmp_path / ".hidden").write_text("keep")
    (tmp_path / "history.tmp").write_text("keep")  # not a hidden temporary
    _io.write_text(tmp_path / "checkpoint.json", "{}")  # clears only its own
    left = {p.name for p in tmp_path.iterdir()}
    assert ".checkpoint.json.abc123.tmp" not in left and ".model.tmp.keras" in left
    removed = {p.name for p in _io.remove_stale(tmp_path)}
    assert removed == set(stale) - {".checkpoint.json.abc123.tmp", ".checkpoint.json.k2j3h4.tmp"}
    assert {p.name for p in tmp_path.iterdir()} == {".hidden", "history.tmp", "checkpoint.json"}


def test_figures_and_models_are_written_atomically(tmp_path, umask_022):
    import keras
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1])
    _io.save_figure(fig, tmp_path / "f.png")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    _io.save_model(model, tmp_path / "m.keras")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert keras.saving.load_model(tmp_path / "m.keras").output_shape == (None, 2)
    assert _mode(tmp_path / "f.png") == _mode(tmp_path / "m.keras") == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "m.keras"]
