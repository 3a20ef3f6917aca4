"""Decode frames into normalised float tensors (Pillow; no torchvision), and batch clips.

``load_clip(paths, size)`` returns ``(T, 3, H, W)`` float32, resized bilinearly to ``size = (H, W)``
and normalised with the ImageNet mean and std (``normalize=False`` keeps [0, 1]); ``flip=True``
mirrors every frame horizontally. ``ClipDataset`` wraps a list of clips (lists of frame paths) for a
``torch.utils.data.DataLoader`` (default collate gives ``(B, T, 3, H, W)``), so the engine batches
clips from many tracklets at once; :func:`tracklet_clips` plans those clips from tracklets under a
named sampling strategy and :class:`TrackletClipDataset` + :func:`collate_clips` also return, per
clip, the index of its tracklet (to pool clip features into tracklet features).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from reidbench.errors import DataError, InputError, describe

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "load_frame", "load_clip", "ClipDataset",
           "TrackletClipDataset", "tracklet_clips", "collate_clips"]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def load_frame(path: str, size: tuple[int, int]) -> np.ndarray:
    """One frame as ``(H, W, 3)`` float32 in [0, 1].

    Raises:
        DataError: The file is missing or not a decodable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(im, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise DataError(describe("frame", path, "an existing image", "nothing there",
                                 "run `reidbench data verify` on the copy")) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(describe("frame", path, "a decodable image", f"{type(exc).__name__}",
                                 "re-extract the dataset")) from None


def load_clip(paths: Sequence[str], size: tuple[int, int], normalize: bool = True,
              flip: bool = False) -> Any:
    """Frames as a ``(T, 3, H, W)`` float32 tensor.

    Args:
        paths: Frame files, in clip order.
        size: ``(H, W)`` after resizing.
        normalize: Subtract the ImageNet mean and divide by its std (per channel).
        flip: Mirror every frame horizontally (the width axis).

    Raises:
        DataError: A frame is missing or not decodable (named).
        InputError: No frames, or a size that is not two positive integers.
    """
    import torch

    if not paths:
        raise InputError(describe("paths", "load_clip", "at least one frame", "none", ""))
    if len(size) != 2 or any(int(v) < 1 for v in size):
        raise InputError(describe("size", "load_clip", "(H, W) positive integers", size, ""))
    arr = np.stack([load_frame(p, size) for p in paths])
    if flip:
        arr = arr[:, :, ::-1, :]
    if normalize:
        arr = (arr - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


class ClipDataset:
    """A map-style dataset over clips (each a list of frame paths) for a ``DataLoader``.

    Item ``i`` is ``load_clip(clips[i], size, normalize, flip)``; the default collate stacks them
    into ``(B, T, 3, H, W)`` when every clip has the same length.
    """

    def __init__(self, clips: Sequence[Sequence[str]], size: tuple[int, int],
                 normalize: bool = True, flip: bool = False) -> None:
        self.clips = clips
        self.size = (int(size[0]), int(size[1]))
        self.normalize = normalize
        self.flip = flip

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> Any:
        return load_clip(self.clips[i], self.size, self.normalize, self.flip)


def tracklet_clips(frames: Sequence[Sequence[str]], strategy: str, seq_len: int
                   ) -> tuple[np.ndarray, list[list[str]]]:
    """Plan the test-time clips of many tracklets.

    Args:
        frames: Per tracklet, its ordered frame paths (e.g. ``[t.frames for t in tracklets]``).
        strategy: A name in :data:`reidbench.datasets.sampling.SAMPLERS` (``rrs``,
            ``all_clips``, ...).
        seq_len: Frames per clip (``T``).

    Returns:
        ``(owner, clips)``: for every clip the index of its tracklet (int64), and its frame paths.
    """
    from reidbench.datasets.sampling import sample_test_clips

    owner: list[int] = []
    clips: list[list[str]] = []
    for k, paths in enumerate(frames):
        for clip in sample_test_clips(strategy, len(paths), seq_len):
            owner.append(k)
            clips.append([paths[i] for i in clip])
    return np.asarray(owner, dtype=np.int64), clips


class TrackletClipDataset(ClipDataset):
    """Clips of many tracklets; item ``i`` is ``(clip (T, 3, H, W), owner index)``.

    Use with ``DataLoader(..., collate_fn=collate_clips)`` to get ``(B, T, 3, H, W)`` clips drawn
    from many tracklets at once, and the ``(B,)`` tracklet index of each.
    """

    def __init__(self, frames: Sequence[Sequence[str]], strategy: str, seq_len: int,
                 size: tuple[int, int], normalize: bool = True, flip: bool = False) -> None:
        self.owner, clips = tracklet_clips(frames, strategy, seq_len)
        super().__init__(clips, size, normalize, flip)

    def __getitem__(self, i: int) -> Any:
        return super().__getitem__(i), int(self.owner[i])


def collate_clips(batch: Sequence[tuple[Any, int]]) -> tuple[Any, Any]:
    """Stack ``(clip, owner)`` items into ``(B, T, 3, H, W)`` and a ``(B,)`` int64 tensor.

    Raises:
        InputError: Clips of different lengths or sizes in one batch.
    """
    import torch

    shapes = {tuple(c.shape) for c, _ in batch}
    if len(shapes) != 1:
        raise InputError(describe("clips", "collate_clips", "one shape per batch",
                                  sorted(shapes), "use one seq_len and input size"))
    return (torch.stack([c for c, _ in batch]),
            torch.tensor([o for _, o in batch], dtype=torch.int64))
