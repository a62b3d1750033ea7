"""A user's image files as a model's input: find them, decode them, fit them to the model.

Decoding goes through Pillow (which ``keras.utils.load_img`` wraps), with two additions:
EXIF orientation is applied (a phone's portrait photo is stored sideways), and a file that
Pillow deems a decompression bomb is refused rather than decoded. Each image is converted
to the model's channels (grey to RGB by repeating, RGB to grey by ITU-R 601 luma, as
Pillow's ``convert("L")`` does) and to its size by one of three `RESIZE` methods.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from kcnn._validate import check_choice

#: How an image of another size is fitted to the model's input.
#: ``pad``: scale to fit inside, keeping the aspect ratio, and pad the rest with black;
#: ``stretch``: scale each side to the input's (the aspect ratio changes);
#: ``crop``: scale to cover the input, keeping the aspect ratio, and cut the centre.
RESIZE = ("pad", "stretch", "crop")

#: File extensions read from a folder (Pillow reads more; name the files to read them).
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class BadImage(ValueError):
    """A file that is not a readable image."""


def find_images(inputs: str | os.PathLike | Iterable) -> list[Path]:
    """The image files named by ``inputs``: a file, a folder (its images, sorted, sub-folders
    included), or a list of files and folders.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: no image files at all.
    """
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith(".")
            )  # fmt: skip
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"No such image file or folder: {os.fspath(path)!r}")
    if not files:
        shown = ", ".join(repr(os.fspath(i)) for i in items[:3]) or "[]"
        raise ValueError(
            f"No image files in {shown}. Expected image files ({', '.join(EXTENSIONS)}) or "
            "folders that hold some."
        )
    return files


def read_image(path: str | os.PathLike, size: tuple[int, int], channels: int,
               resize: str = "pad") -> np.ndarray:  # fmt: skip
    """One image file as float32 ``(height, width, channels)`` in [0, 1].

    Args:
        path: an image file Pillow reads (PNG, JPEG, BMP, GIF, TIFF, WebP, ...).
        size: ``(height, width)`` of the model's input.
        channels: 1 (grayscale) or 3 (RGB).
        resize: one of `RESIZE`. Defaults to ``"pad"``.

    Raises:
        BadImage: the file is not an image Pillow can decode, is truncated, or is a
            decompression bomb.
    """
    from PIL import Image, ImageOps

    check_choice("resize", resize, RESIZE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image = ImageOps.exif_transpose(image)
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise BadImage(f"{os.fspath(path)}: refused as a decompression bomb ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's ways of saying "not an image"
        raise BadImage(f"{os.fspath(path)}: not a readable image ({error})") from None
    pixels = _to_array(image, channels)
    return _fit(pixels, size, resize)


def _to_array(image, channels: int) -> np.ndarray:
    """Pixels as float32 in [0, 1], with ``channels`` channels."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grayscale PNG/TIFF
        grey = np.asarray(image, dtype="float32") / (65535.0 if "16" in image.mode else 1.0)
        grey = np.clip(grey, 0.0, 1.0)[..., None]
        return grey if channels == 1 else np.repeat(grey, 3, axis=-1)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become black, like the background of kcnn's data sets.
        image = image.convert("RGBA")
        from PIL import Image

        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    image = image.convert("L" if channels == 1 else "RGB")
    pixels = np.asarray(image, dtype="float32") / 255.0
    return pixels[..., None] if channels == 1 else pixels


def _fit(pixels: np.ndarray, size: tuple[int, int], resize: str) -> np.ndarray:
    """Resize ``(h, w, c)`` pixels to ``size`` by the `RESIZE` method ``resize``."""
    height, width = pixels.shape[:2]
    target_h, target_w = size
    if (height, width) == (target_h, target_w):
        return pixels
    if resize == "stretch":
        return _resample(pixels, target_h, target_w)
    scale = (min if resize == "pad" else max)(target_h / height, target_w / width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    scaled = _resample(pixels, new_h, new_w)
    if resize == "crop":
        top, left = (new_h - target_h) // 2, (new_w - target_w) // 2
        return scaled[top : top + target_h, left : left + target_w]
    out = np.zeros((target_h, target_w, pixels.shape[-1]), dtype="float32")
    top, left = (target_h - new_h) // 2, (target_w - new_w) // 2
    out[top : top + new_h, left : left + new_w] = scaled
    return out


def _resample(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resampling with antialiasing (Pillow's, per channel in float32)."""
    from PIL import Image

    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(pixels[..., c])).resize(
                (width, height), Image.Resampling.BILINEAR, reducing_gap=None
            )
        )  # fmt: skip
        for c in range(pixels.shape[-1])
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype("float32")


def read_batches(
    files: list[Path], size: tuple[int, int], channels: int, resize: str, batch_size: int
) -> Iterator[tuple[np.ndarray, list[Path], list[tuple]]]:
    """Decode ``files`` ``batch_size`` at a time: yields ``(images, their files, bad files
    as (file, reason))``, so memory holds one batch whatever the folder's size."""
    for start in range(0, len(files), batch_size):
        images, good, bad = [], [], []
        for path in files[start : start + batch_size]:
            try:
                images.append(read_image(path, size, channels, resize))
                good.append(path)
            except BadImage as error:
                bad.append((path, str(error).split(": ", 1)[-1]))
        shape = (0, *size, channels)
        yield (np.stack(images) if images else np.zeros(shape, "float32")), good, bad
