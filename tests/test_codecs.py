"""Encoding and decoding pixels: plain PNGs (8-bit gray/RGB/RGBA, no metadata) go through OpenCV both ways with the
same pixels as Pillow, damaged files still give one clear line; quantisation clips and zeroes what is not a number."""

from __future__ import annotations

import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from edgedeblur_cli.files import io as image_io
from edgedeblur_cli.files import png_codec
from edgedeblur_cli.files.io import ImageData, ImageReadError, encode_image, read_image

from conftest import synthetic_photo


def _png(array: np.ndarray, mode: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG", **options)
    return buffer.getvalue()


def _photo_with_alpha(height: int, width: int) -> np.ndarray:
    rgb = synthetic_photo(height, width)
    alpha = np.linspace(0, 255, height * width).reshape(height, width, 1).astype(np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


PLAIN = {
    "L": lambda: _png(synthetic_photo(21, 34)[..., 0], "L"),
    "RGB": lambda: _png(synthetic_photo(21, 34), "RGB"),
    "RGBA": lambda: _png(_photo_with_alpha(21, 34), "RGBA"),
    "RGB with dpi": lambda: _png(synthetic_photo(21, 34), "RGB", dpi=(300, 300)),
}


def _through_pillow(data: bytes, monkeypatch) -> ImageData:
    with monkeypatch.context() as patch:
        patch.setattr(image_io, "is_plain_png", lambda data: False)
        return read_image(data)


@pytest.mark.parametrize("kind", sorted(PLAIN))
def test_plain_pngs_decode_to_what_pillow_decodes(kind, monkeypatch):
    data = PLAIN[kind]()
    assert png_codec.is_plain_png(data)
    fast, reference = read_image(data), _through_pillow(data, monkeypatch)
    assert np.array_equal(fast.pixels, reference.pixels)
    assert (fast.alpha is None) == (reference.alpha is None)
    if fast.alpha is not None:
        assert np.array_equal(fast.alpha, reference.alpha)
    assert (fast.grayscale, fast.bit_depth, fast.icc_profile, fast.exif, fast.format) == (
        reference.grayscale, reference.bit_depth, reference.icc_profile, reference.exif, reference.format
    )


def _with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x")
    return _png(synthetic_photo(8, 8), "RGB", pnginfo=info)


NOT_PLAIN = {
    "palette": lambda: _png(synthetic_photo(8, 8)[..., 0] // 16, "P"),
    "gray + alpha": lambda: _png(np.zeros((8, 8, 2), np.uint8), "LA"),
    "text chunk": _with_text,
    "ICC profile": lambda: _png(synthetic_photo(8, 8), "RGB", icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()),
    "EXIF": lambda: _png(synthetic_photo(8, 8), "RGB", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00"),
    "16-bit": lambda: cv2.imencode(".png", synthetic_photo(8, 8).astype(np.uint16) * 257)[1].tobytes(),
    "truncated": lambda: PLAIN["RGB"]()[:-20],
    "not a PNG": lambda: b"GIF89a" + bytes(100),
}


@pytest.mark.parametrize("kind", sorted(NOT_PLAIN))
def test_anything_else_goes_through_pillow(kind):
    assert not png_codec.is_plain_png(NOT_PLAIN[kind]())


def test_a_damaged_plain_png_is_one_clear_error_and_libpng_stays_quiet(capfd):
    data = bytearray(PLAIN["RGB"]())
    data[60] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    assert not png_codec.is_plain_png(bytes(data))
    with pytest.raises(ImageReadError):
        read_image(bytes(data))
    assert capfd.readouterr().err == ""  # libpng (inside OpenCV) writes its complaints to fd 2


def _with_idat(good: bytes, payload: bytes) -> bytes:
    """``good`` with its IDAT chunk replaced by ``payload`` under a correct CRC."""
    start = good.index(b"IDAT") - 4
    length = int.from_bytes(good[start : start + 4], "big")
    chunk = len(payload).to_bytes(4, "big") + b"IDAT" + payload + zlib.crc32(b"IDAT" + payload).to_bytes(4, "big")
    return good[:start] + chunk + good[start + 12 + length :]


def _idat_rows(good: bytes) -> bytes:
    start = good.index(b"IDAT") - 4
    return zlib.decompress(good[start + 8 : start + 8 + int.from_bytes(good[start : start + 4], "big")])


CRC_VALID_BUT_BROKEN = {
    "not zlib": lambda good: bytes(200),
    "rows cut short": lambda good: zlib.compress(_idat_rows(good)[:-30]),
    "rows too long": lambda good: zlib.compress(_idat_rows(good) + bytes(103)),
    "bad filter byte": lambda good: zlib.compress(b"\x07" + _idat_rows(good)[1:]),
    "stream cut short": lambda good: zlib.compress(_idat_rows(good))[:-8],
}


@pytest.mark.parametrize("kind", sorted(CRC_VALID_BUT_BROKEN))
def test_pngs_with_valid_crcs_but_broken_rows_go_through_pillow(kind, capfd):
    """Damage a CRC cannot see (the CRCs recomputed): libpng would complain on stderr, so OpenCV never sees it."""
    good = PLAIN["RGB"]()
    data = _with_idat(good, CRC_VALID_BUT_BROKEN[kind](good))
    assert not png_codec.is_plain_png(data)
    try:
        read_image(data)
    except ImageReadError:
        pass  # Pillow may still read what is there; either way, nothing from libpng
    assert capfd.readouterr().err == ""


def test_a_rebuilt_idat_is_still_plain():
    """The helpers above rebuild a sound file exactly: the cases they break are broken by their change alone."""
    good = PLAIN["RGB"]()
    assert png_codec.is_plain_png(_with_idat(good, zlib.compress(_idat_rows(good))))


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_png_outputs_without_metadata_keep_pixels_and_mode(channels, mode):
    rgba = _photo_with_alpha(19, 23).astype(np.float32) / 255
    image = ImageData(rgba[..., :3], rgba[..., 3] if channels == 4 else None, grayscale=channels == 1)
    encoded = encode_image(image, "png")
    assert png_codec.is_plain_png(encoded)
    decoded = Image.open(io.BytesIO(encoded))
    assert (decoded.mode, decoded.size) == (mode, (23, 19))
    expected = image_io._quantize(image.pixels, image.alpha, image.grayscale, np.uint8)
    assert np.array_equal(np.asarray(decoded).reshape(expected.shape), expected)


def test_png_outputs_with_an_icc_profile_keep_it():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = ImageData(synthetic_photo(8, 8).astype(np.float32) / 255, icc_profile=profile)
    assert Image.open(io.BytesIO(encode_image(image, "png"))).info.get("icc_profile") == profile


def test_quantize_rounds_clips_and_zeroes_what_is_not_a_number():
    pixels = np.random.default_rng(0).normal(0.5, 0.6, (300, 7, 3)).astype(np.float32)
    pixels[0, 0] = [np.nan, np.inf, -np.inf]
    expected = np.round(np.clip(np.nan_to_num(pixels), 0, 1) * 255).astype(np.uint8)
    quantized = image_io._quantize(pixels, None, False, np.uint8)
    assert np.array_equal(quantized, expected)
    assert quantized[0, 0].tolist() == [0, 255, 0]
