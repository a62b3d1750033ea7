"""Augmentation policies that keep label meaning, built on Keras' augmentation layers.

A policy is a `keras.layers.Pipeline` (not a ``Sequential``, which breaks inside ``tf.data``
on the JAX and PyTorch backends). Each transform teaches the model an invariance, and is only
allowed where the data set's labels survive it:

| transform | layer | invariance it teaches | breaks labels of |
|---|---|---|---|
| ``crop`` | `RandomPadCrop` (pad 1/8 of the side, crop back) | small shifts of the object | none |
| ``resized_crop`` | `RandomResizedCrop` | scale and framing (ImageNet style) | none |
| ``horizontal_flip`` | ``RandomFlip("horizontal")`` | left-right mirror symmetry | digits, MNIST |
| ``vertical_flip`` | ``RandomFlip("vertical")`` | upside-down views | digits, (Fashion-)MNIST |
| ``rotate`` | ``RandomRotation(0.04)`` (about 15 degrees) | slight tilts | none |
| ``color`` | ``RandomColorJitter`` | lighting and colour casts | grayscale sets |
| ``cutout`` | ``RandomErasing`` | occlusion: use the whole object | none |
| ``randaugment`` | ``RandAugment`` (2 ops, magnitude 0.3) | a broad mix of the above | none |
| ``mixup`` | ``MixUp`` | linear behaviour between classes | none (soft labels) |
| ``cutmix`` | ``CutMix`` | patches of one class in another | none (soft labels) |

Named policies: ``none``, ``crop``, ``flip_crop`` (the CIFAR standard: pad 4, random crop,
horizontal flip), ``color``, ``cutout``, ``mixup``, ``cutmix``, ``randaugment``; or a list of
transform names and Keras layers.

References:
    DeVries, Taylor. Improved regularization of convolutional neural networks with Cutout.
    2017. Zhang et al. mixup: beyond empirical risk minimization. ICLR 2018. Yun et al.
    CutMix: regularization strategy to train strong classifiers with localizable features.
    ICCV 2019. Cubuk et al. RandAugment: practical automated data augmentation with a
    reduced search space. NeurIPS 2020 workshops.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import keras

from kcnn._validate import check_int, check_number

if TYPE_CHECKING:
    from kcnn.data.datasets import Dataset

#: Named policies and the transforms they apply, in order.
POLICIES = {
    "none": (),
    "crop": ("crop",),
    "flip_crop": ("crop", "horizontal_flip"),
    "color": ("color",),
    "cutout": ("cutout",),
    "mixup": ("mixup",),
    "cutmix": ("cutmix",),
    "randaugment": ("randaugment",),
}

#: Transforms that need a batch and one-hot labels, and produce soft labels.
MIXING = ("mixup", "cutmix")

#: transform -> the label rule it may break (see `kcnn.data.Dataset.label_rules`).
_RULE_OF = {
    "horizontal_flip": "horizontal_flip",
    "vertical_flip": "vertical_flip",
    "color": "color",
}

TRANSFORMS = (
    "crop", "resized_crop", "horizontal_flip", "vertical_flip", "rotate", "color", "cutout",
    "randaugment", "mixup", "cutmix",
)  # fmt: skip


@keras.saving.register_keras_serializable(package="kcnn")
class RandomPadCrop(keras.layers.RandomTranslation):
    """Pad each image by ``padding`` pixels and crop a random window of the original size.

    The standard CIFAR augmentation (He et al. 2016). Unlike ``keras.layers.RandomCrop``,
    which crops a whole batch at one location, every image gets its own offset, drawn
    uniformly from the ``(2 * padding + 1) ** 2`` integer shifts, and the uncovered border is
    ``fill_value``. Safe inside ``tf.data`` on every backend, like the Keras layer it extends.

    Args:
        padding: pixels added on each side before cropping, >= 1. Defaults to 4.
        fill_value: value of the padded border. Defaults to 0.
        seed: random seed. Defaults to None.
        data_format: ``"channels_last"`` or ``"channels_first"``. Defaults to
            ``keras.config.image_data_format()``.

    Example:
        ```python
        crop = kcnn.data.RandomPadCrop(padding=4, seed=0)
        shifted = crop(images, training=True)
        ```
    """

    def __init__(
        self,
        padding: int = 4,
        fill_value: float = 0.0,
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs,
    ):
        check_int("padding", padding, 1)
        super().__init__(
            height_factor=0.1,
            width_factor=0.1,
            fill_mode="constant",
            interpolation="nearest",
            fill_value=fill_value,
            seed=seed,
            data_format=data_format,
            **kwargs,
        )
        self.padding = padding

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        shape = self.backend.shape(images)
        batch = 1 if len(shape) == 3 else shape[0]
        if seed is None:
            seed = self._get_seed_generator(self.backend._backend)
        shifts = self.backend.random.randint(
            (batch, 2), -self.padding, self.padding + 1, dtype="int32", seed=seed
        )
        return {"translations": self.backend.cast(shifts, "float32"), "input_shape": shape}

    def _transform_images(self, images, transformation, interpolation):
        """Each image shifted by its whole-pixel translation: the padded batch gathered at
        shifted rows and columns. The same pixels as the affine transform of
        ``RandomTranslation`` with nearest interpolation and a constant fill, which Keras'
        PyTorch backend computes one image at a time (75% of a ResNet-20 step on a GPU).
        TensorFlow's affine transform is one fused kernel, faster than the gathers there."""
        if transformation is None:
            return images
        if self.backend._backend == "tensorflow":  # also inside tf.data on any backend
            return super()._transform_images(images, transformation, interpolation)
        ops = self.backend
        unbatched = len(ops.shape(images)) == 3
        if unbatched:
            images = ops.numpy.expand_dims(images, axis=0)
        channels_last = self.data_format == "channels_last"
        row_axis, col_axis = (1, 2) if channels_last else (2, 3)
        shape = ops.shape(images)
        height, width, pad = shape[row_axis], shape[col_axis], self.padding
        widths = [[0, 0]] * 4
        widths[row_axis] = widths[col_axis] = [pad, pad]
        padded = ops.numpy.pad(images, widths, constant_values=self.fill_value)
        shifts = ops.cast(transformation["translations"], "int32")  # (batch, [dx, dy])
        # output[i, j] = input[i - dy, j - dx] = padded[i + pad - dy, j + pad - dx]
        rows = ops.numpy.arange(height, dtype="int32")[None, :] + pad - shifts[:, 1:2]
        cols = ops.numpy.arange(width, dtype="int32")[None, :] + pad - shifts[:, 0:1]
        index_shape = [-1, 1, 1, 1]
        index_shape[row_axis] = height
        rows = ops.numpy.reshape(rows, index_shape)
        grid = list(ops.shape(padded))
        grid[row_axis] = height
        out = ops.numpy.take_along_axis(padded, ops.numpy.broadcast_to(rows, grid), row_axis)
        index_shape[row_axis], index_shape[col_axis] = 1, width
        cols = ops.numpy.reshape(cols, index_shape)
        grid[col_axis] = width
        out = ops.numpy.take_along_axis(out, ops.numpy.broadcast_to(cols, grid), col_axis)
        return ops.numpy.squeeze(out, axis=0) if unbatched else out

    def get_config(self):
        config = {
            key: value
            for key, value in super().get_config().items()
            if key not in ("height_factor", "width_factor", "fill_mode", "interpolation")
        }
        config["padding"] = self.padding
        return config


