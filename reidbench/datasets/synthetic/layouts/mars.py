"""MARS layout: image folders per pid, CRLF name lists and MATLAB v5 track tables.

``bbox_train/``, ``bbox_test/`` (with ``00-1`` junk and ``0000`` distractors) and
``info/`` (CRLF name lists, ``tracks_*_info.mat`` as int32, ``query_IDX`` as a (1, N) uint16 row).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.layouts._base import Context, Record, pick_cameras
from reidbench.datasets.synthetic.matfiles import write_mat_v5
from reidbench.datasets.synthetic.tracklets import (
    DISTRACTOR,
    JUNK,
    PERSON,
    make_world,
    sample_length,
)

N_CAMS = 6
MIN_IDS = 5


def _folder(pid: int) -> str:
    return "00-1" if pid == -1 else f"{pid:04d}"


def write(root: Path, config: SynthConfig, seed: int, ids: int, variant: str | None
          ) -> tuple[Context, list[dict]]:
    """Write a MARS copy with ``ids`` real identities (half train, half test)."""
    rng = np.random.default_rng([seed, 3])
    n_train = ids // 2
    n_test = ids - n_train
    pids = sorted(int(p) for p in rng.choice(np.arange(1, 1501), size=ids, replace=False))
    order = rng.permutation(ids)
    train_pids = sorted(pids[k] for k in order[:n_train])
    test_pids = sorted(pids[k] for k in order[n_train:])
    n_extra = max(2, ids // 4)  # unlabelled people behind the distractor tracklets
    world = make_world(config, seed, ids + n_extra, N_CAMS)
    ctx = Context(root, world, "JPEG")
    row_of = {p: k for k, p in enumerate(pids)}

    # (pid, camera, identity row, kind) per tracklet, per subset.
    plan: dict[str, list[tuple[int, int, int, str]]] = {"train": [], "test": []}
    for p in train_pids:
        for c in pick_cameras(rng, N_CAMS, 2, 4):
            plan["train"] += [(p, c, row_of[p], PERSON)] * int(rng.integers(1, 3))
    one_cam = test_pids[int(rng.integers(0, n_test))] if n_test >= 3 else None
    for p in test_pids:
        cams = [int(rng.integers(0, N_CAMS))] if p == one_cam else pick_cameras(rng, N_CAMS, 2, 3)
        for c in cams:
            plan["test"] += [(p, c, row_of[p], PERSON)] * int(rng.integers(1, 3))
    n_real = len(plan["test"])
    for _ in range(max(1, round(0.25 * n_real))):
        plan["test"].append((0, int(rng.integers(0, N_CAMS)),
                             ids + int(rng.integers(0, n_extra)), DISTRACTOR))
    for _ in range(max(1, round(0.08 * n_real))):
        plan["test"].append((-1, int(rng.integers(0, N_CAMS)), int(rng.integers(0, ids)), JUNK))

    tables: dict[str, list[Record]] = {}
    for subset, items in plan.items():
        # Rows follow the name list: folders in ASCII order ("00-1" < "0000" < "0002"), then
        # file names (camera, then T-number). T-numbers are unique per pid across cameras.
        items.sort(key=lambda it: (_folder(it[0]), it[1]))
        tnum: dict[int, int] = {}
        recs = []
        for pid, cam, row, kind in items:
            tnum[pid] = tnum.get(pid, 0) + 1
            prefix = f"{_folder(pid)}C{cam + 1}T{tnum[pid]:04d}"
            n = sample_length(rng, config)
            if subset == "test" and kind == PERSON and rng.random() < 0.05:
                n = 2  # MARS has test tracklets as short as 2 frames
            names = [f"{prefix}F{f:03d}.jpg" for f in range(1, n + 1)]
            rels = [f"bbox_{subset}/{_folder(pid)}/{nm}" for nm in names]
            _, info = ctx.render(row, cam, rels, kind)
            recs.append(ctx.add(Record(prefix, pid, cam + 1, subset, rels, kind,
                                       row, info)))
        tables[subset] = recs

    float_meta = variant == "float64"
    for subset in ("train", "test"):
        recs = tables[subset]
        names = [Path(f).name for r in recs for f in r.frames]
        ctx.text(f"info/{subset}_name.txt", names, crlf=True)
        info = np.zeros((len(recs), 4), np.int64)
        start = 1
        for k, r in enumerate(recs):
            info[k] = (start, start + len(r.frames) - 1, r.pid, r.camid)
            start += len(r.frames)
        var = f"track_{subset}_info"
        write_mat_v5(ctx.path(f"info/tracks_{subset}_info.mat"),
                     {var: (info, "float64" if float_meta else "int32")})

    # One query per (real pid, camera) for ids seen in >= 2 cameras, a random pick among them.
    test = tables["test"]
    groups: dict[tuple[int, int], list[int]] = {}
    for k, r in enumerate(test):
        if r.pid > 0:
            groups.setdefault((r.pid, r.camid), []).append(k)
    cams_of: dict[int, set[int]] = {}
    for pid, cam in groups:
        cams_of.setdefault(pid, set()).add(cam)
    qrows = sorted(int(rng.choice(rows)) for (pid, _), rows in sorted(groups.items())
                   if len(cams_of[pid]) >= 2)
    q = np.asarray(qrows, np.int64)[None, :] + 1
    storage = "float64" if float_meta else ("uint16" if q.max() <= 65535 else "uint32")
    write_mat_v5(ctx.path("info/query_IDX.mat"), {"query_IDX": (q, storage)})
    split = {"name": "official", "train": [r.id for r in tables["train"]],
             "query": [test[k].id for k in qrows], "gallery": [r.id for r in test]}
    return ctx, [split]
