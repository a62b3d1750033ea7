import json
import platform
import re
import shutil
from pathlib import Path

import keras
import pytest

import kcnn
from kcnn.train.environment import differences, environment
from kcnn.train.fit import _settings
from kcnn.train.run import resume_settings

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy-run"


def test_environment_names_the_versions_the_device_and_the_commit():
    env = environment()
    assert env["python"] == platform.python_version()
    assert env["keras"] == keras.__version__ and env["kcnn"] == kcnn.__version__
    assert env["backend"] == keras.backend.backend()
    assert re.fullmatch(r"\d+\.\d+.*", env["backend_version"])
    assert re.fullmatch(r"\d+\.\d+.*", env["numpy"])
    assert env["device"] and env["platform"]
    if (Path(kcnn.__file__).parents[1] / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", env["git"]["commit"])
        assert isinstance(env["git"]["dirty"], bool)
    json.dumps(env)


def test_differences_name_what_changed():
    env = environment()
    assert differences(env, env) == []
    assert differences(None, env) == []
    older = {**env, "keras": "3.0.0", "device": "another machine"}
    assert differences(older, env) == [f"keras 3.0.0 -> {keras.__version__}"]


def test_a_run_records_its_environment_and_resuming_warns_when_versions_differ(tmp_path):
    run = shutil.copytree(LEGACY, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    assert _settings(None, run, None)  # an old run records none: no warning
    config["environment"] = {**environment(), "keras": "3.0.0"}
    (run / "config.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning, match=rf"keras 3\.0\.0 -> {re.escape(keras.__version__)}"):
        _settings(None, run, None)
    _, carried = resume_settings(config, None, None, kcnn.train.TrainConfig)
    assert "environment" not in carried  # the resumed run records its own


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_fit_writes_the_environment_into_config_json(tmp_path):
    data = kcnn.data.load_dataset("digits", validation_split=0.1).subset(per_class=10)
    model = kcnn.build_model("mlp", input_shape=data.input_shape, hidden_units=(8,))
    config = kcnn.train.TrainConfig(epochs=1, verbose=0, checkpoint=False)
    _, path = kcnn.train.fit(model, data, config, run_dir=tmp_path)
    stored = json.loads((path / "config.json").read_text())["environment"]
    assert stored["keras"] == keras.__version__ and stored["backend"] == keras.backend.backend()