@keras.saving.register_keras_serializable(package="kcnn")
class RandomResizedCrop(keras.layers.RandomZoom):
    """Crop a random region of random area and aspect ratio, resized back to the image size.

    The ImageNet augmentation of Inception and torchvision's ``RandomResizedCrop``: per
    image, an area fraction is drawn from ``scale`` and an aspect ratio log-uniformly from
    ``ratio``; the region (clipped to the image) is placed uniformly and resampled
    bilinearly to the input's height and width. Keras 3 has no such layer; this one extends
    ``keras.layers.RandomZoom``, so it is safe inside ``tf.data`` on every backend.

    Args:
        scale: range of the cropped area as a fraction of the image, within (0, 1].
            Defaults to ``(0.08, 1.0)``.
        ratio: range of the crop's width/height. Defaults to ``(3/4, 4/3)``.
        interpolation: ``"bilinear"`` or ``"nearest"``. Defaults to ``"bilinear"``.
        seed: random seed. Defaults to None.
        data_format: ``"channels_last"`` or ``"channels_first"``. Defaults to
            ``keras.config.image_data_format()``.

    References:
        Szegedy et al. Going deeper with convolutions. CVPR 2015.
    """

    def __init__(
        self,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        interpolation: str = "bilinear",
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs,
    ):
        scale, ratio = tuple(scale), tuple(ratio)
        if len(scale) != 2 or not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must be (low, high) within (0, 1]. Received: scale={scale}")
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must be (low, high) with 0 < low <= high. Received: {ratio}")
        super().__init__(
            height_factor=0.1,
            interpolation=interpolation,
            fill_mode="reflect",
            seed=seed,
            data_format=data_format,
            **kwargs,
        )
        self.scale, self.ratio = scale, ratio

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        b = self.backend
        images = data["images"] if isinstance(data, dict) else data
        shape = b.shape(images)
        batch = 1 if len(shape) == 3 else shape[0]
        if self.data_format == "channels_first":
            height, width = shape[-2], shape[-1]
        else:
            height, width = shape[-3], shape[-2]
        if seed is None:
            seed = self._get_seed_generator(b._backend)
        h, w = b.cast(height, "float32"), b.cast(width, "float32")
        area = b.random.uniform((batch, 1), self.scale[0], self.scale[1], seed=seed) * h * w
        log_ratio = b.random.uniform(
            (batch, 1), math.log(self.ratio[0]), math.log(self.ratio[1]), seed=seed
        )
        aspect = b.numpy.exp(log_ratio)
        crop_w = b.numpy.clip(b.numpy.sqrt(area * aspect), 1.0, w)
        crop_h = b.numpy.clip(b.numpy.sqrt(area / aspect), 1.0, h)
        left = b.random.uniform((batch, 1), 0.0, 1.0, seed=seed) * (w - crop_w)
        top = b.random.uniform((batch, 1), 0.0, 1.0, seed=seed) * (h - crop_h)
        sx, sy = crop_w / w, crop_h / h
        zeros = b.numpy.zeros((batch, 1))
        # output pixel (x, y) samples input (sx * x + ox, sy * y + oy), pixel centres aligned
        matrix = b.numpy.concatenate(
            [sx, zeros, left + 0.5 * (sx - 1.0), zeros, sy, top + 0.5 * (sy - 1.0), zeros, zeros],
            axis=1,
        )
        return {"matrix": b.cast(matrix, "float32")}

    def transform_images(self, images, transformation, training=True):
        images = self.backend.cast(images, self.compute_dtype)
        if not training or transformation is None:
            return images
        unbatched = len(self.backend.shape(images)) == 3
        if unbatched:
            images = self.backend.numpy.expand_dims(images, axis=0)
        out = self.backend.image.affine_transform(
            images,
            transform=transformation["matrix"],
            interpolation=self.interpolation,
            fill_mode="nearest",
            data_format=self.data_format,
        )
        return self.backend.numpy.squeeze(out, axis=0) if unbatched else out

    def get_config(self):
        config = {
            key: value
            for key, value in super().get_config().items()
            if key not in ("height_factor", "width_factor", "fill_mode", "fill_value")
        }
        config.update(scale=self.scale, ratio=self.ratio)
        return config


