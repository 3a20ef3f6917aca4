"""Training clips: Gao's consecutive start range, the recipes' augmentations, by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from reidbench.adapters import TrainRecipe
from reidbench.datasets.decode import load_clip, load_frame
from reidbench.engine.trainbatch import (
    load_train_clip,
    random_erasing,
    train_clip_indices,
    translated_frame,
)
from reidbench.errors import InputError


def test_consecutive_gao_never_draws_the_last_window():
    starts = {train_clip_indices("consecutive_gao", 7, 4, np.random.default_rng(s))[0]
              for s in range(80)}
    assert starts == {0, 1, 2}  # Gao & Nevatia: randint(0, F-T-1); the generic one gives 0..3
    generic = {train_clip_indices("consecutive", 7, 4, np.random.default_rng(s))[0]
               for s in range(80)}
    assert generic == {0, 1, 2, 3}
    clip = train_clip_indices("consecutive_gao", 7, 4, np.random.default_rng(1))
    assert clip == list(range(clip[0], clip[0] + 4))
    for n in (4, 5):  # F - T - 1 <= 0: always the first window
        assert train_clip_indices("consecutive_gao", n, 4, np.random.default_rng(0)) == [0, 1, 2, 3]
    assert train_clip_indices("consecutive_gao", 2, 5, np.random.default_rng(0)) == [0, 1, 0, 1, 0]
    with pytest.raises(InputError, match="tracklet length"):
        train_clip_indices("consecutive_gao", 0, 4, np.random.default_rng(0))


def test_random_erasing_rectangles_within_the_bounds():
    rng = np.random.default_rng(0)
    erased = 0
    for _ in range(40):
        clip = torch.ones(3, 3, 64, 32)
        random_erasing(clip, rng, p=1.0)
        for frame in clip:
            zero = (frame == 0).all(dim=0)
            assert torch.equal((frame == 0).any(dim=0), zero)  # every channel erased together
            ys, xs = torch.nonzero(zero, as_tuple=True)
            h, w = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
            assert int(zero.sum()) == h * w  # one rectangle
            assert 0.02 * 64 * 32 * 0.8 <= h * w <= 0.4 * 64 * 32 * 1.2
            assert 0.3 * 0.7 <= h / w <= 1 / 0.3 * 1.3
            erased += 1
    assert erased == 120
    untouched = torch.ones(2, 3, 8, 8)
    random_erasing(untouched, rng, p=0.0)
    assert torch.equal(untouched, torch.ones(2, 3, 8, 8))
    clips = [random_erasing(torch.ones(1, 3, 16, 8), rng, p=0.5) for _ in range(400)]
    share = np.mean([bool((c == 0).any()) for c in clips])
    assert 0.4 < share < 0.6


def test_per_clip_erasing_shares_one_rectangle_across_frames():
    rng = np.random.default_rng(3)
    erased = 0
    for _ in range(40):
        clip = torch.ones(4, 3, 64, 32)
        random_erasing(clip, rng, p=0.5, per_clip=True)
        masks = [(frame == 0).all(dim=0) for frame in clip]
        assert all(torch.equal(m, masks[0]) for m in masks)  # the same region in every frame
        erased += bool(masks[0].any())
    assert 10 < erased < 30  # the clip, not each frame, is erased with p = 0.5


def test_denseil_recipe_is_its_supplement():
    """Supplement 2.1: frame-level random flips, sequence-level random erasing."""
    from reidbench.adapters import adapter_class

    r = adapter_class("denseil").recipe
    assert (r.flip_per_frame, r.erasing_per_clip, r.flip, r.erasing) == (True, True, 0.5, 0.5)
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(30):
        clip = torch.ones(8, 3, 32, 16)
        random_erasing(clip, rng, r.erasing, per_clip=r.erasing_per_clip)
        frames.append(len({int((f == 0).sum()) for f in clip}))
    assert set(frames) == {1}


@pytest.fixture()
def frame(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "f.png"
    Image.fromarray(rng.integers(0, 256, (80, 40, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_translation_is_a_window_of_the_enlarged_frame(frame):
    assert np.array_equal(translated_frame(frame, (64, 32), np.random.default_rng(0), 0.0),
                          load_frame(frame, (64, 32)))
    big = load_frame(frame, (72, 36))  # 9/8 of 64 x 32
    offsets = set()
    for s in range(30):
        out = translated_frame(frame, (64, 32), np.random.default_rng(s), 1.0)
        assert out.shape == (64, 32, 3)
        hits = [(y, x) for y in range(9) for x in range(5)
                if np.array_equal(big[y:y + 64, x:x + 32], out)]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) > 5


def test_train_clip_flips_whole_clip_or_each_frame(frame):
    frames = [frame] * 6
    plain = load_clip(frames, (64, 32))
    flipped = plain.flip(-1)
    recipe = TrainRecipe(seq_len=6, flip=1.0, erasing=0.0, translate=0.0)
    assert torch.allclose(load_train_clip(frames, recipe, (64, 32), np.random.default_rng(0)),
                          flipped)
    per_frame = replace(recipe, flip=0.5, flip_per_frame=True)
    seen = set()
    for s in range(10):
        clip = load_train_clip(frames, per_frame, (64, 32), np.random.default_rng(s))
        state = tuple(bool(torch.allclose(c, f)) for c, f in zip(clip, flipped, strict=True))
        assert all(torch.allclose(c, f) or torch.allclose(c, p)
                   for c, f, p in zip(clip, flipped, plain, strict=True))
        seen.add(state)
    assert any(0 < sum(s) < 6 for s in seen)  # frames of one clip flipped independently
    erased = load_train_clip(frames, replace(recipe, flip=0.0, erasing=1.0), (64, 32),
                             np.random.default_rng(0))
    assert all(bool((c == 0).all(dim=0).any()) for c in erased)  # 0 after normalisation
