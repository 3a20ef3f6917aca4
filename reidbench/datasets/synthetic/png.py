"""A minimal PNG encoder for RGB frames: a few dozen microseconds per frame, uncompressed.

Pillow's PNG encoder filters every row adaptively even when nothing is compressed, which made it
the slowest step of writing an iLIDS-VID or PRID-2011 copy (about 0.5 ms per 128x64 frame at zlib
level 0, 1 ms at level 1). Frames here are written as 8-bit RGB, non-interlaced, in one ``IDAT``
chunk: row filter *None* when stored (``level=0``, nothing to gain from filtering) and *Sub* when
compressed (a cheap vectorised filter that helps zlib on smooth images). Any PNG decoder reads the
result; the output is a pure function of the pixels and the level.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["png_bytes"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FILTER_NONE, _FILTER_SUB = 0, 1


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(frame: np.ndarray, level: int = 0) -> bytes:
    """Encode one ``(H, W, 3)`` uint8 RGB frame as PNG.

    Args:
        frame: The pixels.
        level: zlib level 0..9; 0 stores the rows uncompressed (fastest, about 1.6x the bytes of
            level 1 on noisy frames).

    Returns:
        The PNG file's bytes.
    """
    h, w, _ = frame.shape
    rows = np.ascontiguousarray(frame, dtype=np.uint8).reshape(h, 3 * w)
    raw = np.empty((h, 1 + 3 * w), np.uint8)
    if level == 0:
        raw[:, 0] = _FILTER_NONE
        raw[:, 1:] = rows
    else:  # Sub: each byte minus the same channel of the pixel to its left (mod 256)
        raw[:, 0] = _FILTER_SUB
        raw[:, 1:4] = rows[:, :3]
        np.subtract(rows[:, 3:], rows[:, :-3], out=raw[:, 4:])
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + _chunk(b"IEND", b""))
