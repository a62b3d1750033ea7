import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import kcnn
from kcnn import _io
from kcnn.data.contract import Contract, read_contract

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_run_folder_model_carries_its_contract(digits_run):
    contract = read_contract(digits_run / "model.keras")
    assert contract.class_names == tuple(str(i) for i in range(10))
    assert contract.input_shape == (8, 8, 1)
    assert contract.channels == 1 and contract.image_size == (8, 8)
    assert contract.pixel_range == (0.0, 1.0) and contract.mean is None
    assert contract.dataset == "digits"
    assert {"horizontal_flip", "vertical_flip", "color"} <= set(contract.label_rules)


def test_the_contract_lives_in_keras_metadata_and_keras_still_loads_the_file(digits_run):
    with zipfile.ZipFile(digits_run / "model.keras") as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["keras_version"] == keras.__version__
    assert metadata["kcnn"]["inference"]["version"] == 1
    kcnn.load_all()
    model = keras.saving.load_model(digits_run / "model.keras", safe_mode=True)
    assert model.output_shape == (None, 10)


def test_contract_round_trips_and_refuses_a_newer_version():
    contract = Contract(("cat", "dog"), (32, 32, 3), mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2),
                        dataset="pets", label_rules={"vertical_flip": "upright"})  # fmt: skip
    assert Contract.from_dict(json.loads(json.dumps(contract.to_dict()))) == contract
    with pytest.raises(ValueError, match=r"version 2; this kcnn reads versions up to 1"):
        Contract.from_dict({**contract.to_dict(), "version": 2}, source="x.keras")
    with pytest.raises(ValueError, match=r"lacks \['class_names'\]"):
        Contract.from_dict({"input_shape": [8, 8, 1]})


def test_classifier_save_and_load_keep_class_names(tmp_path):
    model = kcnn.build_model("mlp", input_shape=(8, 8, 1), num_classes=3, hidden_units=(8,))
    names = ("circle", "square", "triangle")
    classifier = kcnn.infer.Classifier(model, Contract.for_model(model, class_names=names))
    classifier.save(tmp_path / "shapes.keras")
    loaded = kcnn.infer.load(tmp_path / "shapes.keras")
    assert loaded.class_names == names
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(loaded.model.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)  # fmt: skip


def test_a_keras_file_without_contract_loads_with_numbered_classes():
    classifier = kcnn.infer.load(FIXTURES / "legacy-layers.keras")
    k = int(classifier.model.output_shape[-1])
    assert classifier.class_names == tuple(str(i) for i in range(k))


def test_an_old_run_folder_gets_its_data_sets_class_names(tmp_path):
    classifier = kcnn.infer.load(FIXTURES / "legacy-run")
    assert read_contract(FIXTURES / "legacy-run" / "model.keras") is None
    assert classifier.class_names == tuple(str(i) for i in range(10))
    assert "horizontal_flip" in classifier.contract.label_rules
    assert classifier.run is not None


def test_fashion_names_come_from_the_data_set_name():
    model = kcnn.build_model("mlp", input_shape=(28, 28, 1), num_classes=10, hidden_units=(8,))
    contract = Contract.for_model(model, dataset="fashion_mnist")
    assert contract.class_names[0] == "T-shirt/top" and "vertical_flip" in contract.label_rules


def test_metadata_of_a_file_that_is_not_a_zip_is_empty(tmp_path):
    (tmp_path / "x.keras").write_bytes(b"garbage")
    assert _io.read_keras_metadata(tmp_path / "x.keras") == {}
    assert read_contract(tmp_path / "x.keras") is None


def test_load_says_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such run folder or .keras file"):
        kcnn.infer.load(tmp_path / "missing")
    (tmp_path / "model.h5").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"path must be a run folder or a \.keras file"):
        kcnn.infer.load(tmp_path / "model.h5")
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a .keras model file"):
        kcnn.infer.load(tmp_path / "bad.keras")
    with pytest.raises(FileNotFoundError, match="not a kcnn run folder"):
        kcnn.infer.load(tmp_path)
    with pytest.raises(TypeError, match="path must be a run folder or a .keras file"):
        kcnn.infer.load(3)
