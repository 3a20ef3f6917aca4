"""Tracklets: one person walking through one camera, with the nuisances of real tracking.

A tracklet is rendered from a :class:`World` (identities and cameras) and a :class:`TrackletSpec`
(who, where, how long). Each tracklet draws from its own seeded stream, keyed by the spec, so a
dataset renders identically whatever the order or subset of tracklets rendered.
Nuisances: walking motion (leg and arm swing at the identity's gait), position and scale jitter
(detector misalignment), a sliding background, occluders over a span of frames, a few frames of
another identity at the start or end (tracker errors), lighting drift, and the camera's effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reidbench.datasets.synthetic.camera import Camera, apply_camera, sample_cameras
from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.identity import PALETTE, IdentityTable, sample_identities
from reidbench.datasets.synthetic.render import Pose, render_frames

__all__ = ["World", "TrackletSpec", "make_world", "render_tracklet", "sample_length"]

_CHUNK = 64  # frames rendered per batch (bounds memory for long tracklets)
PERSON, JUNK, DISTRACTOR = "person", "junk", "distractor"


@dataclass(frozen=True)
class World:
    """Everything shared by the tracklets of one synthetic dataset.

    Attributes:
        config: Difficulty knobs and frame size.
        seed: Dataset seed.
        identities: Appearance table (persons first, then any extra distractor identities).
        cameras: Cameras in camera-number order (index 0 is camera 1).
    """

    config: SynthConfig
    seed: int
    identities: IdentityTable
    cameras: list[Camera] = field(repr=False)


@dataclass(frozen=True)
class TrackletSpec:
    """What to render.

    Attributes:
        ident: Row of the identity table.
        cam: Camera index (0-based into ``World.cameras``).
        length: Number of frames.
        key: Integers naming the tracklet's random stream (unique within the dataset).
        kind: ``"person"``, ``"junk"`` (a bad detection: a fragment or mostly background) or
            ``"distractor"`` (an unlabelled person, badly cropped).
    """

    ident: int
    cam: int
    length: int
    key: tuple[int, ...]
    kind: str = PERSON


def make_world(config: SynthConfig, seed: int, n_identities: int, n_cameras: int) -> World:
    """Draw the identities and cameras of a dataset from ``seed``."""
    rng = np.random.default_rng([int(seed), 1])
    table = sample_identities(rng, n_identities, config)
    cams = sample_cameras(np.random.default_rng([int(seed), 2]), n_cameras, config)
    return World(config=config, seed=int(seed), identities=table, cameras=cams)


def sample_length(rng: np.random.Generator, config: SynthConfig) -> int:
    """A long-tailed (log-normal) tracklet length clipped to ``[min_len, max_len]``."""
    v = config.median_len * np.exp(rng.normal(0.0, 0.55))
    return int(np.clip(round(v), config.min_len, config.max_len))


def _smooth(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-variance AR(1) noise (detector jitter is correlated from frame to frame)."""
    e = rng.standard_normal(n)
    out = np.empty(n)
    acc = e[0]
    for k in range(n):
        acc = 0.6 * acc + 0.8 * e[k] if k else acc
        out[k] = acc
    return out


