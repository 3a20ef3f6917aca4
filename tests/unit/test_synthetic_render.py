"""Synthetic dataset: rendering, nuisances as reported, and a difficulty that is real."""

import numpy as np
import pytest

from reidbench.datasets.synthetic import SynthConfig
from reidbench.datasets.synthetic.tracklets import TrackletSpec, make_world, render_tracklet

SMALL = dict(height=64, width=32)


def test_tracklet_shape_dtype_and_determinism():
    w = make_world(SynthConfig(**SMALL), 5, 4, 2)
    a, info = render_tracklet(w, TrackletSpec(1, 0, 70, (9,)))  # > one render chunk
    b, _ = render_tracklet(make_world(SynthConfig(**SMALL), 5, 4, 2), TrackletSpec(1, 0, 70, (9,)))
    assert a.shape == (70, 64, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert info["view"] in ("side", "front", "back")
    c, _ = render_tracklet(w, TrackletSpec(1, 0, 70, (10,)))
    assert not np.array_equal(a, c)


def test_figure_is_drawn_and_walks():
    cfg = SynthConfig.clean(**SMALL)
    w = make_world(cfg, 0, 3, 1)
    fr, _ = render_tracklet(w, TrackletSpec(0, 0, 12, (1,)))
    bg = make_world(cfg, 0, 3, 1).cameras[0]
    assert fr.std() > 5  # not a blank image
    # Walking: consecutive frames differ (limbs move), even with every nuisance off.
    assert np.abs(fr[1:].astype(int) - fr[:-1].astype(int)).mean() > 0.5
    assert bg.noise == 0


def test_tracker_errors_and_occlusion_are_applied_and_reported():
    cfg = SynthConfig.clean(tracker_error_prob=1.0, tracker_error_frames=3, occlusion_prob=1.0,
                            **SMALL)
    w = make_world(cfg, 0, 6, 2)
    clean_w = make_world(SynthConfig.clean(**SMALL), 0, 6, 2)
    for k in range(5):
        fr, info = render_tracklet(w, TrackletSpec(2, 1, 10, (k,)))
        ref, ref_info = render_tracklet(clean_w, TrackletSpec(2, 1, 10, (k,)))
        err = info["tracker_error_frames"]
        assert 1 <= len(err) <= 3 and info["impostor"] not in (None, 2)
        assert err == list(range(len(err))) or err == list(range(10 - len(err), 10))
        assert info["occluder"] in ("pole", "passer-by", "bench")
        assert ref_info["tracker_error_frames"] == [] and ref_info["occluder"] is None
        assert not np.array_equal(fr[err[0]], ref[err[0]])


def _hist_map(cfg: SynthConfig, seed: int, n: int = 30) -> float:
    """mAP of a trivial colour-histogram feature (centre crop, 4 bins per channel), cam 1 -> 2."""
    w = make_world(cfg, seed, n, 2)
    feats = {}
    for cam in (0, 1):
        for i in range(n):
            fr, _ = render_tracklet(w, TrackletSpec(i, cam, 6, (cam, i)))
            h, wd = fr.shape[1:3]
            q = (fr[:, int(0.1 * h):int(0.95 * h), wd // 4:3 * wd // 4] // 64).astype(int)
            code = q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]
            hist = np.stack([np.bincount(c.ravel(), minlength=64) for c in code]).mean(0)
            feats[cam, i] = np.sqrt(hist / hist.sum())
    sim = np.stack([feats[0, i] for i in range(n)]) @ np.stack([feats[1, i] for i in range(n)]).T
    rank = (sim > np.diag(sim)[:, None]).sum(1) + 1  # one true match per query
    return float(np.mean(1.0 / rank))


def test_difficulty_is_real_but_learnable():
    chance = float(np.mean(1.0 / np.arange(1, 31)))  # ~0.133 with one match among 30
    default = np.mean([_hist_map(SynthConfig(**SMALL), s) for s in (3, 4, 5)])
    clean = np.mean([_hist_map(SynthConfig.clean(**SMALL), s) for s in (3, 4, 5)])
    assert 2 * chance < default < 0.85
    assert clean > default + 0.15  # the knobs are what makes it hard


def _blur_reference(img: np.ndarray, passes: int) -> np.ndarray:
    """[1, 2, 1] / 4 rounded half up, along H then W per pass; first/last row and column kept."""
    out = img.astype(np.int64)
    for _ in range(passes):
        for axis in (1, 2):
            src = out.copy()
            for k in range(1, src.shape[axis] - 1):
                a, c, b = (np.take(src, j, axis) for j in (k - 1, k, k + 1))
                idx = [slice(None)] * 4
                idx[axis] = k
                out[tuple(idx)] = (a + 2 * c + b + 2) // 4
    return out


@pytest.mark.parametrize("shape", [(3, 16, 16, 3), (1, 17, 33, 3), (2, 5, 3, 3)])
@pytest.mark.parametrize("passes", [0, 1, 2, 5])
def test_camera_blur_matches_a_slow_reference(shape, passes):
    from reidbench.datasets.synthetic.camera import _blur

    img = np.random.default_rng(passes).integers(0, 256, shape).astype(np.int16)
    assert np.array_equal(_blur(img.copy(), passes), _blur_reference(img, passes))


def test_default_png_frames_are_stored_and_decode(tmp_path):
    from PIL import Image

    from reidbench.datasets import load
    from reidbench.datasets.synthetic import write_dataset

    assert SynthConfig().png_compress_level == 0  # fastest to write and to read
    root = write_dataset("ilidsvid", tmp_path / "i", ids=4, seed=0,
                         config=SynthConfig(**SMALL)).root
    frame = load("ilidsvid", root).tracklets[0].frames[0]
    with Image.open(frame) as im:
        assert im.format == "PNG" and im.size == (32, 64)
        assert np.asarray(im).std() > 5
