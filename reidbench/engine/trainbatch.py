"""Training clips for the training loop: frame sampling, decoding and the methods' augmentations.

Every random draw comes from the generator passed in, so a training run is reproducible from its
seed. The augmentations are the ones the baselines' recipes name (:class:`TrainRecipe` fields):

- whole-clip horizontal flip (STMN, READ), or a flip per frame (``flip_per_frame``, COSAM: Gao &
  Nevatia's code transforms each frame independently);
- Random2DTranslation per frame (``translate``, COSAM): with that probability the frame is resized
  to 9/8 of its size and a random window of the target size is cut out;
- RandomErasing per frame (``erasing``, STMN; Zhong et al. 2020): with that probability one
  rectangle covering 2-40 % of the frame, aspect ratio in [0.3, 1/0.3], is set to 0 after
  normalisation; with ``erasing_per_clip`` (DenseIL's supplement) one rectangle, drawn once per
  clip with that probability, is erased in every frame of the clip.

Training frame sampling is :func:`reidbench.datasets.sampling.sample_train_clip`, plus
``"consecutive_gao"``: Gao & Nevatia's random consecutive crop, whose start is drawn from
``[0, max(0, F-T-1)]`` (``random.randint(0, F-T-1)`` in their ``video_loader.py``; see
``docs/datasets.md``), so the last window of a tracklet is never drawn. COSAM's recipe uses it;
the generic ``"consecutive"`` strategy draws from ``[0, F-T]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from reidbench.datasets.decode import IMAGENET_MEAN, IMAGENET_STD, load_frame
from reidbench.datasets.sampling import sample_train_clip

__all__ = ["load_batch", "load_train_clip", "random_erasing", "translated_frame",
           "train_clip_indices"]

#: Random2DTranslation's enlargement factor (Gao & Nevatia).
TRANSLATE_SCALE = 1.125


def train_clip_indices(strategy: str, n: int, t: int, rng: np.random.Generator) -> list[int]:
    """One random training clip: ``t`` frame indices of a length-``n`` tracklet.

    Args:
        strategy: ``"consecutive_gao"`` or any strategy of ``sample_train_clip``.
        n: Tracklet length.
        t: Frames per clip.
        rng: The run's generator.

    Raises:
        InputError: An empty tracklet, ``t < 1`` or an unknown strategy.
    """
    if strategy != "consecutive_gao" or n < 1 or t < 1:
        return sample_train_clip(strategy, n, t, rng)
    start = int(rng.integers(0, max(n - t - 1, 0) + 1))
    frames = list(range(start, min(start + t, n)))
    return [frames[i % len(frames)] for i in range(t)]


def translated_frame(path: str, size: tuple[int, int], rng: np.random.Generator,
                     p: float) -> np.ndarray:
    """Random2DTranslation of one frame file.

    With probability ``p`` the frame is resized to 9/8 of ``size`` and a random ``size`` window is
    cut out; otherwise it is resized to ``size``.

    Returns:
        ``(H, W, 3)`` float32 in [0, 1].
    """
    h, w = size
    if p <= 0 or rng.random() >= p:
        return load_frame(path, size)
    big_h, big_w = int(round(h * TRANSLATE_SCALE)), int(round(w * TRANSLATE_SCALE))
    big = load_frame(path, (big_h, big_w))
    x = int(round(rng.uniform(0, big_w - w)))
    y = int(round(rng.uniform(0, big_h - h)))
    return big[y:y + h, x:x + w]


def random_erasing(clip: Any, rng: np.random.Generator, p: float,
                   area: tuple[float, float] = (0.02, 0.4), ratio: float = 0.3,
                   value: float = 0.0, per_clip: bool = False) -> Any:
    """RandomErasing on a ``(T, 3, H, W)`` tensor, in place.

    Each frame (``per_clip``: the clip once) is erased with probability ``p``: up to 100 tries
    draw a target area (fraction ``area`` of the frame) and an aspect ratio in
    ``[ratio, 1/ratio]``; the first rectangle that fits inside the frame is set to ``value`` (in
    every frame of the clip when ``per_clip``).

    Returns:
        ``clip``.
    """
    _, _, height, width = clip.shape
    for frames in ([clip] if per_clip else list(clip)):
        if p <= 0 or rng.random() >= p:
            continue
        box = _erasing_box(rng, height, width, area, ratio)
        if box is not None:
            y, x, h, w = box
            frames[..., y:y + h, x:x + w] = value
    return clip


def _erasing_box(rng: np.random.Generator, height: int, width: int,
                 area: tuple[float, float], ratio: float) -> tuple[int, int, int, int] | None:
    """``(y, x, h, w)`` of the first of 100 drawn rectangles that fits (Zhong et al.), or None."""
    for _ in range(100):
        target = rng.uniform(*area) * height * width
        aspect = rng.uniform(ratio, 1.0 / ratio)
        h = int(round(math.sqrt(target * aspect)))
        w = int(round(math.sqrt(target / aspect)))
        if 0 < h < height and 0 < w < width:
            y = int(rng.integers(0, height - h + 1))
            x = int(rng.integers(0, width - w + 1))
            return y, x, h, w
    return None


def load_train_clip(frames: Sequence[str], recipe: Any, size: tuple[int, int],
                    rng: np.random.Generator) -> Any:
    """Sample, decode, augment and normalise one training clip of a tracklet's frame paths.

    Args:
        frames: The tracklet's frame files, in order.
        recipe: A :class:`~reidbench.adapters.TrainRecipe` (sampling, seq_len, augmentations).
        size: ``(H, W)`` of the training frames.
        rng: The run's generator.

    Returns:
        ``(T, 3, H, W)`` float32 tensor, ImageNet-normalised.
    """
    import torch

    idx = train_clip_indices(recipe.sampling, len(frames), recipe.seq_len, rng)
    arr = np.stack([translated_frame(frames[i], size, rng, recipe.translate) for i in idx])
    if recipe.flip_per_frame:
        flips = rng.random(len(idx)) < recipe.flip
        arr[flips] = arr[flips][:, :, ::-1]
    elif rng.random() < recipe.flip:
        arr = arr[:, :, ::-1]
    arr = (arr - IMAGENET_MEAN) / IMAGENET_STD
    clip = torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))
    if recipe.erasing > 0:
        shared = bool(getattr(recipe, "erasing_per_clip", False))
        random_erasing(clip, rng, recipe.erasing, per_clip=shared)
    return clip


def load_batch(tracklets: Sequence[Any], recipe: Any, size: tuple[int, int],
               rng: np.random.Generator) -> Any:
    """Training clips of ``tracklets`` (objects with ``frames``), stacked ``(B, T, 3, H, W)``."""
    import torch

    return torch.stack([load_train_clip(t.frames, recipe, size, rng) for t in tracklets])
