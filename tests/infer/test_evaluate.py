import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, classification_report, log_loss, top_k_accuracy_score

import kcnn
from kcnn.infer.evaluate import expected_calibration_error


@pytest.fixture(scope="module")
def evaluation(digits_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    return kcnn.infer.evaluate(digits_run, out=out), out


def test_evaluation_numbers_equal_sklearns(evaluation, digits):
    result, _ = evaluation
    p, y = result.interpretation.probabilities, digits.y_test
    assert result.images == len(y) == 360
    assert result.accuracy == pytest.approx(accuracy_score(y, p.argmax(-1)))
    assert result.accuracy > 0.7  # four epochs on the digits learn something
    assert result.top5_accuracy == pytest.approx(
        top_k_accuracy_score(y, p, k=5, labels=np.arange(10))
    )
    assert p[np.arange(len(y)), y].min() > 1e-7  # so that clipping plays no part
    normalized = p / p.sum(axis=-1, keepdims=True)  # float32 rows sum to 1 within 1e-7
    assert result.loss == pytest.approx(log_loss(y, normalized, labels=np.arange(10)), rel=1e-5)
    report = classification_report(y, p.argmax(-1), output_dict=True, zero_division=0,
                                   target_names=[str(i) for i in range(10)])  # fmt: skip
    assert result.per_class["3"]["recall"] == pytest.approx(report["3"]["recall"])
    assert result.per_class["macro avg"]["f1-score"] == pytest.approx(
        report["macro avg"]["f1-score"]
    )


def test_evaluation_files(evaluation):
    result, out = evaluation
    record = json.loads((out / "evaluation.json").read_text())
    assert record["accuracy"] == pytest.approx(result.accuracy)
    assert record["split"] == "test" and record["dataset"] == "digits"
    assert len(record["most_confused"]) <= 10
    markdown = (out / "evaluation.md").read_text()
    assert "| top-1 accuracy |" in markdown and "| 9 |" in markdown
    assert (out / "confusion.png").stat().st_size > 1000


def test_the_validation_split_is_the_one_training_held_out(digits_run, digits):
    result = kcnn.infer.evaluate(digits_run, split="val")
    np.testing.assert_array_equal(result.interpretation.y_true, digits.y_val)


def test_expected_calibration_error_by_hand():
    # Two images at confidence 0.9, one right: bin (0.8667, 0.9333] has accuracy 0.5.
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.3, 0.7]])
    y = np.array([0, 1, 1, 1])
    # |0.5 - 0.9| * 2/4 + |1.0 - 0.7| * 2/4
    assert expected_calibration_error(p, y) == pytest.approx(0.2 + 0.15)
    assert expected_calibration_error(np.eye(3), np.arange(3)) == pytest.approx(0.0)


def test_top5_is_left_out_with_five_classes_or_fewer(digits):
    data = digits.subset(classes=[0, 1, 2])
    model = kcnn.build_model("mlp", input_shape=data.input_shape, num_classes=3,
                             hidden_units=(8,))  # fmt: skip
    result = kcnn.infer.evaluate(model, data)
    assert result.top5_accuracy is None and "n/a" in result.to_markdown()


def test_bad_arguments(digits_run, digits, tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        kcnn.infer.evaluate(digits_run, split="dev")
    model = kcnn.build_model("mlp", input_shape=(8, 8, 1), hidden_units=(8,))
    with pytest.raises(ValueError, match="data is needed"):
        kcnn.infer.evaluate(model)
    with pytest.raises(TypeError, match="classifier must be"):
        kcnn.infer.evaluate(42, digits)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="out must be a folder"):
        kcnn.infer.evaluate(model, digits, out=tmp_path / "file")
