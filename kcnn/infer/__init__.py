"""Using a trained model: load it with its inference contract, predict on image files,
evaluate on any split, export for deployment.

Names load on first use (`kcnn._lazy`), so that the command line can build its parser
without Keras.

Example:
    ```python
    classifier = kcnn.infer.load("runs/simple_cnn-20260101-120000")
    print(classifier.predict("my_photos/", top_k=3))
    print(kcnn.infer.evaluate(classifier, out="evaluation"))
    kcnn.infer.export(classifier, "model.onnx", format="onnx")
    ```
"""

from kcnn._lazy import lazy_package

_EXPORTS = {
    "Classifier": "kcnn.infer.classifier:Classifier",
    "Contract": "kcnn.data.contract:Contract",
    "Evaluation": "kcnn.infer.evaluate:Evaluation",
    "ExportCheck": "kcnn.infer.export:ExportCheck",
    "ExportMismatchError": "kcnn.infer.export:ExportMismatchError",
    "FORMATS": "kcnn.infer.export:FORMATS",
    "Predictions": "kcnn.infer.predict:Predictions",
    "RESIZE": "kcnn.infer.images:RESIZE",
    "evaluate": "kcnn.infer.evaluate:evaluate",
    "expected_calibration_error": "kcnn.infer.evaluate:expected_calibration_error",
    "export": "kcnn.infer.export:export",
    "find_images": "kcnn.infer.images:find_images",
    "load": "kcnn.infer.classifier:load",
    "read_contract": "kcnn.data.contract:read_contract",
    "read_image": "kcnn.infer.images:read_image",
    "tta_views": "kcnn.infer.predict:tta_views",
}
__all__ = sorted(_EXPORTS)
lazy_package(__name__, _EXPORTS)
