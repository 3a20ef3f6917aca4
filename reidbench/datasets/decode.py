"""Decode frames (simplejpeg for JPEGs, Pillow; no torchvision), bounded in size; batch clips.

``read_frame(path, size)`` returns ``(H, W, 3)`` uint8, resized bilinearly to ``size = (H, W)``;
a file whose header declares more than :data:`MAX_FRAME_PIXELS` pixels (or a side longer than
:data:`MAX_FRAME_SIDE`) is refused before any pixel is decoded, so a decompression bomb costs
nothing. ``load_frame`` is the same frame as float32 in [0, 1]; ``load_clip(paths, size)`` returns
``(T, 3, H, W)`` float32 normalised with the ImageNet mean and std (``normalize=False`` keeps
[0, 1]); ``flip=True`` mirrors every frame horizontally.

For extraction, :class:`Uint8ClipDataset` hands a ``torch.utils.data.DataLoader`` clips as
``(T, H, W, 3)`` uint8 (a quarter of float32's bytes, decoded and resized in the workers), and
:func:`normalize_clips` converts a collated ``(B, T, H, W, 3)`` batch to normalised float on the
model's device. An error in a worker (a corrupt frame) comes back as the original one-line
:class:`~reidbench.errors.ReidbenchError`, not the worker's traceback (:func:`collate_uint8`,
:func:`raise_failed`). ``ClipDataset`` wraps clips as float tensors (default collate gives
``(B, T, 3, H, W)``); :func:`tracklet_clips` plans clips from tracklets under a named sampling
strategy and :class:`TrackletClipDataset` + :func:`collate_clips` also return, per clip, the index
of its tracklet (to pool clip features into tracklet features).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from reidbench.errors import DataError, InputError, ReidbenchError, describe

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "MAX_FRAME_PIXELS", "MAX_FRAME_SIDE", "read_frame",
           "jpeg_decoder",
           "load_frame", "load_clip", "ClipDataset", "Uint8ClipDataset", "collate_uint8",
           "raise_failed", "normalize_clips", "TrackletClipDataset", "tracklet_clips",
           "collate_clips"]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

#: Largest frame decoded, in pixels (width x height): 4096 x 4096. Re-ID frames are person crops
#: (MARS 256 x 128, DukeV crops well under 2000 pixels high); a header declaring more is refused
#: before decoding (Pillow's own decompression-bomb limit is ~179 M pixels, 2.7 GB of RGB).
MAX_FRAME_PIXELS = 4096 * 4096
#: Longest side of a frame, in pixels.
MAX_FRAME_SIDE = 8192

_FIX_FRAME = "re-extract the dataset (re-ID frames are person crops of a few hundred pixels)"


def not_a_regular_file(path: str) -> str | None:
    """Why ``path`` is no regular file (after links), or None when it is one or is missing.

    A frame that is a named pipe blocks its reader forever and one linked to ``/dev/zero`` never
    ends; a folder named like a frame is refused the same way. A missing file is left to the
    reader's own "nothing there".
    """
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:  # a link loop, a name too long
        return f"a path that cannot be read ({exc.strerror or type(exc).__name__})"
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
    return f"{kind}, not a regular file"


def _too_large(path: str, got: str) -> DataError:
    return DataError(describe("frame", path, f"an image of at most {MAX_FRAME_PIXELS:,} pixels "
                              f"and sides of at most {MAX_FRAME_SIDE}", got, _FIX_FRAME))


def _open_bounded(path: str) -> Any:
    """Open ``path`` with Pillow (header only) and refuse a size beyond the bounds.

    Pillow's decompression-bomb warning and error (raised while it reads the header) become the
    same :class:`DataError` as a size over :data:`MAX_FRAME_PIXELS`.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(path, f"{int(found.group(1)):,} pixels" if found
                         else "a decompression bomb") from None
    w, h = im.size
    if w * h > MAX_FRAME_PIXELS or max(w, h) > MAX_FRAME_SIDE:
        im.close()
        raise _too_large(path, f"{w} x {h} ({w * h:,} pixels)")
    return im


#: JPEG files up to this size are read whole and decoded by simplejpeg (others go to Pillow).
_MAX_FAST_JPEG_BYTES = 64 << 20


def jpeg_decoder() -> str:
    """Which library decodes YCbCr JPEG frames: ``"simplejpeg <version>"`` or ``"pillow"``.

    Both decode with libjpeg-turbo's default (accurate) DCT and fancy upsampling; simplejpeg
    costs half the CPU time per 256 x 128 frame (benchmarks/PROFILE.md), and the pixels are the
    same (``tests/unit/test_decode_bounds.py`` checks it).
    """
    sj = _simplejpeg()
    return f"simplejpeg {sj.__version__}" if sj is not None else "pillow"


def _simplejpeg() -> Any:
    try:
        import simplejpeg
    except ImportError:  # pragma: no cover - a dependency; Pillow decodes everything too
        return None
    return simplejpeg


def _read_jpeg_fast(path: str) -> np.ndarray | None:
    """A YCbCr JPEG decoded by simplejpeg, size-checked from its header; None: use Pillow.

    Anything simplejpeg does not decode strictly (another colour space, a damaged or truncated
    file, another format behind a ``.jpg`` name) goes to Pillow, whose error is the one reported.
    """
    sj = _simplejpeg()
    if sj is None or not path.lower().endswith((".jpg", ".jpeg")):
        return None
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_FAST_JPEG_BYTES + 1)
    except OSError:
        return None
    if len(data) > _MAX_FAST_JPEG_BYTES:
        return None
    try:
        h, w, colorspace, _ = sj.decode_jpeg_header(data)
    except ValueError:
        return None
    if w * h > MAX_FRAME_PIXELS or max(w, h) > MAX_FRAME_SIDE:
        raise _too_large(path, f"{w} x {h} ({w * h:,} pixels)")
    if colorspace != "YCbCr":
        return None
    try:
        return sj.decode_jpeg(data, colorspace="RGB")
    except ValueError:
        return None