def _layer(transform: str, seed: int, value_range, options: Mapping):
    """One Keras layer for a transform name."""
    if transform == "crop":
        return RandomPadCrop(options.get("padding", 4), seed=seed, name="crop")
    if transform in ("horizontal_flip", "vertical_flip"):
        mode = transform.split("_")[0]
        return keras.layers.RandomFlip(mode, seed=seed, name=transform)
    if transform == "resized_crop":
        return RandomResizedCrop(options.get("scale", (0.08, 1.0)), seed=seed, name="resized_crop")
    if transform == "rotate":
        return keras.layers.RandomRotation(
            options.get("rotation", 0.04), fill_mode="constant", seed=seed, name="rotate"
        )
    if transform == "color":
        return keras.layers.RandomColorJitter(
            value_range=value_range,
            brightness_factor=0.2,
            contrast_factor=0.2,
            saturation_factor=(0.5, 0.9),
            hue_factor=0.05,
            seed=seed,
            name="color",
        )
    if transform == "cutout":
        scale = options.get("cutout_scale", 0.25)
        return keras.layers.RandomErasing(
            factor=1.0,
            scale=(scale, scale),
            fill_value=float(value_range[0]),
            value_range=value_range,
            seed=seed,
            name="cutout",
        )
    if transform == "randaugment":
        # factor 0.3 is about the paper's magnitude 9 of 30 (timm's rand-m9); Keras' default
        # of 0.5 turns Fashion-MNIST items into blurs and silhouettes.
        return keras.layers.RandAugment(
            value_range=value_range,
            num_ops=2,
            factor=options.get("randaugment_factor", 0.3),
            seed=seed,
            name="randaugment",
        )
    if transform == "mixup":
        return keras.layers.MixUp(alpha=options.get("mixup_alpha", 0.2), seed=seed, name="mixup")
    return keras.layers.CutMix(factor=options.get("cutmix_factor", 1.0), seed=seed, name="cutmix")


