"""iLIDS-VID layout: two cameras, 1-based ``ls_set`` splits over the sorted person folders.

``i-LIDS-VID/sequences/cam{1,2}/personNNN/cam{c}_personNNN_FFFFF.png`` (person numbers with
gaps, frame numbers from the original video, not starting at 1), single stills under ``images/``,
and ``train-test people splits/train_test_splits_ilidsvid.mat`` (``ls_set``, (10, N) double,
1-based into the sorted person folders, first N/2 columns test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.layouts._base import Context, Record
from reidbench.datasets.synthetic.matfiles import write_mat_v5
from reidbench.datasets.synthetic.tracklets import make_world, sample_length

MIN_IDS = 4
N_SPLITS = 10


def write(root: Path, config: SynthConfig, seed: int, ids: int, variant: str | None
          ) -> tuple[Context, list[dict]]:
    """Write an iLIDS-VID copy with ``ids`` persons, each seen by both cameras."""
    rng = np.random.default_rng([seed, 3])
    span = ids + max(2, round(ids * 19 / 300))  # 300 persons among person001..person319
    persons = sorted(int(p) for p in rng.choice(np.arange(1, span + 1), size=ids, replace=False))
    world = make_world(config, seed, ids, 2)
    ctx = Context(root, world, "PNG")
    recs: dict[tuple[int, int], Record] = {}
    for cam in (1, 2):
        for row, p in enumerate(persons):
            n = sample_length(rng, config)
            start = int(rng.integers(1, 9000))
            folder = f"i-LIDS-VID/sequences/cam{cam}/person{p:03d}"
            rels = [f"{folder}/cam{cam}_person{p:03d}_{start + k:05d}.png" for k in range(n)]
            frames, info = ctx.render(row, cam - 1, rels)
            ctx.save(f"i-LIDS-VID/images/cam{cam}/person{p:03d}/cam{cam}_person{p:03d}.png",
                     frames[0])
            recs[(cam, p)] = ctx.add(Record(f"cam{cam}/person{p:03d}", p, cam, "sequences", rels,
                                            "person", row, info))
    ls_set = np.stack([rng.permutation(ids) + 1 for _ in range(N_SPLITS)]).astype(np.float64)
    write_mat_v5(ctx.path("train-test people splits/train_test_splits_ilidsvid.mat"),
                 {"ls_set": (ls_set, "float64")})
    return ctx, splits_from_lists(
        [[persons[int(i) - 1] for i in row] for row in ls_set], recs, "cam1/person{:03d}",
        "cam2/person{:03d}")


def splits_from_lists(orders: list[list[int]], recs: dict, a_fmt: str, b_fmt: str) -> list[dict]:
    """Splits from per-split person orders.

    The first half of each order is test (query = first camera, gallery = second camera, in list
    order), the rest train (both cameras).
    """
    out = []
    for k, order in enumerate(orders):
        half = len(order) // 2
        test, train = order[:half], order[half:]
        out.append({
            "name": f"split{k}",
            "train": [fmt.format(p) for p in train for fmt in (a_fmt, b_fmt)],
            "query": [a_fmt.format(p) for p in test],
            "gallery": [b_fmt.format(p) for p in test],
        })
    return out