def _occluder(rng: np.random.Generator, t: int, h: int, w: int, facing: float, step: float
              ) -> tuple[np.ndarray, np.ndarray, str]:
    box = np.zeros((t, 4), np.float32)
    a = int(rng.integers(0, max(1, t // 2)))
    b = int(min(t, a + max(1, round(t * rng.uniform(0.4, 1.0)))))
    idx = np.arange(a, b, dtype=np.float32)
    kind = ("pole", "passer-by", "bench")[int(rng.integers(0, 3))]
    colour = PALETTE[rng.integers(0, len(PALETTE))] + rng.normal(0, 10, 3)
    if kind == "pole":
        ow = rng.uniform(0.1, 0.2) * w
        x0 = rng.uniform(0.1, 0.7) * w - facing * step * (idx - a)
        box[a:b] = np.stack([x0, x0 + ow, np.zeros_like(x0), np.full_like(x0, h)], 1)
    elif kind == "passer-by":
        ow = rng.uniform(0.35, 0.6) * w
        direction = 1.0 if rng.random() < 0.5 else -1.0
        start = -ow if direction > 0 else w
        x0 = start + direction * (w + ow) * (idx - a + 0.5) / max(1, b - a)
        box[a:b] = np.stack([x0, x0 + ow, np.full_like(x0, 0.1 * h), np.full_like(x0, h)], 1)
    else:
        y0 = (1.0 - rng.uniform(0.2, 0.45)) * h
        box[a:b] = np.array([0, w, y0, h], np.float32)
    rgb = np.tile(np.clip(colour, 0, 255).astype(np.float32), (t, 1))
    return box, rgb, kind


def render_tracklet(world: World, spec: TrackletSpec) -> tuple[np.ndarray, dict[str, Any]]:
    """Render one tracklet.

    Args:
        world: The dataset's identities and cameras.
        spec: Who, which camera, how many frames, which random stream.

    Returns:
        ``(frames, info)``: ``(T, H, W, 3)`` uint8 frames and the ground truth of the nuisances
        applied (``view``, ``occluder``, ``tracker_error_frames``, ``impostor``).
    """
    cfg = world.config
    h, w, t = cfg.height, cfg.width, int(spec.length)
    cam = world.cameras[spec.cam]
    rng = np.random.default_rng([world.seed, 7, *spec.key])
    table = world.identities
    n_ids = len(table)

    side = rng.random() < cam.side_prob
    facing = (1.0 if rng.random() < 0.5 else -1.0) if side else 0.0
    back = (not side) and rng.random() < 0.5
    view = "side" if side else ("back" if back else "front")
    mis = cfg.misalignment * (3.0 if spec.kind == DISTRACTOR else 1.0)
    size0 = h * float(table.height[spec.ident]) * rng.uniform(0.93, 1.0)
    cx = w / 2.0 + mis * w * _smooth(rng, t)
    foot = h * 0.985 + mis * h * _smooth(rng, t)
    size = size0 * (1.0 + mis * _smooth(rng, t))
    if spec.kind == JUNK:
        if rng.random() < 0.5:  # a far-away fragment
            size = size * rng.uniform(0.25, 0.45)
            cx = cx + rng.uniform(-0.3, 0.3) * w
        else:  # a close-up of a body part
            size = size * rng.uniform(1.6, 2.3)
            foot = foot + size * rng.uniform(0.3, 0.6)
            cx = cx + rng.uniform(-0.4, 0.4) * w
    phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(t) / float(
        table.gait_period[spec.ident])
    ident = np.full(t, spec.ident, np.int64)

    # Tracker errors: a few frames of another identity, offset, at the start or end.
    errors: list[int] = []
    impostor = None
    if (spec.kind == PERSON and t >= 3 and n_ids > 1 and cfg.tracker_error_frames > 0
            and rng.random() < cfg.tracker_error_prob):
        k = int(rng.integers(1, min(cfg.tracker_error_frames, t - 1) + 1))
        impostor = int((spec.ident + rng.integers(1, n_ids)) % n_ids)
        errors = list(range(k)) if rng.random() < 0.5 else list(range(t - k, t))
        ident[errors] = impostor
        cx[errors] += (1.0 if rng.random() < 0.5 else -1.0) * rng.uniform(0.08, 0.25) * w

    # Background window slides along the camera's panorama as the person walks.
    pano = cam.panorama
    step = rng.uniform(0.5, 1.5) if side else 0.0
    span = pano.shape[1] - w - 1
    ox0 = rng.uniform(0, span)
    ox = np.clip(np.round(ox0 + facing * step * np.arange(t)), 0, span).astype(np.intp)

    occ = np.zeros((t, 4), np.float32)
    occ_rgb = np.zeros((t, 3), np.float32)
    occ_kind = None
    if rng.random() < cfg.occlusion_prob:
        occ, occ_rgb, occ_kind = _occluder(rng, t, h, w, facing, step)
    light = (1.0 + rng.uniform(-1, 1) * cfg.brightness / 4) * (
        1.0 + 0.02 * cfg.brightness * _smooth(rng, t))
    gain = (cam.gain[None, :] * light[:, None]).astype(np.float32)

    out = np.empty((t, h, w, 3), np.uint8)
    cols = np.arange(w, dtype=np.intp)
    for s in range(0, t, _CHUNK):
        sl = slice(s, min(t, s + _CHUNK))
        n = sl.stop - sl.start
        bg = np.take(pano, ox[sl, None] + cols[None, :], axis=1).transpose(1, 0, 2)
        pose = Pose(ident=ident[sl], cx=cx[sl], foot=foot[sl], size=np.broadcast_to(size, (t,))[sl],
                    facing=np.full(n, facing), back=np.full(n, back), phase=phase[sl],
                    occ=occ[sl], occ_rgb=occ_rgb[sl])
        img = render_frames(table, pose, bg, gain[sl])
        out[sl] = apply_camera(img, cam, rng)
    info = {"view": view, "occluder": occ_kind, "tracker_error_frames": errors,
            "impostor": impostor}
    return out, info
