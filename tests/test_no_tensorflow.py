"""kcnn imports and builds every model where TensorFlow cannot be imported."""

import pytest

from .conftest import BLOCK_TENSORFLOW, run_python
from .models.small import SMALL_KWARGS, WRAPPER_KWARGS

_BLOCKED = (
    BLOCK_TENSORFLOW
    + """
import json, os, sys
{unset}
import kcnn, keras
from tests.models.small import SMALL_KWARGS, WRAPPER_KWARGS
shapes = {{}}
for name in {names}:
    model = kcnn.build_model(name, **{{**SMALL_KWARGS, **WRAPPER_KWARGS}}[name])
    shapes[name] = list(model.output_shape)
loaded = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))
try:
    import tensorflow
    importable = True
except ImportError:
    importable = False
print(json.dumps({{"backend": keras.backend.backend(), "shapes": shapes, "tf": loaded,
                   "tf_importable": importable}}))
"""
)


@pytest.mark.rotate
def test_import_and_build_every_model_without_tensorflow(backend):
    # the JAX and PyTorch runs check their own backend; the TensorFlow run checks PyTorch
    backend_choice = "torch" if backend == "tensorflow" else backend
    result = run_python(_BLOCKED.format(unset="", names="kcnn.list_models()"), backend_choice)
    assert result["backend"] == backend_choice
    assert set(result["shapes"]) == set(SMALL_KWARGS) | set(WRAPPER_KWARGS)
    assert all(shape[-1] == 10 for shape in result["shapes"].values())
    assert result["tf"] == [] and result["tf_importable"] is False


@pytest.mark.rotate
def test_backend_is_chosen_among_installed_ones_when_none_is_configured(tmp_path):
    """With no KERAS_BACKEND and no keras.json, kcnn picks an installed backend, not TF."""
    code = _BLOCKED.format(unset='os.environ.pop("KERAS_BACKEND", None)', names='["lenet5"]')
    result = run_python(code, "tensorflow", env={"KERAS_HOME": str(tmp_path)})
    assert result["backend"] == "jax"
    assert result["shapes"] == {"lenet5": [None, 10]}


@pytest.mark.rotate
def test_a_keras_json_naming_a_missing_tensorflow_is_not_a_choice(tmp_path):
    """Keras writes keras.json with "tensorflow" on its first import, also where only JAX
    or PyTorch is installed; kcnn then picks an installed backend."""
    (tmp_path / "keras.json").write_text('{"backend": "tensorflow"}')
    code = _BLOCKED.format(unset='os.environ.pop("KERAS_BACKEND", None)', names='["lenet5"]')
    result = run_python(code, "tensorflow", env={"KERAS_HOME": str(tmp_path)})
    assert result["backend"] == "jax"
    (tmp_path / "keras.json").write_text('{"backend": "torch"}')
    assert run_python(code, "tensorflow", env={"KERAS_HOME": str(tmp_path)})["backend"] == "torch"
