"""Reading and writing images safely: every mode users really have, metadata kept, atomic writes.

Pixels travel as (H, W, 3) RGB, kept as decoded (uint8 / uint16: a quarter / half of float32's
memory, which bounds a 100 MP photo) or as float32 in [0, 1]; what the network must not touch
(alpha, grayscale-ness, bit depth, ICC profile, EXIF) travels beside them in ``ImageData`` and
is put back on write.
"""

from __future__ import annotations

import io as _io
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from .atomic import WriteError, write_atomic
from .png_codec import decode_plain_png, encode_plain_png, is_plain_png, png_bit_depth

# Refuse decompression bombs outright (Pillow only warns below twice this): 16k x 16k is
# far above any camera we expect, and a bigger declared size is an attack or a broken file.
MAX_PIXELS = 16384 * 16384
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# What we read (GIF: its first frame) and what we write.
EXTENSIONS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP", ".gif": "GIF",
}
WRITABLE_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp")
FORMAT_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp", "MPO": "jpg"}
SIXTEEN_BIT_FORMATS = {"png", "tif"}
_ORIENTATION_TAG = 0x0112


class ImageReadError(Exception):
    """The file is not an image we can read; the message says why."""


@dataclass(frozen=True)
class ImageData:
    """An image ready for the network, with everything needed to write it back faithfully.

    pixels: (H, W, 3) RGB, float32 in [0, 1] or integers (uint8 / uint16, 0 to the dtype's
    maximum) as decoded; ``float_pixels()`` gives float32 in [0, 1] whichever it is.
    alpha: (H, W) of the same kinds, or None.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    grayscale: bool = False
    bit_depth: int = 8
    icc_profile: bytes | None = None
    exif: bytes | None = None
    format: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.pixels.shape[0], self.pixels.shape[1]

    def with_pixels(self, pixels: np.ndarray) -> "ImageData":
        return replace(self, pixels=pixels)

    def float_pixels(self) -> np.ndarray:
        """(H, W, 3) float32 in [0, 1]: ``pixels`` itself if float, else a converted copy."""
        return to_float(self.pixels)


def to_float(values: np.ndarray) -> np.ndarray:
    """uint8 / uint16 (0 to the dtype's maximum) or float -> float32 in [0, 1] (float32 input is returned as is)."""
    if values.dtype.kind == "f":
        return values.astype(np.float32, copy=False)
    converted = values.astype(np.float32)
    return np.divide(converted, float(np.iinfo(values.dtype).max), out=converted)


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def read_image(source: str | os.PathLike | bytes) -> ImageData:
    """Decode a file path or encoded bytes into ``ImageData``; raises ``ImageReadError``."""
    data = source if isinstance(source, bytes) else _read_bytes(Path(source))
    if not data:
        raise ImageReadError("empty file")
    if is_plain_png(data):
        plain = decode_plain_png(data)
        if plain is not None:
            return _image_data(plain, 8, None, None, "PNG")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on odd but readable files are not for users
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(_io.BytesIO(data)) as img:
                img.load()
                return _from_pil(img, data)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"image too large ({exc})") from exc
    except Image.DecompressionBombWarning as exc:
        raise ImageReadError(f"image too large ({exc})") from exc
    except Image.UnidentifiedImageError:
        raise ImageReadError("not a recognised image format") from None
    except MemoryError:
        raise ImageReadError("not enough memory to decode this image") from None
    except Exception as exc:  # corrupt files raise anything from OSError to struct.error in Pillow's plugins
        raise ImageReadError(f"cannot decode image ({type(exc).__name__}: {exc})") from exc


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise ImageReadError("is a directory")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError("no such file") from None
    except PermissionError:
        raise ImageReadError("permission denied") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read ({exc.strerror or exc})") from exc


def _from_pil(img: Image.Image, data: bytes) -> ImageData:
    fmt = img.format
    icc = img.info.get("icc_profile")
    exif_obj = Image.Exif()
    exif_obj.load(img.getexif().tobytes())  # a copy: exif_transpose below reads the original
    orientation = exif_obj.get(_ORIENTATION_TAG, 1)
    if exif_obj:
        exif_obj[_ORIENTATION_TAG] = 1  # we apply the rotation, so the written file is upright
    exif = exif_obj.tobytes() if exif_obj else None
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # animated GIF/WebP/TIFF: restore the first frame only
    mode = img.mode
    maybe_16bit = fmt == "TIFF" or (fmt == "PNG" and png_bit_depth(data) == 16)
    sixteen = _decode_16bit(data) if mode in ("I;16", "I;16B", "I;16L", "I", "RGB", "RGBA") and maybe_16bit else None
    if sixteen is not None:
        array, bit_depth = sixteen, 16
        array = _orient(array, orientation)
    else:
        bit_depth = 16 if mode.startswith("I;16") else 8
        array = _pil_to_array(ImageOps.exif_transpose(img) if orientation != 1 else img)
    return _image_data(array, bit_depth, icc, exif, fmt)


