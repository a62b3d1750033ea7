"""`import kcnn` loads its parts on first use, and registers kcnn's layers once Keras is in."""

import json

import keras
import pytest

from tests.conftest import REPO, run_python

_IMPORT_ALONE = """
import json, sys
import kcnn, kcnn.train.config, kcnn.train.run, kcnn.data.datasets, kcnn.cli
light = {name: name in sys.modules for name in ("keras", "tensorflow", "jax", "torch")}
fit = kcnn.train.fit  # first use loads it
import kcnn.train.fit as module_path  # the function, as an eager `from .fit import fit` gave
print(json.dumps({"light": light, "fit": fit.__name__, "same": module_path is fit,
                  "keras": "keras" in sys.modules}))
"""


@pytest.mark.rotate
def test_import_kcnn_loads_no_keras_until_a_name_is_used(backend):
    result = run_python(_IMPORT_ALONE, backend)
    assert result["light"] == {"keras": False, "tensorflow": False, "jax": False, "torch": False}
    assert result["fit"] == "fit" and result["same"] and result["keras"]


_KCNN_FIRST = """
import json
import kcnn
import keras
kcnn.build_model("simple_cnn", input_shape=(8, 8, 1))  # any use registers everything
model = keras.saving.load_model({path!r}, safe_mode=True)
print(json.dumps([layer.__class__.__name__ for layer in model.layers]))
"""


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_keras_files_load_after_kcnn_is_used_whatever_the_import_order(backend):
    path = REPO / "tests" / "fixtures" / "legacy-layers.keras"
    names = run_python(_KCNN_FIRST.format(path=str(path)), backend)
    assert "RandomPadCrop" in names and "ZeroPadShortcut" in names


def test_dir_lists_the_lazy_names():
    import kcnn

    assert {"train", "data", "build_model", "load_all"} <= set(dir(kcnn))
    assert {"fit", "TrainConfig", "load_run", "RunFolder"} <= set(dir(kcnn.train))
    assert json.dumps(sorted(kcnn.train.__all__))  # a plain list of names
    assert keras.backend.backend()
