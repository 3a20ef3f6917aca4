"""A small vectorised rasteriser of walking pedestrian-like figures.

Every frame of a batch is drawn at once on ``(T, H, W)`` grids: body parts are capsules (limbs),
trapezoids (torso, skirt), ellipses (head, hair) and boxes (bags, occluders), painted back to front
into a label map; a per-frame colour table then turns labels into RGB in one gather. Hard edges are
softened later by the camera's blur. Geometry is given per frame, so one batch may mix identities
(a tracker switching to another person for a few frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reidbench.datasets.synthetic import identity as idm
from reidbench.datasets.synthetic.identity import IdentityTable

__all__ = ["Pose", "render_frames", "pack_rgb", "NUM_LABELS"]

(BG, SHOE, SHIN, THIGH, TORSO1, TORSO2, SKIRT, SLEEVE, FOREARM, HEAD, HAIR, BAG, OCC,
 SHOE_B, SHIN_B, THIGH_B, SLEEVE_B, FOREARM_B) = range(18)
NUM_LABELS = 18
_BACK_SHADE = 0.72  # limbs on the far side of the body are in shadow


@dataclass(frozen=True)
class Pose:
    """Per-frame placement of the figure (every array has shape ``(T,)``).

    Attributes:
        ident: Row of the identity table drawn in each frame.
        cx: Horizontal centre of the body, pixels.
        foot: Image row of the feet, pixels.
        size: Body height, pixels.
        facing: ``+1`` walking right, ``-1`` walking left, ``0`` frontal or back view.
        back: True where a frontal-axis view shows the person's back.
        phase: Gait phase in radians.
        occ: ``(T, 4)`` occluder box ``x0, x1, y0, y1`` in pixels (empty when ``x0 >= x1``).
        occ_rgb: ``(T, 3)`` occluder colour.
    """

    ident: np.ndarray
    cx: np.ndarray
    foot: np.ndarray
    size: np.ndarray
    facing: np.ndarray
    back: np.ndarray
    phase: np.ndarray
    occ: np.ndarray
    occ_rgb: np.ndarray


def _col(a: np.ndarray) -> np.ndarray:
    """``(T,)`` -> ``(T, 1, 1)`` float32 for broadcasting against ``(T, H, W)`` grids."""
    return np.asarray(a, dtype=np.float32)[:, None, None]


def _capsule(X, Y, ax, ay, bx, by, r):  # noqa: ANN001, ANN202 - internal hot path
    """Pixels within ``r`` of segment a-b, and the position ``t`` in [0, 1] along it."""
    dx, dy = bx - ax, by - ay
    inv = 1.0 / (dx * dx + dy * dy + 1e-6)
    px, py = X - ax, Y - ay
    t = np.clip(px * (dx * inv) + py * (dy * inv), 0.0, 1.0)
    ex = px - t * dx
    ey = py - t * dy
    return ex * ex + ey * ey <= r * r, t


def _box(X, Y, x0, x1, y0, y1):  # noqa: ANN001, ANN202
    return ((X >= x0) & (X < x1)) & ((Y >= y0) & (Y < y1))


def _colour_table(table: IdentityTable, pose: Pose) -> np.ndarray:
    """``(T, NUM_LABELS, 3)`` colours of every label in every frame."""
    i = pose.ident
    t = len(i)
    lut = np.zeros((t, NUM_LABELS, 3), np.float32)
    lower, upper, skin = table.lower[i], table.upper[i], table.skin[i]
    shin = np.where((table.lower_style[i] == idm.SHORTS)[:, None], skin, lower)
    fore = np.where(table.short_sleeves[i][:, None], skin, upper)
    lut[:, SHOE], lut[:, SHIN], lut[:, THIGH] = table.shoes[i], shin, lower
    lut[:, TORSO1], lut[:, TORSO2], lut[:, SKIRT] = upper, table.upper2[i], lower
    lut[:, SLEEVE], lut[:, FOREARM] = upper, fore
    lut[:, HEAD], lut[:, HAIR], lut[:, BAG] = skin, table.hair[i], table.bag_rgb[i]
    lut[:, OCC] = pose.occ_rgb
    for front, back in ((SHOE, SHOE_B), (SHIN, SHIN_B), (THIGH, THIGH_B), (SLEEVE, SLEEVE_B),
                        (FOREARM, FOREARM_B)):
        lut[:, back] = lut[:, front] * _BACK_SHADE
    return lut


def _band(lo: np.ndarray, hi: np.ndarray, height: int) -> slice:
    """Rows (or columns) ``[min(lo), max(hi)]`` clipped to the frame: where a part can be.

    Painting only inside the band is exact: every mask is false outside it. Bands matter for
    speed, since every mask is a full ``(T, rows, columns)`` grid.
    """
    r0 = int(max(0.0, np.floor(float(np.min(lo)))))
    r1 = int(min(float(height), np.ceil(float(np.max(hi))) + 1.0))
    return slice(r0, max(r0, r1))


def _paint(lab: np.ndarray, mask: np.ndarray, value: int | np.ndarray) -> None:
    np.copyto(lab, np.asarray(value, dtype=np.uint8), where=mask)


def _paint_box(lab, X, Y, x0, x1, y0, y1, value, where=None):  # noqa: ANN001, ANN202
    """Paint the boxes ``[x0, x1) x [y0, y1)`` (per frame; ``where`` a further mask)."""
    b, c = _band(y0, y1, lab.shape[1]), _band(x0, x1, lab.shape[2])
    m = _box(X[..., c], Y[:, b], x0, x1, y0, y1)
    _paint(lab[:, b, c], m if where is None else m & where, value)


def _labels(table: IdentityTable, pose: Pose, height: int, width: int) -> np.ndarray:
    """Paint the label map ``(T, H, W)`` back to front."""
    i = pose.ident
    T = len(i)
    X = np.arange(width, dtype=np.float32)[None, None, :] + 0.5
    Y = np.arange(height, dtype=np.float32)[None, :, None] + 0.5
    h, cx, foot = _col(pose.size), _col(pose.cx), _col(pose.foot)
    f = _col(pose.facing)
    side = f != 0
    back = _col(pose.back) > 0
    build = _col(table.build[i])
    top = foot - h
    head_cy = top + 0.075 * h
    sh_y = top + 0.165 * h
    hip_y = foot - _col(table.leg[i]) * h
    leg_len = foot - hip_y
    swing = _col(pose.phase)
    amp = _col(table.gait_amp[i])
    a = amp * np.sin(swing)

    lab = np.zeros((T, height, width), np.uint8)

    # Legs. Side view: swing about the hip. Frontal: apart, alternating small lifts.
    hip_off = np.where(side, 0.012 * h, 0.055 * h * build)
    leg_r = 0.048 * h * build
    lift = 0.06 * leg_len
    legs = []
    for sign, ang in ((-1.0, -a), (1.0, a)):  # back leg first, then front leg
        hx = cx + sign * hip_off * np.where(side, f, 1.0)
        fx_side = hx + f * leg_len * np.sin(ang)
        fy_side = hip_y + leg_len * np.cos(ang)
        fy_front = foot - lift * np.maximum(0.0, sign * np.sin(swing))
        fx = np.where(side, fx_side, hx + sign * 0.01 * h)
        fy = np.where(side, fy_side, fy_front)
        legs.append((hx, fx, fy))
    # Arms: opposite to the legs.
    torso_hw_sh = np.where(side, 0.075 * h, 0.12 * h) * build
    torso_hw_hip = np.where(side, 0.07 * h, 0.1 * h) * build
    arm_len = 0.36 * h
    arm_r = 0.032 * h * build
    arms = []
    for sign, ang in ((-1.0, 0.8 * a), (1.0, -0.8 * a)):  # back arm, front arm
        sx = np.where(side, cx + sign * 0.01 * h * f, cx + sign * (torso_hw_sh + 0.6 * arm_r))
        sy = sh_y + 0.025 * h
        hx_side = sx + f * arm_len * np.sin(ang)
        hx_front = sx + sign * 0.03 * h
        hy = sy + arm_len * np.where(side, np.cos(ang), 1.0 - 0.05 * np.abs(np.sin(swing)))
        arms.append((sx, sy, np.where(side, hx_side, hx_front), hy))

    def draw_arm(k: int, sleeve: int, fore: int) -> None:
        sx, sy, hx, hy = arms[k]
        b = _band(np.minimum(sy, hy) - arm_r, np.maximum(sy, hy) + arm_r, height)
        c = _band(np.minimum(sx, hx) - arm_r, np.maximum(sx, hx) + arm_r, width)
        m, t = _capsule(X[..., c], Y[:, b], sx, sy, hx, hy, arm_r)
        _paint(lab[:, b, c], m, sleeve)
        _paint(lab[:, b, c], m & (t > 0.5), fore)

    def draw_leg(k: int, thigh: int, shin: int, shoe: int) -> None:
        hx, fx, fy = legs[k]
        b = _band(np.minimum(hip_y, fy) - leg_r, np.maximum(hip_y, fy) + leg_r, height)
        c = _band(np.minimum(hx, fx) - leg_r, np.maximum(hx, fx) + leg_r, width)
        m, t = _capsule(X[..., c], Y[:, b], hx, hip_y, fx, fy, leg_r)
        lb = lab[:, b, c]
        _paint(lb, m, thigh)
        _paint(lb, m & (t > 0.5), shin)
        _paint(lb, m & (t > 0.9), shoe)

    bag = table.bag[i]
    shared = _col(bag == idm.SHARED_BACKPACK) > 0
    own = _col(bag == idm.OWN_SHOULDER_BAG) > 0

    draw_arm(0, SLEEVE_B, FOREARM_B)
    draw_leg(0, THIGH_B, SHIN_B, SHOE_B)
    # Backpack seen from the side sticks out behind the back: drawn before the torso.
    bx_back = cx - f * torso_hw_sh
    bx0 = np.minimum(bx_back, bx_back - f * 0.1 * h)
    bx1 = np.maximum(bx_back, bx_back - f * 0.1 * h)
    if (shared & side).any():
        _paint_box(lab, X, Y, bx0, bx1, sh_y + 0.02 * h, sh_y + 0.22 * h, BAG, shared & side)
    # Torso: a trapezoid from the shoulders to just below the hips, with its pattern.
    b = _band(sh_y, hip_y + 0.03 * h, height)
    hw_max = np.maximum(torso_hw_sh, torso_hw_hip)
    c = _band(cx - hw_max, cx + hw_max, width)
    Yb = Y[:, b]
    frac = np.clip((Yb - sh_y) / np.maximum(hip_y - sh_y, 1.0), 0.0, 1.0)
    hw = torso_hw_sh + (torso_hw_hip - torso_hw_sh) * frac
    dxc = X - cx
    dxb = dxc[..., c]
    torso = (np.abs(dxb) <= hw) & (Yb >= sh_y) & (Yb < hip_y + 0.03 * h)
    _paint(lab[:, b, c], torso, TORSO1)
    period = _col(table.stripe[i]) * h
    pat = _col(table.pattern[i])
    hs = (np.floor((Yb - sh_y) / period) % 2) == 1
    vs = (np.floor(dxb / period + 0.5) % 2) == 1
    second = (((pat == idm.HSTRIPES) & hs) | ((pat == idm.VSTRIPES) & vs)
              | ((pat == idm.CHECKS) & (hs ^ vs)) | ((pat == idm.TWO_TONE) & (frac > 0.55)))
    _paint(lab[:, b, c], torso & second, TORSO2)
    draw_leg(1, THIGH, SHIN, SHOE)
    # Skirt over the thighs.
    skirt = _col(table.lower_style[i] == idm.SKIRT) > 0
    if skirt.any():
        b = _band(hip_y - 0.02 * h, hip_y + 0.25 * h, height)
        c = _band(cx - 1.5 * torso_hw_hip, cx + 1.5 * torso_hw_hip, width)
        Yb = Y[:, b]
        sk_frac = np.clip((Yb - hip_y) / (0.25 * h), 0.0, 1.0)
        sk = skirt & (Yb >= hip_y - 0.02 * h) & (Yb < hip_y + 0.25 * h) & (
            np.abs(dxc[..., c]) <= torso_hw_hip * (1.0 + 0.5 * sk_frac))
        _paint(lab[:, b, c], sk, SKIRT)
    # Backpack seen from behind covers the torso; from the front only its straps show.
    fr = ~side
    if (shared & fr).any():
        _paint(lab, shared & fr & back & (np.abs(dxc) < 0.09 * h) & (Y >= sh_y + 0.02 * h)
               & (Y < sh_y + 0.24 * h), BAG)
        straps = (np.abs(np.abs(dxc) - 0.06 * h * build) < 0.014 * h) & (Y >= sh_y) & (
            Y < sh_y + 0.17 * h)
        _paint(lab, shared & fr & ~back & straps, BAG)
    # Own shoulder bag on the hip, on the side facing the camera.
    ox = np.where(side, cx + f * 0.01 * h, cx + torso_hw_hip + 0.01 * h)
    if own.any():
        _paint_box(lab, X, Y, ox - 0.055 * h, ox + 0.055 * h, hip_y - 0.07 * h, hip_y + 0.05 * h,
                   BAG, own)
    # Head, hair.
    rx, ry = 0.05 * h, 0.068 * h
    hcx = cx + f * 0.01 * h
    b = _band(head_cy - ry, sh_y + 0.09 * h, height)
    c = _band(hcx - 1.1 * rx, hcx + 1.1 * rx, width)
    Yb = Y[:, b]
    dxh = (X - hcx)[..., c]
    ex = dxh / rx
    ey = (Yb - head_cy) / ry
    head = ex * ex + ey * ey <= 1.0
    _paint(lab[:, b, c], head, HEAD)
    long_h = _col(table.long_hair[i]) > 0
    hair = head & ((Yb < head_cy - 0.25 * ry) | (side & (f * dxh < -0.25 * rx)) | (fr & back))
    long_mask = long_h & (Yb >= head_cy) & (Yb < sh_y + 0.09 * h) & (np.abs(dxh) < 1.1 * rx) & (
        (side & (f * dxh < 0.1 * rx)) | (fr & back) | (fr & (np.abs(dxh) > 0.55 * rx)))
    _paint(lab[:, b, c], hair | long_mask, HAIR)
    draw_arm(1, SLEEVE, FOREARM)
    # Occluder last.
    o = pose.occ.astype(np.float32)
    if (o[:, 0] < o[:, 1]).any():
        _paint_box(lab, X, Y, _col(o[:, 0]), _col(o[:, 1]), _col(o[:, 2]), _col(o[:, 3]), OCC)
    return lab


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack ``(..., 3)`` uint8 RGB into ``(...)`` little-endian uint32 (one gather per pixel)."""
    rgba = np.concatenate([rgb.astype(np.uint8), np.zeros(rgb.shape[:-1] + (1,), np.uint8)], -1)
    return np.ascontiguousarray(rgba).view("<u4")[..., 0]


def render_frames(table: IdentityTable, pose: Pose, background: np.ndarray, gain: np.ndarray
                  ) -> np.ndarray:
    """Draw the figures of ``pose`` over ``background``.

    Args:
        table: Identity appearance table.
        pose: Per-frame placement (``T`` frames).
        background: ``(T, H, W)`` packed RGB (see :func:`pack_rgb`) background crops, already lit.
        gain: ``(T, 3)`` per-frame colour gain of the figure (camera cast times lighting).

    Returns:
        ``(T, H, W, 3)`` uint8 RGB (before blur and noise).
    """
    t, height, width = background.shape
    lab = _labels(table, pose, height, width)
    lut = np.clip(_colour_table(table, pose) * gain[:, None, :] + 0.5, 0, 255)
    lut32 = pack_rgb(lut).reshape(t * NUM_LABELS)
    flat = lab.astype(np.intp)
    flat += (np.arange(t, dtype=np.intp) * NUM_LABELS)[:, None, None]
    img = np.take(lut32, flat)
    np.copyto(img, background, where=lab == BG)
    return img.astype("<u4").view(np.uint8).reshape(t, height, width, 4)[..., :3]