class LabelRuleError(ValueError):
    """A transform that would break a data set's labels. ``str()`` ends with the Python
    override (``allow=``); `for_command_line` with what ``kcnn train`` can do instead."""

    def __init__(self, what: str, name: str, reason: str, rule: str):
        self.what, self.name, self.reason, self.rule = what, name, reason, rule
        super().__init__(
            f"{what} would break the labels of {name}: {reason}. "
            f"Pass allow=({rule!r},) to apply it anyway."
        )

    def for_command_line(self) -> str:
        return (
            f"{self.what} would break the labels of {self.name}: {self.reason}. Choose "
            "--augment without it (the policies and transforms are in kcnn train --help)."
        )


#: The label rules each Keras augmentation layer touches (by class name; RandomFlip by mode).
_LAYER_RULES = {
    "RandomColorJitter": ("color",),
    "RandomHue": ("color",),
    "RandomSaturation": ("color",),
    "RandomColorDegeneration": ("color",),
    "RandomGrayscale": ("color",),
}


def layer_rules(layer: keras.layers.Layer) -> list[str]:
    """The label rules a Keras layer (or every layer of a ``keras.layers.Pipeline``) would
    break if the data set has them: a ``RandomFlip`` flips, colour layers change colour."""
    if isinstance(layer, keras.layers.Pipeline):
        return [rule for inner in layer.layers for rule in layer_rules(inner)]
    if isinstance(layer, keras.layers.RandomFlip):
        return [f"{side}_flip" for side in ("horizontal", "vertical") if side in layer.mode]
    return list(_LAYER_RULES.get(type(layer).__name__, ()))


def check_layer_rules(layer: keras.layers.Layer, dataset, allow: Sequence[str] = ()) -> None:
    """Raise `LabelRuleError` when a Keras layer would break ``dataset``'s label rules."""
    rules = getattr(dataset, "label_rules", dataset) or {}
    name = getattr(dataset, "name", "this data set")
    for rule in layer_rules(layer):
        if rule in rules and rule not in allow:
            raise LabelRuleError(f"The layer {layer.name!r}", name, rules[rule], rule)


def refused(transform: str, rules: Mapping, allow: Sequence[str] = ()) -> str | None:
    """Why a data set's label ``rules`` refuse ``transform`` (one of `TRANSFORMS`), or None
    when it keeps the labels (or its rule is in ``allow``). Training augmentation and
    test-time augmentation (`kcnn.infer`) both ask this."""
    rule = _RULE_OF.get(transform)
    return rules[rule] if rule in rules and rule not in allow else None


def default_padding(image_shape) -> int:
    """The crop's padding for an image shape: an eighth of the smaller side, at least 1.

    That is the CIFAR standard's 4 pixels on 32x32 (and on 28x28), and 1 on the 8x8 digits,
    where 4 would shift the digit half out of the picture.
    """
    channels_last = keras.config.image_data_format() == "channels_last"
    height, width = image_shape[:2] if channels_last else image_shape[1:]
    return max(1, round(min(height, width) / 8))


def _check_options(options: Mapping, image_shape) -> None:
    accepted = {
        "padding", "scale", "rotation", "cutout_scale", "mixup_alpha", "cutmix_factor",
        "randaugment_factor",
    }  # fmt: skip
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise TypeError(f"Unknown augmentation option(s) {unknown}. Accepted: {sorted(accepted)}.")
    padding = check_int("padding", options.get("padding", 4), 1)
    if image_shape is not None:
        channels_last = keras.config.image_data_format() == "channels_last"
        height, width = image_shape[:2] if channels_last else image_shape[1:]
        if padding >= min(height, width):
            raise ValueError(
                f"padding must be smaller than the image ({height}x{width}): a shift of "
                f"{padding} pixels would move the whole image out. Received: padding={padding}"
            )
    for name, low, high in (
        ("rotation", 0.0, 0.5),
        ("cutout_scale", 0.0, 1.0),
        ("mixup_alpha", 0.0, None),
        ("cutmix_factor", 0.0, 1.0),
        ("randaugment_factor", 0.0, 1.0),
    ):
        if name in options:
            check_number(
                name, options[name], low, high, low_open=True, high_open=False, kind="a number"
            )