def _image_data(array: np.ndarray, bit_depth: int, icc: bytes | None, exif: bytes | None, fmt: str | None) -> ImageData:
    """(H, W[, C]) uint8 / uint16 / float32 in [0, 1], C in 1 (L), 2 (LA), 3 (RGB), 4 (RGBA) -> ``ImageData``."""
    if array.ndim == 2:
        array = array[..., None]
    channels = array.shape[2]
    grayscale = channels in (1, 2)
    alpha = array[..., -1].copy() if channels in (2, 4) else None
    color = array[..., :1] if grayscale else array[..., :3]
    pixels = np.repeat(color, 3, axis=2) if grayscale else color
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ImageReadError("image has no pixels")
    return ImageData(np.ascontiguousarray(pixels), alpha, grayscale, bit_depth, icc, exif, fmt)


def _decode_16bit(data: bytes) -> np.ndarray | None:
    """OpenCV keeps 16-bit colour PNG/TIFF that Pillow would cut to 8 bits; None if not 16-bit."""
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        return None
    if array.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        array = cv2.cvtColor(array, code)
    return array


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W[, C]) array, as ``ImageOps.exif_transpose`` does."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(array)) if op else array


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, C) with C in 1 (L), 2 (LA), 3 (RGB), 4 (RGBA): uint8, uint16
    (16-bit modes), or float32 in [0, 1] (32-bit integer and float modes)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img).astype(np.uint16)
    if mode == "I":
        array = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if array.max(initial=0) > 255 else 255.0
        return np.clip(array / scale, 0, 1).astype(np.float32)
    if mode == "F":
        array = np.asarray(img, dtype=np.float32)
        if array.max(initial=0) > 1.0:
            array = array / 255.0
        return np.clip(np.nan_to_num(array), 0, 1)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode == "1":
        img = img.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in mode else "RGB")  # CMYK, YCbCr, LAB, ...
    return np.asarray(img)


def encode_image(image: ImageData, ext: str, quality: int = 95) -> bytes:
    """Encode ``image`` as ``ext`` (png, jpg, webp, tif, bmp) to bytes, metadata included."""
    ext = ext.lower().lstrip(".")
    if ext == "jpeg":
        ext = "jpg"
    if ext == "tiff":
        ext = "tif"
    fmt = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "tif": "TIFF", "bmp": "BMP"}.get(ext)
    if fmt is None:
        raise WriteError(f"unsupported output format {ext!r}")
    alpha = image.alpha if fmt != "JPEG" else None
    if image.bit_depth == 16 and ext in SIXTEEN_BIT_FORMATS:
        return _encode_16bit(_quantize(image.pixels, alpha, image.grayscale, np.uint16), ext)
    as_uint8 = _quantize(image.pixels, alpha, image.grayscale, np.uint8)
    if fmt == "PNG" and not image.icc_profile and not image.exif and as_uint8.shape[2] != 2:
        return encode_plain_png(as_uint8)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[as_uint8.shape[2]]
    if fmt == "BMP" and mode == "LA":
        as_uint8, mode = as_uint8[..., :1], "L"
    img = Image.fromarray(as_uint8[..., 0] if mode == "L" else as_uint8, mode)
    options: dict = {}
    if image.icc_profile:
        options["icc_profile"] = image.icc_profile
    if image.exif and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        options["exif"] = image.exif
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    buffer = _io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def _quantize(pixels: np.ndarray, alpha: np.ndarray | None, grayscale: bool, dtype: type) -> np.ndarray:
    """(H, W, 3) RGB (+ (H, W) alpha), float in [0, 1] or integers -> (H, W, C) integers of
    ``dtype``, clipped and rounded.

    RGB already of ``dtype`` without alpha is returned as it is (no copy of a 100 MP photo);
    otherwise it works in bands of rows, so no whole-image float temporaries are made.
    """
    if pixels.dtype == dtype and alpha is None and not grayscale:
        return pixels
    height, width = pixels.shape[:2]
    channels = (1 if grayscale else 3) + (alpha is not None)
    out = np.empty((height, width, channels), dtype=dtype)
    scale = float(np.iinfo(dtype).max)
    for top in range(0, height, 256):
        rows = slice(top, top + 256)
        # fmax/fmin take the number over a NaN: NaN -> 0, -inf -> 0, +inf -> 1, as nan_to_num then
        # clip would, in two passes instead of six (a third of the time of encoding a thumbnail).
        band = np.fmax(to_float(pixels[rows]), 0)
        np.fmin(band, 1, out=band)
        color = band.mean(axis=2, keepdims=True) if grayscale else band
        block = np.concatenate([color, to_float(alpha[rows])[..., None]], axis=2) if alpha is not None else color
        out[rows] = np.round(block * scale)
    return out


def _encode_16bit(as_uint16: np.ndarray, ext: str) -> bytes:
    if as_uint16.shape[2] == 3:
        as_uint16 = cv2.cvtColor(as_uint16, cv2.COLOR_RGB2BGR)
    elif as_uint16.shape[2] == 4:
        as_uint16 = cv2.cvtColor(as_uint16, cv2.COLOR_RGBA2BGRA)
    elif as_uint16.shape[2] == 1:
        as_uint16 = as_uint16[..., 0]
    ok, encoded = cv2.imencode("." + ext, as_uint16)
    if not ok:
        raise WriteError(f"could not encode a 16-bit {ext}")
    return encoded.tobytes()


def write_image(path: str | os.PathLike, image: ImageData, ext: str | None = None, quality: int = 95) -> None:
    """Encode and atomically write ``image``; the format follows ``ext`` or the path's suffix."""
    path = Path(path)
    write_atomic(path, encode_image(image, ext or path.suffix, quality))


def to_uint8_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> uint8, rounding and clipping."""
    return np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
