"""Decode frames into normalised float tensors (Pillow; no torchvision), and batch clips.

``load_clip(paths, size)`` returns ``(T, 3, H, W)`` float32, resized bilinearly to ``size = (H, W)``
and normalised with the ImageNet mean and std (``normalize=False`` keeps [0, 1]). ``ClipDataset``
wraps a list of clips (lists of frame paths) for a ``torch.utils.data.DataLoader``, so the engine
batches clips from many tracklets at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reidbench.errors import DataError, describe

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "load_frame", "load_clip", "ClipDataset"]

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


def load_clip(paths: Sequence[str], size: tuple[int, int], normalize: bool = True) -> object:
    """Frames as a ``(T, 3, H, W)`` float32 tensor."""
    import torch

    arr = np.stack([load_frame(p, size) for p in paths])
    if normalize:
        arr = (arr - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


class ClipDataset:
    """A map-style dataset over clips (each a list of frame paths) for a DataLoader."""

    def __init__(self, clips: Sequence[Sequence[str]], size: tuple[int, int],
                 normalize: bool = True) -> None:
        self.clips = clips
        self.size = tuple(size)
        self.normalize = normalize

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> object:
        return load_clip(self.clips[i], self.size, self.normalize)
