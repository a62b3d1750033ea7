"""Fuzzing kcnn's file readers: every damaged file gets a clear answer.

Each reader starts from small valid files written here in its real format (IDX files, a
``.npz`` archive, CIFAR batches, a folder of images per class, a run folder's JSON files,
a saved ``.keras`` model); hypothesis then truncates them, flips bits, overwrites, inserts
or deletes bytes, or replaces them outright, and for the structured formats writes valid
containers with random contents (arrays of any dtype and shape, pickled objects, JSON
values). Every example must either load correctly or raise kcnn's own `ValueError` whose
message names the file, never a raw exception from NumPy, pickle, zipfile, gzip, struct,
json, h5py or Pillow, and never hang.

The examples are derandomized (the same ones every run). To explore further, set
``KCNN_FUZZ_SCALE=20`` (twenty times the examples) and ``KCNN_FUZZ_RANDOM=1`` (new ones
every run).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pickle
import shutil
import signal
import struct
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import kcnn
from kcnn import _io
from kcnn.data.contract import Contract, read_contract
from kcnn.data.formats import read_cifar_batch, read_idx, read_image_folder, read_npz
from kcnn.train.checkpoint import read_checkpoint
from kcnn.train.run import Run, RunFolder, load_run
from tests.conftest import REPO

_SCALE = float(os.environ.get("KCNN_FUZZ_SCALE", "1"))


def fuzz(examples: int, seconds: float = 10):
    """Hypothesis settings: ``examples`` examples (times ``KCNN_FUZZ_SCALE``), each allowed
    ``seconds`` (the machine may be busy), the same ones every run, no example database."""
    return settings(
        max_examples=max(1, int(examples * _SCALE)),
        deadline=timedelta(seconds=seconds),
        derandomize=os.environ.get("KCNN_FUZZ_RANDOM") != "1",
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        print_blob=True,
    )


@contextlib.contextmanager
def time_limit(seconds: float):
    """Fail an example that runs past ``seconds`` (a hang), where signals allow."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"a reader ran for more than {seconds} s on a damaged file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def clear_answer(path, read, *args, **kwargs):
    """``read(*args, **kwargs)``, or None when it raised kcnn's own ValueError naming
    ``path``; any other exception propagates (and fails the example). Each outcome is a
    hypothesis event (``--hypothesis-show-statistics`` lists them)."""
    name = read.__qualname__
    try:
        with time_limit(60):
            result = read(*args, **kwargs)
        event(f"{name}: loaded")
        return result
    except ValueError as error:
        words = str(error).replace(os.fspath(path), "").split()
        event(f"{name}: {' '.join(words[:5])}")
        kind = type(error)
        assert kind is ValueError or kind.__module__.startswith("kcnn"), (
            f"a raw {kind.__module__}.{kind.__name__} escaped: {error}"
        )
        message = str(error)
        assert os.fspath(path) in message, f"the error does not name {path}: {message}"
        assert len(message) > len(os.fspath(path)) + 15, f"the error says too little: {message}"
        return None


# -- damaging bytes -----------------------------------------------------------------------------

#: Where a change lands: counted from the start, or (negative) from the end, modulo the size.
_AT = st.integers(-(2**17), 2**17)
MUTATION = st.one_of(
    st.tuples(st.just("truncate"), _AT),
    st.tuples(st.just("flip"), _AT, st.integers(0, 7)),
    st.tuples(st.just("overwrite"), _AT, st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("insert"), _AT, st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("delete"), _AT, st.integers(1, 64)),
    st.tuples(st.just("replace"), st.binary(max_size=300)),
)
MUTATIONS = st.lists(MUTATION, min_size=1, max_size=4)


def damage(data: bytes, mutations) -> bytes:
    """``data`` after each mutation in turn."""
    data = bytearray(data)
    for kind, *args in mutations:
        if kind == "replace":
            data = bytearray(args[0])
            continue
        at = args[0] % (len(data) + 1)
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at % len(data)] ^= 1 << args[1]
        elif kind == "overwrite":
            data[at : at + len(args[1])] = args[1]
        elif kind == "insert":
            data[at:at] = args[1]
        elif kind == "delete":
            del data[at : at + args[1]]
    return bytes(data)


