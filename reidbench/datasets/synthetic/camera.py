"""Cameras: a background scene shared by everyone filmed, and the camera's imaging nuisances.

Each camera owns a wide background panorama (floor and wall with texture, and clutter objects whose
colours come from the clothing palette), a colour cast, a brightness, a blur level, a noise level
and a preferred viewing axis. A tracklet is a window sliding along the panorama as the person walks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.identity import PALETTE
from reidbench.datasets.synthetic.render import pack_rgb

__all__ = ["Camera", "sample_cameras", "apply_camera", "PANORAMA_FACTOR"]

PANORAMA_FACTOR = 6  # panorama width in frame widths


@dataclass(frozen=True)
class Camera:
    """One camera.

    Attributes:
        gain: ``(3,)`` per-channel gain (colour cast times brightness), applied to everything the
            camera films (already folded into ``panorama``).
        blur: Number of binomial blur passes (``>= 1``).
        noise: Noise standard deviation, 0..255 units.
        side_prob: Probability that a tracklet in this camera is seen from the side (vs. from
            the front or back).
        panorama: ``(H, PANORAMA_FACTOR * W)`` packed RGB background scene (see
            :func:`~reidbench.datasets.synthetic.render.pack_rgb`), colour cast applied.
        noise_bank: ``(2H, 2W, 3)`` int16 noise at this camera's level, windowed per frame.
    """

    gain: np.ndarray
    blur: int
    noise: float
    side_prob: float
    panorama: np.ndarray
    noise_bank: np.ndarray


def _panorama(rng: np.random.Generator, height: int, width: int, clutter: float) -> np.ndarray:
    """A floor/wall scene with texture and clutter objects."""
    pw = PANORAMA_FACTOR * width
    X = np.arange(pw, dtype=np.float32)[None, :]
    Y = np.arange(height, dtype=np.float32)[:, None]
    wall = rng.uniform(90, 200, 3).astype(np.float32) * rng.uniform(0.6, 1.0)
    floor = rng.uniform(70, 170, 3).astype(np.float32) * rng.uniform(0.6, 1.0)
    horizon = rng.uniform(0.45, 0.7) * height
    img = np.where((Y < horizon)[..., None], wall, floor) * np.ones((height, pw, 1), np.float32)
    # Texture: paver grid on the floor, panels on the wall; contrast grows with clutter.
    contrast = 6.0 + 30.0 * clutter
    tile = rng.uniform(0.12, 0.3) * height
    grid = ((np.mod(X, tile) < 1.5) | (np.mod(Y - horizon, tile * 0.5) < 1.0)) & (Y >= horizon)
    panel = (np.mod(X + rng.uniform(0, tile), tile * 2.0) < 2.0) & (Y < horizon)
    img = img - (contrast * (grid | panel))[..., None]
    # Low-frequency shading along the scene.
    img = img * (1.0 + 0.08 * np.sin(X / pw * 2 * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)))[
        ..., None]
    # Clutter: poles, bins, bushes, coloured like clothes.
    n_obj = int(round(clutter * 10 * PANORAMA_FACTOR / 3))
    for _ in range(n_obj):
        kind = rng.integers(0, 3)
        colour = PALETTE[rng.integers(0, len(PALETTE))] if rng.random() < 0.6 else rng.uniform(
            20, 235, 3)
        x0 = rng.uniform(0, pw)
        if kind == 0:  # pole
            w, y0, y1 = rng.uniform(0.04, 0.1) * width, 0.0, rng.uniform(0.8, 1.0) * height
        elif kind == 1:  # bin / bench
            w = rng.uniform(0.3, 0.8) * width
            y1 = rng.uniform(0.85, 1.0) * height
            y0 = y1 - rng.uniform(0.15, 0.35) * height
        else:  # bush / sign on the wall
            w = rng.uniform(0.3, 0.9) * width
            y0 = rng.uniform(0.05, 0.4) * height
            y1 = y0 + rng.uniform(0.1, 0.3) * height
        # The pixels with x0 <= X < x0 + w and y0 <= Y < y1 (X, Y integral float32): a slice.
        c0, c1 = (math.ceil(np.float32(v)) for v in (x0, x0 + w))
        r0, r1 = (math.ceil(np.float32(v)) for v in (y0, y1))
        img[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = np.asarray(colour, np.float32)
    return np.clip(img, 0, 255).astype(np.float32)


def sample_cameras(rng: np.random.Generator, n: int, config: SynthConfig) -> list[Camera]:
    """Draw ``n`` cameras with their scenes.

    Args:
        rng: Seeded source of randomness.
        n: Number of cameras.
        config: Knobs: ``colour_cast``, ``brightness``, ``blur``, ``noise``,
            ``background_clutter``, ``pose_variation``.

    Returns:
        The cameras, in camera-number order.
    """
    cams = []
    for _ in range(n):
        cast = 1.0 + rng.uniform(-1, 1, 3) * config.colour_cast
        bright = 1.0 + rng.uniform(-1, 1) * config.brightness
        gain = (cast * bright).astype(np.float32)
        blur = 1 + int(rng.integers(0, int(round(2 * config.blur)) + 1))
        noise = float(config.noise * rng.uniform(0.4, 1.0))
        # pose_variation 0: every camera films from the side; 1: any mix of views.
        side_prob = 1.0 - config.pose_variation * rng.uniform(0.2, 0.9)
        pano = _panorama(rng, config.height, config.width, config.background_clutter)
        pano = pack_rgb(np.clip(pano * gain + 0.5, 0, 255).astype(np.uint8))
        bank = rng.standard_normal((2 * config.height, 2 * config.width, 3)) * noise
        cams.append(Camera(gain=gain, blur=blur, noise=noise, side_prob=float(side_prob),
                           panorama=pano, noise_bank=np.round(bank).astype(np.int16)))
    return cams


def _blur_step(src: np.ndarray, dst: np.ndarray, step: int) -> None:
    """``dst = (a + 2c + b + 2) >> 2`` with ``a, b`` the elements ``step`` before/after ``c``.

    Works on the flat, contiguous buffers (fast 1-D loops); the elements whose neighbours lie
    across a row or frame edge come out wrong and are overwritten by the caller (border kept).
    """
    s, d = src.reshape(-1), dst.reshape(-1)
    mid = d[step:-step]
    np.add(s[step:-step], 1, out=mid)
    mid <<= 1
    mid += s[:-2 * step]
    mid += s[2 * step:]
    mid >>= 2


def _blur(img: np.ndarray, passes: int) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur over H and W of ``(T, H, W, 3)`` integers (borders kept).

    Each pass rounds half up (``(a + 2c + b + 2) >> 2``), first along H, then along W; the first
    and last row (column) keep their values. ``img`` must be C-contiguous; it may be reused.
    """
    if passes <= 0:
        return img
    _, _, w, c = img.shape
    img = np.ascontiguousarray(img)
    tmp = np.empty_like(img)
    for _ in range(passes):
        _blur_step(img, tmp, w * c)  # along H: neighbours one row apart
        tmp[:, 0], tmp[:, -1] = img[:, 0], img[:, -1]
        _blur_step(tmp, img, c)  # along W: neighbours one pixel apart
        img[:, :, 0], img[:, :, -1] = tmp[:, :, 0], tmp[:, :, -1]
    return img


def apply_camera(img: np.ndarray, cam: Camera, rng: np.random.Generator) -> np.ndarray:
    """Blur and sensor noise of ``cam`` on ``(T, H, W, 3)`` uint8 frames.

    The colour cast is applied while drawing (folded into the colour table and the panorama).

    Args:
        img: Frames, uint8.
        cam: The camera.
        rng: Seeded source for the noise windows.

    Returns:
        ``(T, H, W, 3)`` uint8 frames.
    """
    t, h, w, _ = img.shape
    out = np.empty(img.shape, np.int16)
    for ch in range(img.shape[3]):  # per channel: a strided (..., :3) view casts ~8x faster
        out[..., ch] = img[..., ch]
    out = _blur(out, cam.blur)
    if cam.noise > 0:
        oy = rng.integers(0, h + 1, t)
        ox = rng.integers(0, w + 1, t)
        for k in range(t):
            out[k] += cam.noise_bank[oy[k]:oy[k] + h, ox[k]:ox[k] + w]
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
