"""Frames are bounded in size before decoding: a decompression bomb is one DataError line.

The files are forged headers (a 15000 x 15000 PNG is 57 bytes here): the size is refused from the
header, so nothing is ever decoded. Variants cover both sides of Pillow's own limits (its warning
at ~89 M pixels, its error at ~179 M) and of reidbench's (MAX_FRAME_PIXELS, MAX_FRAME_SIDE).
"""

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from reidbench.datasets.decode import (
    MAX_FRAME_PIXELS,
    MAX_FRAME_SIDE,
    Uint8ClipDataset,
    load_frame,
    read_frame,
)
from reidbench.errors import DataError


def _png_header(path, width, height):
    """A PNG whose IHDR declares ``width x height`` (8-bit RGB) and whose data is empty."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return str(path)


def _jpeg_header(path, width, height):
    """A real 8 x 8 JPEG whose SOF0 marker is patched to declare ``width x height``."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return str(path)


SIZES = [
    (15000, 15000),                # Pillow's DecompressionBombError
    (10000, 10000),                # Pillow's DecompressionBombWarning
    (4097, 4096),                  # just over MAX_FRAME_PIXELS
    (MAX_FRAME_SIDE + 1, 16),      # a long thin strip
    (16, 65535),
]


@pytest.mark.parametrize("fmt", [_png_header, _jpeg_header])
@pytest.mark.parametrize("size", SIZES)
def test_oversized_frames_are_one_data_error_naming_file_and_limit(tmp_path, fmt, size):
    path = fmt(tmp_path / ("bomb.jpg" if fmt is _jpeg_header else "bomb.png"), *size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Pillow warning escapes either
        with pytest.raises(DataError) as err:
            read_frame(path, (32, 16))
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"frame in {path}: expected an image of at most")
    assert f"{MAX_FRAME_PIXELS:,} pixels" in msg
    with pytest.raises(DataError):
        load_frame(path, (32, 16))


def test_the_worker_dataset_returns_the_error(tmp_path):
    path = _png_header(tmp_path / "bomb.png", 15000, 15000)
    item = Uint8ClipDataset([[path]], (32, 16))[0]
    assert isinstance(item, DataError) and "at most" in str(item)


@pytest.mark.parametrize("size", [(4096, 4096), (MAX_FRAME_SIDE, 2)])
def test_frames_at_the_limit_are_decoded(tmp_path, size):
    path = tmp_path / "big.png"
    Image.new("RGB", size, (200, 100, 50)).save(path)
    out = read_frame(str(path), (4, 2))
    assert out.shape == (4, 2, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [200, 100, 50]


def _pillow_frame(path, size):
    """The frame as Pillow alone decodes and resizes it (the reference for the fast path)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if im.size != (size[1], size[0]):
            im = im.resize((size[1], size[0]), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


@pytest.mark.parametrize("subsampling", [0, 1, 2])  # 4:4:4, 4:2:2, 4:2:0
@pytest.mark.parametrize("quality", [60, 95])
def test_jpeg_fast_path_decodes_the_same_pixels_as_pillow(tmp_path, subsampling, quality):
    rng = np.random.default_rng(subsampling * 100 + quality)
    # a smooth picture with edges and noise, like a person crop
    y, x = np.mgrid[0:256, 0:128]
    img = np.stack([(x * 2) % 256, (y + 3 * x) % 256, 128 + 60 * np.sin(y / 9.0)], -1)
    img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "f.jpg"
    Image.fromarray(img).save(path, quality=quality, subsampling=subsampling)
    for size in [(256, 128), (128, 64), (100, 37)]:
        np.testing.assert_array_equal(read_frame(str(path), size), _pillow_frame(path, size))


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_other_jpeg_colour_spaces_go_to_pillow(tmp_path, mode):
    path = tmp_path / "f.jpg"
    Image.new(mode, (16, 32), 90 if mode == "L" else (10, 20, 30, 40)).save(path)
    np.testing.assert_array_equal(read_frame(str(path), (32, 16)), _pillow_frame(path, (32, 16)))


def test_a_truncated_jpeg_is_refused_as_pillow_refuses_it(tmp_path):
    path = tmp_path / "f.jpg"
    Image.new("RGB", (128, 256), (1, 2, 3)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="expected a decodable image"):
        read_frame(str(path), (256, 128))


def test_the_decoder_is_named():
    from reidbench.datasets.decode import jpeg_decoder

    assert jpeg_decoder().startswith("simplejpeg ")