@contextlib.contextmanager
def copy_of(valid: Path):
    """A scratch copy of the file or folder ``valid``, removed afterwards."""
    scratch = Path(tempfile.mkdtemp(dir=valid.parent, prefix="fuzz-"))
    target = scratch / valid.name
    try:
        if valid.is_dir():
            shutil.copytree(valid, target)
        else:
            shutil.copyfile(valid, target)
        yield target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


#: JSON values of every kind, nested a little.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=12,
)


@st.composite
def altered(draw, valid: dict):
    """``valid`` with some keys set to random JSON values or removed (or, now and then, a
    random JSON value instead of an object)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    record = dict(valid)
    for key in draw(st.sets(st.sampled_from(sorted(valid)), min_size=1, max_size=3)):
        if draw(st.booleans()):
            record[key] = draw(JSON)
        else:
            del record[key]
    if draw(st.booleans()):
        record[draw(st.text(max_size=6))] = draw(JSON)
    return record


# -- valid files --------------------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)


IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte",
)


def small_arrays(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (12, 4, 4), dtype=np.uint8),
        "y_train": (np.arange(12) % 3).astype(np.uint8),
        "x_test": rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
        "y_test": (np.arange(6) % 3).astype(np.uint8),
    }


def cifar_batch(n: int, seed: int, label_key: bytes = b"labels") -> bytes:
    rng = np.random.default_rng(seed)
    batch = {
        b"batch_label": b"training batch",
        label_key: [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
        b"filenames": [b"x.png"] * n,
    }
    return pickle.dumps(batch, protocol=2)


IMAGE_FILES = ("cat/0.png", "cat/1.jpg", "cat/2.bmp", "dog/0.png", "dog/1.gif", "dog/2.png")


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> dict:
    """One valid file or folder of each format, keyed by format."""
    root = tmp_path_factory.mktemp("valid")
    files = {}

    idx = root / "idx"
    idx.mkdir()
    arrays = small_arrays()
    for name, key in zip(IDX_NAMES, ("x_train", "y_train", "x_test", "y_test")):
        write_idx(idx / name, arrays[key], compress=name.endswith(".gz"))
    files["idx"] = idx

    npz = root / "npz" / "set.npz"
    npz.parent.mkdir()
    np.savez(npz, **small_arrays(), class_names=np.array(["a", "b", "c"]))
    files["npz"] = npz

    cifar = root / "cifar-10-batches-py"
    cifar.mkdir()
    for i in range(1, 6):
        (cifar / f"data_batch_{i}").write_bytes(cifar_batch(2, seed=i))
    (cifar / "test_batch").write_bytes(cifar_batch(2, seed=9))
    names = [c.encode() for c in kcnn.data.datasets.CIFAR10_CLASSES]
    (cifar / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    files["cifar"] = cifar

    images = root / "pets"
    rng = np.random.default_rng(0)
    for name in IMAGE_FILES:
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).save(images / name)
    files["images"] = images

    run = root / "run"
    shutil.copytree(LEGACY_RUN, run)
    files["run"] = run

    keras.utils.set_random_seed(0)
    model = kcnn.build_model("mlp", input_shape=(8, 8, 1), hidden_units=(4,))
    contract = Contract.for_model(model, class_names=[f"c{i}" for i in range(10)])
    model_file = root / "model" / "model.keras"
    _io.save_model(model, model_file, contract.metadata())
    files["keras"] = model_file
    files["keras_classes"] = contract.class_names
    return files


def test_the_valid_files_load(valid):
    data = kcnn.data.load_dataset(valid["idx"], validation_split=0.25)
    assert data.input_shape == (4, 4, 1) and len(data.x_train) == 9
    assert kcnn.data.load_dataset(valid["npz"]).class_names == ("a", "b", "c")
    assert len(kcnn.data.load_dataset(valid["cifar"], validation_split=0).x_train) == 10
    data = kcnn.data.load_dataset(valid["images"])
    assert data.class_names == ("cat", "dog") and data.input_shape == (4, 5, 3)
    run = load_run(valid["run"])
    assert run.config["model"] == "simple_cnn" and run.history["epoch"] == [1, 2]
    assert read_checkpoint(valid["run"])["epoch"] == 2
    assert read_contract(valid["keras"]).class_names == valid["keras_classes"]
    assert kcnn.infer.load(valid["keras"]).class_names == valid["keras_classes"]


# -- IDX ----------------------------------------------------------------------------------------


@fuzz(40)
@given(which=st.sampled_from(IDX_NAMES), inside_gzip=st.booleans(), mutations=MUTATIONS)
# zlib.error ("invalid block type", "invalid distance too far back") escaped read_idx
@example(which=IDX_NAMES[2], inside_gzip=False, mutations=[("delete", -259, 51)])
@example(which=IDX_NAMES[2], inside_gzip=False, mutations=[("flip", 100, 2)])
def test_damaged_idx_files(valid, which, inside_gzip, mutations):
    with copy_of(valid["idx"]) as folder:
        file = folder / which
        data = file.read_bytes()
        if inside_gzip and which.endswith(".gz"):  # damage the IDX bytes, not the gzip
            file.write_bytes(gzip.compress(damage(gzip.decompress(data), mutations), mtime=0))
        else:
            file.write_bytes(damage(data, mutations))
        array = clear_answer(file, read_idx, file)
        assert array is None or isinstance(array, np.ndarray)
        clear_answer(folder, kcnn.data.load_dataset, folder, validation_split=0.25)


# -- .npz ---------------------------------------------------------------------------------------


def _check_npz(path: Path) -> None:
    arrays = clear_answer(path, read_npz, path)
    assert arrays is None or {"x_train", "y_train", "x_test", "y_test"} <= set(arrays)
    data = clear_answer(path, kcnn.data.load_dataset, path, validation_split=0.25)
    if data is not None:
        assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int32
        assert 0 <= data.x_train.min() and data.x_train.max() <= 1
        assert len(data.class_names) > int(max(data.y_train.max(), data.y_test.max(initial=0)))
        assert np.isin(data.y_train, arrays["y_train"]).all()  # the file's labels, unchanged


@fuzz(40)
@given(mutations=MUTATIONS)
def test_damaged_npz_archives(valid, mutations):
    with copy_of(valid["npz"]) as path:
        path.write_bytes(damage(path.read_bytes(), mutations))
        _check_npz(path)


_ANY_ARRAY = hnp.arrays(
    dtype=st.one_of(
        hnp.scalar_dtypes(), hnp.byte_string_dtypes(max_len=3), hnp.unicode_string_dtypes(max_len=3)
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
)
_ARRAY = st.one_of(
    _ANY_ARRAY,
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=5)),
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=8)),
)


@fuzz(40)
@given(
    changes=st.dictionaries(
        st.sampled_from(
            ["x_train", "y_train", "x_test", "y_test", "x_val", "y_val", "class_names"]
        ),
        st.one_of(st.none(), _ARRAY),
        min_size=1,
        max_size=3,
    )
)
@example(changes={"class_names": np.array(1j)})  # TypeError: 'complex' object is not iterable
@example(changes={"y_train": np.full(12, 2**40), "class_names": None})  # 2**40 classes: a hang
@example(changes={"y_train": np.full(12, 2**32 + 1, np.uint64), "class_names": None})  # int32 wrap
@example(changes={"x_train": np.full((12, 4, 4), 1000)})  # pixels past 255 (silently > 1)
@example(changes={"x_train": np.zeros((1, 4, 4)), "y_train": np.zeros(1, int)})  # sklearn's error
@example(changes={"x_train": np.zeros((12, 0, 4, 1))})  # images 0 pixels high
def test_npz_archives_of_any_arrays(valid, changes):
    arrays = {**small_arrays(), "class_names": np.array(["a", "b", "c"]), **changes}
    with copy_of(valid["npz"]) as path:
        np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
        _check_npz(path)


# -- CIFAR batches ------------------------------------------------------------------------------


def _check_cifar(folder: Path, file: Path) -> None:
    batch = clear_answer(file, read_cifar_batch, file)
    if batch is not None:
        images, labels = batch
        assert images.dtype == np.uint8 and images.shape[1:] == (32, 32, 3)
        assert labels.dtype == np.int64 and labels.shape == (len(images),)
    clear_answer(folder, kcnn.data.load_dataset, folder, validation_split=0)


CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")


@fuzz(40)
@given(which=st.sampled_from(CIFAR_FILES), mutations=MUTATIONS)
# OverflowError: BINUNICODE8 with a length past sys.maxsize
@example(which="data_batch_2", mutations=[("replace", b"\x8d\xb5\x07\xa4\xcf\x84\xeb\x0b\xa4")])
def test_damaged_cifar_batches(valid, which, mutations):
    with copy_of(valid["cifar"]) as folder:
        file = folder / which
        file.write_bytes(damage(file.read_bytes(), mutations))
        _check_cifar(folder, folder / ("data_batch_1" if which == "batches.meta" else which))


_PICKLED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.binary(max_size=8)
    | st.text(max_size=8) | _ANY_ARRAY,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.binary(max_size=8) | st.text(max_size=8) | st.integers(), inner,
                      max_size=4),
    max_leaves=10,
)  # fmt: skip


@fuzz(40)
@given(
    batch=st.one_of(
        _PICKLED,
        st.fixed_dictionaries(
            {b"data": _PICKLED | _ARRAY, b"labels": _PICKLED | _ARRAY},
            optional={b"batch_label": _PICKLED, "data": _PICKLED},
        ),
    ),
    protocol=st.sampled_from([2, 4, 5]),
)
@example(batch={b"data": np.zeros((1, 3072), np.uint8), b"labels": [None]}, protocol=2)
@example(batch={b"data": np.zeros((1, 3072), np.uint8), b"labels": ["x"]}, protocol=2)
@example(batch={b"data": [[1], [1, 2]], b"labels": [0, 1]}, protocol=2)  # ragged
@example(batch={b"\xff": 0, 1: 0}, protocol=2)  # UnicodeDecodeError, then sorted() TypeError
@example(batch={b"data": np.zeros((1, 3072), np.uint8), b"labels": 5}, protocol=2)  # len() of int
def test_cifar_batches_of_any_pickled_objects(valid, batch, protocol):
    with copy_of(valid["cifar"]) as folder:
        (folder / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=protocol))
        _check_cifar(folder, folder / "data_batch_3")


# -- image folders ------------------------------------------------------------------------------


@fuzz(40)
@given(which=st.sampled_from(IMAGE_FILES), mutations=MUTATIONS)
def test_damaged_images_in_a_class_folder(valid, which, mutations):
    with copy_of(valid["images"]) as folder:
        file = folder / which
        file.write_bytes(damage(file.read_bytes(), mutations))
        result = clear_answer(folder, read_image_folder, folder)
        if result is not None:
            images, labels, classes = result
            assert images.dtype == np.uint8 and images.shape[0] == len(labels) == 6
            assert classes == ["cat", "dog"]
        clear_answer(folder, kcnn.data.load_dataset, folder)


# -- run folders --------------------------------------------------------------------------------


def _check_run_folder(folder: Path) -> None:
    config = clear_answer(folder, RunFolder(folder).read_config)
    assert config is None or isinstance(config, dict)
    for state in (
        clear_answer(folder, RunFolder(folder).read_checkpoint),
        clear_answer(folder, read_checkpoint, folder),
    ):
        if state is not None:
            assert isinstance(state["epoch"], int) and isinstance(state["file"], str)
            assert isinstance(state["history"], dict)
            assert all(isinstance(v, list) for v in state["history"].values())
    run = clear_answer(folder, load_run, folder)
    if run is not None:
        assert isinstance(run, Run)
        assert all(isinstance(x, dict) for x in (run.config, run.history, run.metrics))


RUN_FILES = ("config.json", "checkpoint.json", "history.json", "metrics.json")
LEGACY_RUN = REPO / "tests" / "fixtures" / "legacy-run"
#: A run folder's JSON files, each with some entries replaced or removed.
ALTERED_RUN_FILES = st.sampled_from(RUN_FILES).flatmap(
    lambda name: st.tuples(st.just(name), altered(json.loads((LEGACY_RUN / name).read_text())))
)


@fuzz(40)
@given(which=st.sampled_from(RUN_FILES), mutations=MUTATIONS)
def test_damaged_run_folder_files(valid, which, mutations):
    with copy_of(valid["run"]) as folder:
        file = folder / which
        file.write_bytes(damage(file.read_bytes(), mutations))
        _check_run_folder(folder)


@fuzz(40)
@given(case=ALTERED_RUN_FILES)
@example(case=("config.json", []))  # AttributeError in the callers: 'list' has no 'get'
@example(case=("checkpoint.json", {"epoch": 2}))  # KeyError: 'file'
@example(case=("checkpoint.json", {"epoch": 2, "file": None, "history": {}}))  # TypeError
@example(case=("history.json", {"loss": 0.5}))  # TypeError: 'float' object is not iterable
@example(case=("history.json", None))  # AttributeError: 'NoneType' has no 'items'
def test_run_folder_files_of_any_json(valid, case):
    which, record = case
    with copy_of(valid["run"]) as folder:
        (folder / which).write_text(json.dumps(record))
        _check_run_folder(folder)


# -- .keras files -------------------------------------------------------------------------------


def _check_keras_file(path: Path) -> None:
    metadata = clear_answer(path, _io.read_keras_metadata, path)
    assert metadata is None or isinstance(metadata, dict)
    contract = clear_answer(path, read_contract, path)
    assert contract is None or isinstance(contract, Contract)
    classifier = clear_answer(path, kcnn.infer.load, path)
    if classifier is not None:
        assert len(classifier.class_names) == classifier.model.output_shape[-1]


@fuzz(30, seconds=30)
@given(mutations=MUTATIONS)
@example(mutations=[("delete", 0, 1)])  # OSError: [Errno 22] Invalid argument (a seek before 0)
def test_damaged_keras_files(valid, mutations):
    with copy_of(valid["keras"]) as path:
        path.write_bytes(damage(path.read_bytes(), mutations))
        _check_keras_file(path)


@fuzz(30, seconds=30)
@given(
    member=st.sampled_from(["config.json", "model.weights.h5", "metadata.json"]),
    mutations=MUTATIONS,
)
@example(member="config.json", mutations=[("truncate", 100)])  # JSONDecodeError
@example(member="config.json", mutations=[("overwrite", -115, b"<")])  # RuntimeError
@example(member="model.weights.h5", mutations=[("truncate", 2000)])  # h5py's OSError
@example(member="metadata.json", mutations=[("replace", b"7")])  # AttributeError: int has no get
def test_keras_files_with_a_damaged_member(valid, member, mutations):
    """A sound zip archive (checksums right) around a damaged config, weights file or
    metadata: what Keras, h5py and json make of the member is tried, not zipfile's checks."""
    with copy_of(valid["keras"]) as path:
        with zipfile.ZipFile(valid["keras"]) as source, zipfile.ZipFile(path, "w") as target:
            for info in source.infolist():
                content = source.read(info)
                if info.filename == member:
                    content = damage(content, mutations)
                target.writestr(info, content)
        _check_keras_file(path)


