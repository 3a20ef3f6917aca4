"""The appearance model: what makes one synthetic person look like themselves.

An identity is a row of a struct-of-arrays table: clothing colours and patterns, body proportions,
skin and hair, gait, and accessories. One accessory, a black backpack, is shared by many identities
on purpose (the STMN supplement's "black bag" on MARS): it is a salient cue that does not identify.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reidbench.datasets.synthetic.config import SynthConfig

__all__ = ["IdentityTable", "sample_identities", "PALETTE", "SHARED_BAG_RGB"]

# Common clothing colours (RGB). id_similarity draws colours from here, so many people look alike.
PALETTE = np.array(
    [
        (28, 28, 32),  # black
        (70, 70, 76),  # dark grey
        (36, 44, 82),  # navy
        (62, 86, 128),  # denim
        (214, 214, 208),  # white
        (188, 168, 128),  # beige
        (52, 72, 52),  # dark green
        (92, 64, 46),  # brown
        (150, 150, 150),  # light grey
        (120, 30, 34),  # dark red
    ],
    dtype=np.float32,
)
SHARED_BAG_RGB = np.array((22, 22, 24), dtype=np.float32)
_SKIN = np.array([(234, 200, 170), (210, 165, 125), (160, 110, 75), (100, 70, 50)], np.float32)
_HAIR = np.array([(25, 20, 18), (60, 40, 25), (120, 85, 45), (200, 170, 110), (130, 130, 130)],
                 np.float32)

# Torso patterns.
PLAIN, HSTRIPES, VSTRIPES, CHECKS, TWO_TONE = 0, 1, 2, 3, 4
# Lower-body styles.
TROUSERS, SHORTS, SKIRT = 0, 1, 2
# Bags.
NO_BAG, SHARED_BACKPACK, OWN_SHOULDER_BAG = 0, 1, 2


@dataclass(frozen=True)
class IdentityTable:
    """Appearance of ``n`` identities, one row each (all arrays have ``n`` rows).

    Attributes:
        upper: ``(n, 3)`` main upper-body colour. upper2: ``(n, 3)`` second colour of the pattern.
        pattern: ``(n,)`` torso pattern code (plain, horizontal/vertical stripes, checks, two-tone).
        stripe: ``(n,)`` stripe period as a fraction of body height.
        short_sleeves: ``(n,)`` bool. lower: ``(n, 3)`` trousers/shorts/skirt colour.
        lower_style: ``(n,)`` trousers, shorts or skirt. shoes, skin, hair: ``(n, 3)`` colours.
        long_hair: ``(n,)`` bool. height: ``(n,)`` body height relative to the frame.
        build: ``(n,)`` width factor. leg: ``(n,)`` leg length as a fraction of height.
        bag: ``(n,)`` bag code. bag_rgb: ``(n, 3)`` bag colour.
        gait_period: ``(n,)`` frames per stride. gait_amp: ``(n,)`` leg swing in radians.
    """

    upper: np.ndarray
    upper2: np.ndarray
    pattern: np.ndarray
    stripe: np.ndarray
    short_sleeves: np.ndarray
    lower: np.ndarray
    lower_style: np.ndarray
    shoes: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    long_hair: np.ndarray
    height: np.ndarray
    build: np.ndarray
    leg: np.ndarray
    bag: np.ndarray
    bag_rgb: np.ndarray
    gait_period: np.ndarray
    gait_amp: np.ndarray

    def __len__(self) -> int:
        return int(self.pattern.shape[0])


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV (all in [0, 1]) to RGB in [0, 255]."""
    i = np.floor(h * 6.0).astype(int) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([
        np.stack([v, t, p], -1), np.stack([q, v, p], -1), np.stack([p, v, t], -1),
        np.stack([p, q, v], -1), np.stack([t, p, v], -1), np.stack([v, p, q], -1),
    ], 0)
    return (table[i, np.arange(len(h))] * 255.0).astype(np.float32)


def _colours(rng: np.random.Generator, n: int, similarity: float) -> np.ndarray:
    """``n`` clothing colours: from the common palette with prob. ``similarity``, else free."""
    free = _hsv_to_rgb(rng.random(n), rng.uniform(0.25, 0.9, n), rng.uniform(0.2, 0.95, n))
    common = PALETTE[rng.integers(0, len(PALETTE), n)] + rng.normal(0, 8, (n, 3))
    pick = rng.random(n) < similarity
    return np.clip(np.where(pick[:, None], common, free), 0, 255).astype(np.float32)


def sample_identities(rng: np.random.Generator, n: int, config: SynthConfig) -> IdentityTable:
    """Draw ``n`` identities.

    Args:
        rng: Source of randomness (the caller seeds it; the draw order is fixed).
        n: Number of identities.
        config: Difficulty knobs (``id_similarity``, ``shared_accessory_prob``, ``pose_variation``).

    Returns:
        The appearance table.
    """
    sim = config.id_similarity
    upper = _colours(rng, n, sim)
    upper2 = _colours(rng, n, sim)
    pattern = rng.choice(5, size=n, p=[0.5, 0.18, 0.1, 0.1, 0.12]).astype(np.int64)
    stripe = rng.uniform(0.035, 0.07, n).astype(np.float32)
    short_sleeves = rng.random(n) < 0.35
    lower = _colours(rng, n, min(1.0, sim + 0.25))  # trousers are even more alike (denim, black)
    lower_style = rng.choice(3, size=n, p=[0.7, 0.15, 0.15]).astype(np.int64)
    shoes = _colours(rng, n, 0.8) * 0.6
    skin = _SKIN[rng.integers(0, len(_SKIN), n)] + rng.normal(0, 6, (n, 3)).astype(np.float32)
    hair = _HAIR[rng.integers(0, len(_HAIR), n)] + rng.normal(0, 6, (n, 3)).astype(np.float32)
    long_hair = rng.random(n) < 0.3
    height = rng.uniform(0.86, 0.97, n).astype(np.float32)
    build = rng.uniform(0.95, 1.3, n).astype(np.float32)
    leg = rng.uniform(0.44, 0.5, n).astype(np.float32)
    u = rng.random(n)
    bag = np.where(u < config.shared_accessory_prob, SHARED_BACKPACK,
                   np.where(u > 0.85, OWN_SHOULDER_BAG, NO_BAG)).astype(np.int64)
    own = _colours(rng, n, 0.3)
    bag_rgb = np.where((bag == SHARED_BACKPACK)[:, None], SHARED_BAG_RGB[None, :], own)
    gait_period = rng.uniform(8.0, 13.0, n).astype(np.float32)
    gait_amp = (rng.uniform(0.25, 0.4, n) * (0.35 + 0.65 * config.pose_variation)).astype(
        np.float32)
    return IdentityTable(
        upper=upper, upper2=upper2, pattern=pattern, stripe=stripe, short_sleeves=short_sleeves,
        lower=lower, lower_style=lower_style, shoes=np.clip(shoes, 0, 255).astype(np.float32),
        skin=np.clip(skin, 0, 255), hair=np.clip(hair, 0, 255), long_hair=long_hair,
        height=height, build=build, leg=leg, bag=bag, bag_rgb=bag_rgb.astype(np.float32),
        gait_period=gait_period, gait_amp=gait_amp,
    )
