"""Frame decoding, normalisation, flip and batching clips across tracklets."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from reidbench.datasets.decode import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipDataset,
    TrackletClipDataset,
    collate_clips,
    load_clip,
    load_frame,
    tracklet_clips,
)
from reidbench.errors import DataError, InputError


def _png(path, left, right):
    """A 2x2 (h x w) image: left column one colour, right column another."""
    a = np.array([[left, right], [left, right]], dtype=np.uint8)
    Image.fromarray(a).save(path)
    return str(path)


@pytest.fixture()
def frames(tmp_path):
    return [_png(tmp_path / f"{k}.png", (10 * k, 0, 255), (0, 51, 0)) for k in range(5)]


def test_values_layout_and_flip(frames):
    clip = load_clip(frames[:3], (2, 2), normalize=False)
    assert clip.shape == (3, 3, 2, 2) and clip.dtype == torch.float32
    assert clip[2, :, 0, 0].tolist() == pytest.approx([20 / 255, 0.0, 1.0])  # left column
    assert clip[2, :, 0, 1].tolist() == pytest.approx([0.0, 0.2, 0.0])
    flipped = load_clip(frames[:3], (2, 2), normalize=False, flip=True)
    assert torch.equal(flipped, clip.flip(-1))


def test_imagenet_normalisation(frames):
    raw = load_clip(frames[:1], (2, 2), normalize=False)
    norm = load_clip(frames[:1], (2, 2))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(norm, (raw - mean) / std)
    assert norm[0, 2, 0, 0].item() == pytest.approx((1.0 - 0.406) / 0.225, rel=1e-6)


def test_resize(frames):
    assert load_frame(frames[0], (8, 4)).shape == (8, 4, 3)
    assert load_clip(frames[:2], (16, 8)).shape == (2, 3, 16, 8)


def test_missing_and_unreadable_frames_are_named(tmp_path, frames):
    with pytest.raises(DataError, match=r"nope\.png.*verify"):
        load_frame(str(tmp_path / "nope.png"), (2, 2))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff truncated")
    with pytest.raises(DataError, match=r"bad\.jpg.*decodable"):
        load_clip([frames[0], str(bad)], (2, 2))
    with pytest.raises(InputError, match="at least one frame"):
        load_clip([], (2, 2))
    with pytest.raises(InputError, match="size"):
        load_clip(frames, (0, 2))


def test_clips_from_many_tracklets_batch_together(frames):
    tracks = [frames[:5], frames[:1], frames[2:4]]
    owner, clips = tracklet_clips(tracks, "all_clips", 2)
    assert owner.tolist() == [0, 0, 0, 1, 2]
    assert clips[2] == [frames[4], frames[4]] and clips[3] == [frames[0], frames[0]]
    ds = TrackletClipDataset(tracks, "all_clips", 2, size=(2, 2), normalize=False, flip=True)
    batches = list(DataLoader(ds, batch_size=4, collate_fn=collate_clips))
    (x, o), (x2, o2) = batches
    assert x.shape == (4, 2, 3, 2, 2) and o.tolist() == [0, 0, 0, 1] and o2.tolist() == [2]
    assert torch.equal(x[3], load_clip(clips[3], (2, 2), normalize=False).flip(-1))
    plain = next(iter(DataLoader(ClipDataset(clips, (2, 2)), batch_size=5)))
    assert plain.shape == (5, 2, 3, 2, 2)


def test_collate_refuses_mixed_shapes(frames):
    a, b = load_clip(frames[:2], (2, 2)), load_clip(frames[:3], (2, 2))
    with pytest.raises(InputError, match="one shape per batch"):
        collate_clips([(a, 0), (b, 1)])
