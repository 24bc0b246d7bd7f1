"""The fast path for plain PNGs (thumbnails, screenshots): checked byte by byte, then coded by
OpenCV, where decoding and encoding are a real share of a folder's time. Anything not plain
goes through Pillow (``io.py``), which also says in one line what is wrong with a broken file.
"""

from __future__ import annotations

import zlib

import cv2
import numpy as np

from .atomic import WriteError


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that change no pixel and carry nothing we keep: a PNG made of these alone is "plain".
# iCCP, eXIf and text chunks (EXIF may hide in one) hold metadata we carry over; PLTE, tRNS,
# gAMA, sBIT and the like change what the pixels mean; all of them go through Pillow.
_PLAIN_PNG_CHUNKS = frozenset({b"IHDR", b"IDAT", b"IEND", b"pHYs", b"sRGB", b"tIME"})
_PLAIN_PNG_CHANNELS = {0: 1, 2: 3, 6: 4}  # colour type -> channels: gray, RGB, RGBA (not palette, not gray + alpha)
# Thumbnails and screenshots, where decoding is a real share of the work; bigger PNGs spend their
# time in the network, and checking them here would inflate a whole extra copy of their pixels.
_PLAIN_PNG_MAX_PIXELS = 1 << 22


def is_plain_png(data: bytes) -> bool:
    """True for a sound, non-interlaced 8-bit gray, RGB or RGBA PNG of up to ~4 MP holding nothing but pixels.

    Sound means every chunk's CRC matches, the file reaches IEND, and the compressed rows
    inflate to exactly the rows the header declares, each with a valid filter byte: nothing
    for libpng (inside OpenCV) to complain about on stderr, where it writes on its own. A file
    that fails goes to Pillow, which says in one line what is wrong with it.
    """
    if len(data) < 45 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return False
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    bit_depth, color_type, interlace = data[24], data[25], data[28]
    channels = _PLAIN_PNG_CHANNELS.get(color_type)
    if bit_depth != 8 or channels is None or interlace != 0 or not 0 < width * height <= _PLAIN_PNG_MAX_PIXELS:
        return False
    view = memoryview(data)
    compressed = []
    position = 8
    while position + 12 <= len(data):
        length = int.from_bytes(view[position : position + 4], "big")
        end = position + 12 + length
        kind = bytes(view[position + 4 : position + 8])
        if end > len(data) or kind not in _PLAIN_PNG_CHUNKS:
            return False
        if zlib.crc32(view[position + 4 : end - 4]) != int.from_bytes(view[end - 4 : end], "big"):
            return False
        if kind == b"IDAT":
            compressed.append(view[position + 8 : end - 4])
        elif kind == b"IEND":
            return rows_are_sound(b"".join(compressed), height, 1 + width * channels)
        position = end
    return False


def rows_are_sound(compressed: bytes, height: int, row_bytes: int) -> bool:
    """The zlib stream inflates completely to ``height`` rows of ``row_bytes``, each starting with a filter type 0-4."""
    inflater = zlib.decompressobj()
    try:
        rows = inflater.decompress(compressed, height * row_bytes + 1)
    except zlib.error:
        return False
    if len(rows) != height * row_bytes or not inflater.eof:
        return False
    return bool((np.frombuffer(rows, np.uint8)[::row_bytes] <= 4).all())


def decode_plain_png(data: bytes) -> np.ndarray | None:
    """A plain PNG (see ``is_plain_png``) through OpenCV as (H, W) or (H, W, 3|4) uint8 gray/RGB/RGBA:
    the same pixels as Pillow, 3.7x faster on thumbnails (1.5x with the check); None if it cannot."""
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint8:
        return None
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return array


def png_bit_depth(data: bytes) -> int | None:
    """The bit depth in a PNG's header (IHDR), without decoding it; None if the header is not there."""
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) > 24:
        return data[24]
    return None


def encode_plain_png(as_uint8: np.ndarray) -> bytes:
    """(H, W, 1|3|4) uint8 L/RGB/RGBA -> PNG bytes through OpenCV: the same pixels as Pillow's
    encoder at the same zlib level, about twice as fast on thumbnails (no metadata to carry)."""
    channels = as_uint8.shape[2]
    if channels == 1:
        ordered = as_uint8[..., 0]
    else:
        ordered = cv2.cvtColor(as_uint8, cv2.COLOR_RGBA2BGRA if channels == 4 else cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", ordered, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise WriteError("could not encode a PNG")
    return encoded.tobytes()
