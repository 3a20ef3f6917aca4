"""PRID-2011 layout: two cameras, more people in cam_b, and a shipped 10-split person list.

``prid_2011/multi_shot/cam_{a,b}/person_NNNN/NNNN.png`` (more people in cam_b;
only the first persons appear in both cameras, and ``person_0201`` of cam_a and of cam_b are
different people), single shots under ``single_shot/``, and ``splits_prid2011.json``: 10 splits of
a shipped person list that is not a length threshold (a few long two-camera persons are left out,
as 0199/0200 are in the real list).

Variant ``"mat_splits"`` also writes the official ``train_test_splits_prid.mat`` at the root
(``ls_set``, (10, ids) double, 1-based into the sorted listed persons, first ids/2 columns test),
describing the same splits as the JSON. The .mat's persons are those with at least
:data:`MAT_MIN_FRAMES` frames in both cameras (yolomax's rule, ``docs/datasets.md``), so in this
variant every listed person gets at least that many frames in each camera (whatever
``config.max_len``) and every other tracklet at most one frame fewer; the random draws, the
person lists and the splits are those of the default copy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.layouts._base import Context, Record
from reidbench.datasets.synthetic.layouts.ilidsvid import N_SPLITS, splits_from_lists
from reidbench.datasets.synthetic.matfiles import write_mat_v5
from reidbench.datasets.synthetic.tracklets import make_world, sample_length

MIN_IDS = 4
# The shipped splits are 50/50 test/train, so the listed persons must be even in number.
EVEN_IDS = True
#: Frames in each camera that a person needs to be indexed by ``train_test_splits_prid.mat``.
MAT_MIN_FRAMES = 27


def write(root: Path, config: SynthConfig, seed: int, ids: int, variant: str | None
          ) -> tuple[Context, list[dict]]:
    """Write a PRID-2011 copy whose shipped list has ``ids`` persons."""
    rng = np.random.default_rng([seed, 3])
    n_both = ids + max(2, round(ids * 22 / 178))  # 200 in both cameras, 178 listed
    n_a = n_both + max(1, round(ids * 0.25))  # 385 in cam_a
    n_b = n_both + max(2, round(ids * 0.6))  # 749 in cam_b
    # Identity rows: 0..n_both-1 shared; then cam_a-only people, then cam_b-only people.
    world = make_world(config, seed, n_both + (n_a - n_both) + (n_b - n_both), 2)
    ctx = Context(root, world, "PNG")
    # Left out of the list: the last two two-camera persons, and short ones chosen at random.
    n_out = n_both - ids
    excluded = {n_both, n_both - 1} | {
        int(p) for p in rng.choice(np.arange(1, n_both - 1), size=n_out - 2, replace=False)}
    listed = [p for p in range(1, n_both + 1) if p not in excluded]
    listed_set = set(listed)
    recs: dict[tuple[int, int], Record] = {}
    for cam, letter, n_cam in ((1, "a", n_a), (2, "b", n_b)):
        for p in range(1, n_cam + 1):
            row = p - 1 if p <= n_both else (
                n_both + (p - n_both - 1) if cam == 1 else n_a + (p - n_both - 1))
            n = sample_length(rng, config)
            if p in excluded and p < n_both - 1:
                n = int(rng.integers(1, max(2, config.min_len)))  # too short to be listed
            if variant == "mat_splits":  # listed <=> >= MAT_MIN_FRAMES in both cameras
                n = max(n, MAT_MIN_FRAMES) if p in listed_set else min(n, MAT_MIN_FRAMES - 1)
            folder = f"prid_2011/multi_shot/cam_{letter}/person_{p:04d}"
            rels = [f"{folder}/{k:04d}.png" for k in range(1, n + 1)]
            frames, info = ctx.render(row, cam - 1, rels)
            ctx.save(f"prid_2011/single_shot/cam_{letter}/person_{p:04d}.png", frames[0])
            recs[(cam, p)] = ctx.add(Record(f"cam_{letter}/person_{p:04d}", p, cam, "multi_shot",
                                            rels, "person", row, info))
    orders = [[listed[int(i)] for i in rng.permutation(ids)] for _ in range(N_SPLITS)]
    half = ids // 2
    payload = [{"test": [f"person_{p:04d}" for p in o[:half]],
                "train": [f"person_{p:04d}" for p in o[half:]]} for o in orders]
    ctx.path("splits_prid2011.json").write_text(json.dumps(payload, indent=4,
                                                           separators=(",", ": ")))
    if variant == "mat_splits":  # ``listed`` is sorted: the .mat indexes it 1-based
        ls_set = np.array([[listed.index(p) + 1 for p in o] for o in orders], dtype=np.float64)
        write_mat_v5(ctx.path("train_test_splits_prid.mat"), {"ls_set": (ls_set, "float64")})
    return ctx, splits_from_lists(orders, recs, "cam_a/person_{:04d}", "cam_b/person_{:04d}")
