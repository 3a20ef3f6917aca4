"""LS-VID layout: sequence lists of path prefixes, and HDF5 (v7.3) query indices.

``list_sequence/list_seq_{train,val,test}.txt`` hold ``<prefix> <pid>`` per line; frames live under
``tracklet_{train,val,test}/<pid>/``, their basenames start with the prefix and have four ``_``
tokens ``<track>_<frame>_<camera>_<index>.jpg`` (camera 1..15), and ``test/data/info_test.mat``
(and ``info_val.mat``): MATLAB v7.3 HDF5 with ``query`` of shape (1, Nq), 1-based list rows.

The exact frame-name grammar of the real LS-VID is unconfirmed (``docs/datasets.md``); this
one satisfies every constraint the public loaders rely on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.layouts._base import Context, Record, pick_cameras
from reidbench.datasets.synthetic.matfiles import write_mat_v73
from reidbench.datasets.synthetic.tracklets import make_world, sample_length

N_CAMS = 15
MIN_IDS = 5


def write(root: Path, config: SynthConfig, seed: int, ids: int, variant: str | None
          ) -> tuple[Context, list[dict]]:
    """Write an LS-VID copy with ``ids`` identities split into train, val and test."""
    rng = np.random.default_rng([seed, 3])
    n_train = max(1, round(ids * 0.4))
    n_val = 1 if ids < 10 else round(ids * 0.1)
    pids = sorted(int(p) for p in rng.choice(np.arange(1, 4001), size=ids, replace=False))
    order = rng.permutation(ids)
    groups = {"train": sorted(pids[k] for k in order[:n_train]),
              "val": sorted(pids[k] for k in order[n_train:n_train + n_val]),
              "test": sorted(pids[k] for k in order[n_train + n_val:])}
    world = make_world(config, seed, ids, N_CAMS)
    ctx = Context(root, world, "JPEG")
    row_of = {p: k for k, p in enumerate(pids)}
    x = 0
    tables: dict[str, list[Record]] = {}
    for subset in ("train", "val", "test"):
        recs = []
        for p in groups[subset]:
            cams = pick_cameras(rng, N_CAMS, 2, 3)
            plan = [c for c in cams for _ in range(int(rng.integers(1, 3)))]
            for t, cam in enumerate(plan, start=1):
                prefix = f"tracklet_{subset}/{p:04d}/{p:04d}{t:04d}"
                n = sample_length(rng, config)
                rels = [f"{prefix}_{f:04d}_{cam + 1}_{x + f:06d}.jpg" for f in range(1, n + 1)]
                x += n
                _, info = ctx.render(row_of[p], cam, rels)
                recs.append(ctx.add(Record(prefix, p, cam + 1, subset, rels, "person",
                                           row_of[p], info)))
        ctx.text(f"list_sequence/list_seq_{subset}.txt", [f"{r.id} {r.pid}" for r in recs])
        tables[subset] = recs

    def queries(recs: list[Record]) -> list[int]:
        # One query per identity (two for some with three cameras); every query keeps a
        # cross-camera match among the non-query tracklets.
        by_pid: dict[int, list[int]] = {}
        for k, r in enumerate(recs):
            by_pid.setdefault(r.pid, []).append(k)
        out = []
        for rows in by_pid.values():
            q = int(rng.choice(rows))
            out.append(q)
            rest = [k for k in rows if recs[k].camid != recs[q].camid]
            cams_left = {recs[k].camid for k in rest}
            if len(cams_left) >= 2 and rng.random() < 0.3:
                q2 = int(rng.choice(rest))
                if {recs[k].camid for k in rest if k != q2} - {recs[q2].camid}:
                    out.append(q2)
        return sorted(out)

    q_test = queries(tables["test"])
    q_val = queries(tables["val"])
    write_mat_v73(ctx.path("test/data/info_test.mat"),
                  {"query": np.asarray(q_test, np.float64)[None, :] + 1})
    write_mat_v73(ctx.path("test/data/info_val.mat"),
                  {"query": np.asarray(q_val, np.float64)[None, :] + 1})
    test = tables["test"]
    split = {"name": "official", "train": [r.id for r in tables["train"]],
             "query": [test[k].id for k in q_test], "gallery": [r.id for r in test]}
    return ctx, [split]
