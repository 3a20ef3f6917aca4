"""The synthetic generator's own PNG encoder: any decoder reads back the exact pixels."""

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from reidbench.datasets.synthetic.png import png_bytes


@pytest.mark.parametrize("level", [0, 1, 9])
@pytest.mark.parametrize("shape", [(128, 64, 3), (1, 1, 3), (17, 5, 3)])
def test_round_trip_through_pillow(shape, level):
    frame = np.random.default_rng(sum(shape) + level).integers(0, 256, shape, dtype=np.uint8)
    data = png_bytes(frame, level)
    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (shape[1], shape[0]))
        assert np.array_equal(np.asarray(im), frame)


def test_level_zero_stores_and_higher_levels_compress():
    frame = np.tile(np.arange(64, dtype=np.uint8)[None, :, None], (128, 1, 3))  # smooth ramp
    stored, packed = png_bytes(frame, 0), png_bytes(frame, 6)
    assert len(stored) > 128 * (1 + 64 * 3) > 10 * len(packed)
    idat = stored[stored.index(b"IDAT") + 4:stored.index(b"IEND") - 8]
    assert zlib.decompress(idat)[:4] == bytes([0, 0, 0, 0])  # row filter None, first pixel 0
    assert png_bytes(frame, 0) == stored  # a pure function of the pixels
