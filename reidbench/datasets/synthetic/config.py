"""The difficulty knobs of the synthetic dataset: one frozen, documented record.

Every nuisance the generator can add has one knob, and ``0`` switches it off, so an experiment can
turn nuisances on one at a time (``SynthConfig.clean().replace(occlusion_prob=0.5)``) and test the
mechanism a method claims (occlusion handling, temporal attention against tracker errors, ...).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from reidbench.errors import InputError, describe

__all__ = ["SynthConfig"]

# (name, low, high) for every float knob given as a probability or a bounded fraction.
_UNIT_KNOBS = (
    "occlusion_prob",
    "tracker_error_prob",
    "shared_accessory_prob",
    "id_similarity",
    "pose_variation",
    "background_clutter",
)
_NONNEG_KNOBS = ("misalignment", "colour_cast", "brightness", "blur", "noise")


@dataclass(frozen=True)
class SynthConfig:
    """Difficulty knobs and frame geometry of a synthetic copy.

    Attributes:
        height: Frame height in pixels (the real crops are 256x128 or 128x64; small is fast).
        width: Frame width in pixels.
        min_len: Shortest tracklet, in frames (layouts may add a few shorter on purpose, e.g. the
            DukeV length-1 tracklet).
        max_len: Longest tracklet, in frames.
        median_len: Median tracklet length; lengths are log-normal (long-tailed like the real
            datasets) and clipped to ``[min_len, max_len]``.
        occlusion_prob: Probability that a tracklet has an occluder (a pole, a passer-by, a bench
            covering the legs) over a span of its frames.
        misalignment: Standard deviation of the per-frame position and scale jitter of the person
            inside the crop, as a fraction of the frame size (detector jitter). ``0`` centres every
            frame exactly.
        tracker_error_prob: Probability that a tracklet contains frames of another identity (an
            identity switch of the tracker) at its start or end.
        tracker_error_frames: At most this many frames of another identity per such tracklet.
        colour_cast: Largest per-channel gain deviation of a camera (white balance), e.g. ``0.2``
            lets a camera scale red by 0.8..1.2.
        brightness: Largest brightness deviation of a camera (and, at a quarter of it, of one
            tracklet: lighting changes along the corridor).
        blur: Camera blur strength; a camera applies up to ``round(2 * blur)`` passes of a 3-tap
            binomial filter (one light pass is always applied for anti-aliasing).
        noise: Sensor noise standard deviation, in 0..255 intensity units, at its largest.
        background_clutter: ``0`` plain backgrounds; ``1`` textured floors and walls with many
            objects (poles, bins, bushes) whose colours are drawn from the clothing palette, so
            colour alone confuses them with people. Backgrounds belong to cameras, not identities.
        shared_accessory_prob: Fraction of identities carrying the one shared accessory, a black
            backpack (the STMN supplement's "black bag" that many MARS identities carry).
        pose_variation: ``0`` every tracklet seen from the same side with small limb swing; ``1``
            full walking swing and frontal, back and side views mixed within a camera.
        id_similarity: Probability that a clothing colour comes from a small palette of common
            clothes (black, navy, denim, grey, white, beige ...) rather than a free colour. High
            values make many identities look alike (the real datasets' hard negatives).
        jpeg_quality: Pillow JPEG quality for layouts that ship JPEG (MARS, DukeV, LS-VID).
        png_compress_level: zlib level for layouts that ship PNG (iLIDS-VID, PRID-2011). The
            default 0 stores the pixels uncompressed: the fastest to write and to decode, at
            about 1.6x the bytes of level 1 (24 KB per 128x64 frame).
    """

    height: int = 128
    width: int = 64
    min_len: int = 6
    max_len: int = 48
    median_len: float = 14.0
    occlusion_prob: float = 0.25
    misalignment: float = 0.03
    tracker_error_prob: float = 0.15
    tracker_error_frames: int = 3
    colour_cast: float = 0.1
    brightness: float = 0.15
    blur: float = 0.75
    noise: float = 5.0
    background_clutter: float = 0.5
    shared_accessory_prob: float = 0.3
    pose_variation: float = 0.5
    id_similarity: float = 0.5
    jpeg_quality: int = 90
    png_compress_level: int = 0

    def __post_init__(self) -> None:
        where = "SynthConfig"
        for name in ("height", "width"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 16 or v > 1024:
                raise InputError(describe(name, where, "an int in [16, 1024]", v,
                                          "pick a frame size such as 128x64"))
        if not isinstance(self.min_len, int) or self.min_len < 1:
            raise InputError(describe("min_len", where, "an int >= 1", self.min_len))
        if not isinstance(self.max_len, int) or self.max_len < self.min_len or self.max_len > 999:
            raise InputError(describe("max_len", where, f"an int in [min_len={self.min_len}, 999]",
                                      self.max_len, "MARS frame numbers have 3 digits"))
        if not (self.min_len <= self.median_len <= self.max_len):
            raise InputError(describe("median_len", where, "a value in [min_len, max_len]",
                                      self.median_len))
        for name in _UNIT_KNOBS:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not (0.0 <= float(v) <= 1.0):
                raise InputError(describe(name, where, "a number in [0, 1]", v))
        for name in _NONNEG_KNOBS:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InputError(describe(name, where, "a finite number >= 0", v))
        if not isinstance(self.tracker_error_frames, int) or self.tracker_error_frames < 0:
            raise InputError(describe("tracker_error_frames", where, "an int >= 0",
                                      self.tracker_error_frames))
        if not isinstance(self.jpeg_quality, int) or not (1 <= self.jpeg_quality <= 100):
            raise InputError(describe("jpeg_quality", where, "an int in [1, 100]",
                                      self.jpeg_quality))
        if not isinstance(self.png_compress_level, int) or not (0 <= self.png_compress_level <= 9):
            raise InputError(describe("png_compress_level", where, "an int in [0, 9]",
                                      self.png_compress_level))

    @classmethod
    def clean(cls, **overrides: Any) -> SynthConfig:
        """A configuration with every nuisance switched off (then ``overrides`` applied).

        Identities stay distinct and cameras identical: re-ID on it is nearly trivial, which makes
        it the baseline against which one nuisance at a time is switched on.
        """
        base = dict(occlusion_prob=0.0, misalignment=0.0, tracker_error_prob=0.0,
                    tracker_error_frames=0, colour_cast=0.0, brightness=0.0, blur=0.0, noise=0.0,
                    background_clutter=0.0, shared_accessory_prob=0.0, pose_variation=0.0,
                    id_similarity=0.0)
        base.update(overrides)
        return cls(**base)

    def replace(self, **changes: Any) -> SynthConfig:
        """A copy with ``changes`` applied (validated like a new record)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise InputError(describe("knob", "SynthConfig.replace", "a field of SynthConfig",
                                      unknown[0], "see SynthConfig's docstring for the knobs"))
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The knobs as a plain JSON-ready dict (written into the ground-truth manifest)."""
        return dataclasses.asdict(self)