def read_frame(path: str, size: tuple[int, int]) -> np.ndarray:
    """One frame as ``(H, W, 3)`` uint8 RGB, resized bilinearly to ``size = (H, W)``.

    YCbCr JPEGs are decoded by simplejpeg where it is installed (:func:`jpeg_decoder`), anything
    else by Pillow; the resize is Pillow's either way.

    Raises:
        DataError: The file is missing, not a decodable image, or larger than
            :data:`MAX_FRAME_PIXELS` / :data:`MAX_FRAME_SIDE` (checked from its header, before
            decoding).
    """
    from PIL import Image, UnidentifiedImageError

    problem = not_a_regular_file(path)
    if problem:  # a pipe or a device never ends: reading one would hang or fill memory
        raise DataError(describe("frame", path, "an image file", problem,
                                 "run `reidbench data verify` on the copy"))
    fast = _read_jpeg_fast(path)
    if fast is not None:
        if fast.shape[:2] == tuple(size):
            return fast
        return np.asarray(Image.fromarray(fast).resize((size[1], size[0]), Image.BILINEAR),
                          dtype=np.uint8)
    try:
        with _open_bounded(path) as im:
            im = im.convert("RGB")
            if im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(describe("frame", path, "an existing image", "nothing there",
                                 "run `reidbench data verify` on the copy")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(describe("frame", path, "a decodable image", f"{type(exc).__name__}",
                                 "re-extract the dataset")) from None


def load_frame(path: str, size: tuple[int, int]) -> np.ndarray:
    """One frame as ``(H, W, 3)`` float32 in [0, 1] (:func:`read_frame` divided by 255).

    Raises:
        DataError: As :func:`read_frame`.
    """
    return read_frame(path, size).astype(np.float32) / 255.0


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


class Uint8ClipDataset:
    """Clips as ``(T, H, W, 3)`` uint8 tensors, decoded and resized where the item is read.

    For a ``DataLoader(..., collate_fn=collate_uint8)``: the workers decode and resize only, and
    the float conversion and normalisation run on the model's device (:func:`normalize_clips`).
    A :class:`~reidbench.errors.ReidbenchError` raised while reading an item (a missing, corrupt
    or oversized frame) is returned instead of raised, so it crosses from a worker process intact;
    :func:`collate_uint8` passes it on and :func:`raise_failed` raises it in the main process as
    the one line it is.
    """

    def __init__(self, clips: Sequence[Sequence[str]], size: tuple[int, int]) -> None:
        self.clips = clips
        self.size = (int(size[0]), int(size[1]))

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> Any:
        import torch

        try:
            return torch.from_numpy(np.stack([read_frame(p, self.size) for p in self.clips[i]]))
        except ReidbenchError as exc:
            return exc


def collate_uint8(batch: Sequence[Any]) -> Any:
    """Stack ``(T, H, W, 3)`` uint8 clips into ``(B, T, H, W, 3)``; pass an item's error on.

    Returns:
        The batch tensor (in shared memory when called in a worker process, like the default
        collate), or the first :class:`~reidbench.errors.ReidbenchError` among the items.

    Raises:
        InputError: Clips of different lengths or sizes in one batch.
    """
    import torch
    from torch.utils.data import get_worker_info

    for item in batch:
        if isinstance(item, ReidbenchError):
            return item
    shapes = {tuple(c.shape) for c in batch}
    if len(shapes) != 1:
        raise InputError(describe("clips", "collate_uint8", "one shape per batch",
                                  sorted(shapes), "use one seq_len and input size"))
    shape = (len(batch), *next(iter(shapes)))
    out = None
    if get_worker_info() is not None:  # returned through shared memory, not pickled
        out = torch.empty(shape, dtype=torch.uint8).share_memory_()
    return torch.stack(list(batch), out=out)


def raise_failed(batch: Any) -> Any:
    """Return ``batch``, or raise it when it is an item's error (:class:`Uint8ClipDataset`).

    Raises:
        ReidbenchError: The item's error, as raised where the item was read.
    """
    if isinstance(batch, ReidbenchError):
        raise batch
    return batch


def normalize_clips(batch: Any, *, contiguous: bool = True) -> Any:
    """A ``(B, T, H, W, 3)`` uint8 batch as ``(B, T, 3, H, W)`` float32, ImageNet-normalised.

    Computed on the batch's device as :func:`load_clip` computes it on the host (``x / 255``,
    then ``(x - mean) / std``, in float32), so the values are the same.

    Args:
        batch: uint8 tensor, channels last.
        contiguous: Return a contiguous ``(B, T, 3, H, W)`` tensor. ``False`` keeps each frame
            channels-last in memory (the permuted view), which ``flatten(0, 1)`` turns into a
            ``channels_last`` ``(B*T, 3, H, W)`` batch for convolutions on a GPU.
    """
    import torch

    x = batch.permute(0, 1, 4, 2, 3)
    if contiguous:
        x = x.contiguous()  # on the uint8 bytes: a quarter of the float32 copy
    mean = torch.from_numpy(IMAGENET_MEAN).to(x.device).view(1, 1, 3, 1, 1)
    std = torch.from_numpy(IMAGENET_STD).to(x.device).view(1, 1, 3, 1, 1)
    # in place, one float32 buffer (the float conversion keeps the layout)
    return x.to(torch.float32).div_(255.0).sub_(mean).div_(std)


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
