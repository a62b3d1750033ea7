"""What to measure: a `Contender` is kcnn on one backend with one set of settings, or a
hand-written baseline (a Python file with a ``train(session)`` function)."""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path

#: The backends a contender can run on.
BACKENDS = ("tensorflow", "jax", "torch")


@dataclasses.dataclass
class Contender:
    """One thing to measure: a name, a backend, where its ``train`` comes from, its settings.

    Attributes:
        name: the label in the results, e.g. ``"kcnn"`` or ``"torch eager"``.
        backend: the ``KERAS_BACKEND`` of its process.
        source: ``"kcnn"`` or the path of a Python file with ``train(session)``.
        batch_size, steps_per_execution, jit_compile, data_path: the training settings
            (see `kcnn.train.TrainConfig`).
        options: contender-specific settings passed through ``spec["options"]``.
    """

    name: str
    backend: str
    source: str = "kcnn"
    batch_size: int = 128
    steps_per_execution: int | str = "auto"
    jit_compile: bool | str = "auto"
    data_path: str = "device"
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.backend})" if self.source == "kcnn" else self.name


def kcnn_contenders(
    backends,
    batch_sizes=(128,),
    steps_per_execution=("auto",),
    jit_compile=("auto",),
    data_paths=("device",),
) -> list[Contender]:
    """kcnn on each backend, for every combination of the settings given (a sweep when more
    than one value is given). PyTorch gets only ``steps_per_execution=1``, all Keras runs
    there."""
    contenders = []
    for backend, batch, spe, jit, path in itertools.product(
        backends, batch_sizes, steps_per_execution, jit_compile, data_paths
    ):
        if backend == "torch" and spe != "auto" and spe > 1:
            continue  # Keras' PyTorch backend runs one step per call
        varied = []
        if len(batch_sizes) > 1:
            varied.append(f"bs={batch}")
        if len(steps_per_execution) > 1:
            varied.append(f"spe={spe}")
        if len(jit_compile) > 1:
            varied.append(f"jit={jit}")
        if len(data_paths) > 1:
            varied.append(f"data={path}")
        name = "kcnn" + (f"[{','.join(varied)}]" if varied else "")
        contenders.append(Contender(name, backend, "kcnn", batch, spe, jit, path))
    return contenders


def baseline_contenders(
    folder, backends, batch_size: int = 128, torch_compile: bool = False
) -> list[Contender]:
    """The baselines in ``folder``: ``keras_baseline.py`` on each backend
    (``"keras (<backend>)"``) and ``torch_baseline.py`` (``"torch eager"``, and
    ``"torch.compile"`` when asked), whichever of the two files exist.

    Raises:
        FileNotFoundError: ``folder`` holds neither file.
    """
    folder = Path(folder)
    keras_file, torch_file = folder / "keras_baseline.py", folder / "torch_baseline.py"
    if not keras_file.is_file() and not torch_file.is_file():
        raise FileNotFoundError(
            f"{os.fspath(folder)!r} has neither keras_baseline.py nor torch_baseline.py. "
            "Pass the repository's benchmarks/baselines folder."
        )
    contenders = []
    if keras_file.is_file():
        for backend in backends:
            keras_name = f"keras ({backend})"
            contenders.append(Contender(keras_name, backend, str(keras_file), batch_size, 1))
    if torch_file.is_file():
        contenders.append(Contender("torch eager", "torch", str(torch_file), batch_size, 1))
        if torch_compile:
            contenders.append(
                Contender("torch.compile", "torch", str(torch_file), batch_size, 1,
                          options={"compile": True})
            )  # fmt: skip
    return contenders