def augmentation(
    policy: str | Sequence = "flip_crop",
    dataset: Dataset | Mapping | None = None,
    *,
    seed: int = 0,
    allow: Sequence[str] = (),
    value_range: tuple[float, float] = (0.0, 1.0),
    **options: float | int | tuple,
) -> keras.layers.Pipeline:
    """Build an augmentation policy as a `keras.layers.Pipeline`.

    Args:
        policy: a name from `POLICIES`, one transform name from `TRANSFORMS`, or a list of
            transform names and Keras layers. Defaults to ``"flip_crop"``.
        dataset: a `kcnn.data.Dataset` (or its ``label_rules`` dict). Transforms that would
            break its labels raise a ValueError that says why. Defaults to None (no check).
        seed: base seed; each layer gets ``seed + its position``. Defaults to 0.
        allow: label rules to override on purpose, e.g. ``("horizontal_flip",)``.
            Defaults to none.
        value_range: the range of pixel values. Defaults to ``(0.0, 1.0)``, kcnn's loaders'.
        **options: ``padding`` (crop, default `default_padding` of the data set's images,
            else 4), ``scale`` (resized_crop's area range,
            default (0.08, 1.0)), ``rotation`` (fraction of a full turn,
            default 0.04), ``cutout_scale`` (erased fraction of the area, default 0.25),
            ``mixup_alpha`` (default 0.2), ``cutmix_factor`` (default 1.0),
            ``randaugment_factor`` (magnitude, default 0.3).

    Returns:
        A `keras.layers.Pipeline`. Call it on a batch of images, or on
        ``{"images": ..., "labels": ...}`` with one-hot labels when it mixes (see
        `needs_one_hot`).

    Raises:
        ValueError: an unknown policy or transform, a transform that breaks the data set's
            labels (unless allowed), or an option out of range.

    Example:
        ```python
        data = kcnn.data.load_dataset("fashion_mnist")
        augment = kcnn.data.augmentation("flip_crop", data, seed=0)   # horizontal flips: fine
        kcnn.data.augmentation("flip_crop", kcnn.data.load_dataset("digits"))  # ValueError
        ```
    """
    if isinstance(policy, str) and policy not in POLICIES and policy in TRANSFORMS:
        policy = [policy]  # one transform on its own, e.g. "horizontal_flip"
    if isinstance(policy, str):
        if policy not in POLICIES:
            raise ValueError(
                f"Unknown augmentation policy: policy={policy!r}. Named policies: "
                f"{', '.join(POLICIES)}; or pass a list of transforms from {list(TRANSFORMS)}."
            )
        steps = list(POLICIES[policy])
    elif isinstance(policy, Sequence):
        steps = list(policy)
    else:
        raise TypeError(
            "policy must be a policy name or a list of transform names and Keras layers. "
            f"Received: {type(policy).__name__}"
        )
    for step in steps:
        if not isinstance(step, (str, keras.layers.Layer)) or (
            isinstance(step, str) and step not in TRANSFORMS
        ):
            raise ValueError(
                f"Unknown transform {step!r} in policy. Transforms: {', '.join(TRANSFORMS)}, "
                "or a keras.layers.Layer."
            )
    rules = getattr(dataset, "label_rules", dataset) or {}
    if not isinstance(rules, Mapping):
        raise TypeError(
            f"dataset must be a kcnn.data.Dataset or a dict of label rules. Received: {dataset!r}"
        )
    unknown_allow = sorted(set(allow) - set(_RULE_OF.values()))
    if unknown_allow:
        raise ValueError(
            f"allow names label rules to override: {sorted(set(_RULE_OF.values()))}. "
            f"Received: allow={list(allow)}"
        )
    name = getattr(dataset, "name", "this data set")
    for step in steps:
        if isinstance(step, keras.layers.Layer):
            check_layer_rules(step, dataset, allow)
            continue
        reason = refused(step, rules, allow)
        if reason:
            raise LabelRuleError(repr(step), name, reason, _RULE_OF[step])
    image_shape = getattr(dataset, "input_shape", None)
    if "padding" not in options and image_shape is not None:
        options = {**options, "padding": default_padding(image_shape)}
    _check_options(options, image_shape)
    if len(value_range) != 2 or not value_range[0] < value_range[1]:
        raise ValueError(f"value_range must be (low, high). Received: value_range={value_range!r}")
    layers = [
        _layer(step, seed + index, value_range, options) if isinstance(step, str) else step
        for index, step in enumerate(steps)
    ]
    label = policy if isinstance(policy, str) else "custom"
    if not layers:  # Keras' Pipeline cannot run empty
        layers = [keras.layers.Identity(name="identity")]
    return keras.layers.Pipeline(layers, name=f"augment_{label}")


def is_identity(pipeline: keras.layers.Pipeline) -> bool:
    """Whether a pipeline leaves images as they are (the ``"none"`` policy)."""
    return all(isinstance(layer, keras.layers.Identity) for layer in pipeline.layers)


def needs_one_hot(pipeline: keras.layers.Pipeline) -> bool:
    """Whether a pipeline mixes images (MixUp, CutMix) and so needs one-hot, soft labels."""
    return any(
        isinstance(layer, (keras.layers.MixUp, keras.layers.CutMix)) for layer in pipeline.layers
    )