_INFERENCE = Contract(class_names=("a", "b"), input_shape=(8, 8, 1)).to_dict()


@fuzz(40)
@given(
    metadata=st.one_of(
        JSON,
        st.builds(lambda entry: {"keras_version": "3", "kcnn": entry}, JSON),
        st.builds(lambda entry: {"kcnn": {"inference": entry}}, altered(_INFERENCE)),
    )
)
@example(metadata=[])  # AttributeError: 'list' object has no attribute 'get'
@example(metadata={"kcnn": 3})  # TypeError: argument of type 'int' is not iterable
@example(metadata={"kcnn": {"inference": None}})  # TypeError: 'NoneType' object is not iterable
@example(metadata={"kcnn": {"inference": {**_INFERENCE, "label_rules": ["ab", "c"]}}})
@example(metadata={"kcnn": {"inference": {**_INFERENCE, "class_names": None}}})
def test_keras_metadata_of_any_json(valid, metadata):
    """The inference contract, kcnn's entry of ``metadata.json``, holding anything."""
    with copy_of(valid["keras"]) as path:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
        metadata = clear_answer(path, _io.read_keras_metadata, path)
        assert metadata is None or isinstance(metadata, dict)
        contract = clear_answer(path, read_contract, path)
        if contract is not None:
            assert all(isinstance(name, str) for name in contract.class_names)
            assert all(isinstance(d, int) and d > 0 for d in contract.input_shape)
