"""DukeMTMC-VideoReID layout: ``{train,query,gallery}/<pid>/<tid>/<frame>.jpg``.

Query tracklets are byte-for-byte copies of gallery tracklets; distractor identities live only in
``gallery/`` with the ``D`` flag; some tracklets start at ``F0002``; one gallery tracklet has a
single frame. ``variant="old_names"`` writes the first release's names (``0001C6F0099X30823.jpg``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.layouts._base import Context, Record, pick_cameras
from reidbench.datasets.synthetic.tracklets import PERSON, make_world, sample_length

N_CAMS = 8
MIN_IDS = 4


def _name(pid: int, cam: int, f: int, flag: str, x: int, old: bool) -> str:
    if old:
        return f"{pid:04d}C{cam}F{f:04d}{flag}{x}.jpg"
    return f"{pid:04d}_C{cam}_F{f:04d}_{flag}{x}.jpg"


def write(root: Path, config: SynthConfig, seed: int, ids: int, variant: str | None
          ) -> tuple[Context, list[dict]]:
    """Write a DukeV copy with ``ids`` labelled identities (half train, half test)."""
    rng = np.random.default_rng([seed, 3])
    old = variant == "old_names"
    n_train = ids // 2
    n_test = ids - n_train
    n_distr = max(1, round(0.58 * n_test))  # 408 distractor ids for 702 test ids
    pids = sorted(int(p) for p in rng.choice(np.arange(1, 7141), size=ids + n_distr,
                                             replace=False))
    order = rng.permutation(len(pids))
    train_pids = sorted(pids[k] for k in order[:n_train])
    test_pids = sorted(pids[k] for k in order[n_train:ids])
    distr_pids = sorted(pids[k] for k in order[ids:])
    world = make_world(config, seed, len(pids), N_CAMS)
    ctx = Context(root, world, "JPEG")
    row_of = {p: k for k, p in enumerate(pids)}

    def emit(subset: str, pid: int, tid: int, cam: int, n: int, first: int, flag: str
             ) -> Record:
        x0 = int(rng.integers(10000, 90000))
        rels = [f"{subset}/{pid:04d}/{tid:04d}/" + _name(pid, cam + 1, f, flag, x0 + 12 * (f - 1),
                                                          old) for f in range(first, first + n)]
        _, info = ctx.render(row_of[pid], cam, rels, PERSON if flag == "X" else "distractor")
        return Record(f"{subset}/{pid:04d}/{tid:04d}", pid, cam + 1, subset, rels,
                      "person" if flag == "X" else "distractor", row_of[pid], info)

    plan = [(p, tid, cam) for p in train_pids
            for tid, cam in enumerate(pick_cameras(rng, N_CAMS, 2, 3), start=1)]
    f2 = int(rng.integers(0, len(plan)))  # one training tracklet starts at F0002
    train = [emit("train", p, tid, cam, sample_length(rng, config), 2 if k == f2 else 1, "X")
             for k, (p, tid, cam) in enumerate(plan)]

    gallery: list[Record] = []
    queries: list[Record] = []
    f2_pid = test_pids[int(rng.integers(0, n_test))]  # its query (and gallery copy) starts at F0002
    single_pid = test_pids[int(rng.integers(0, n_test))]  # has a length-1 gallery tracklet
    for p in test_pids:
        cams = pick_cameras(rng, N_CAMS, 2, 3)
        q = 0 if p == f2_pid else int(rng.integers(0, len(cams)))
        single = (q + 1) % len(cams) if p == single_pid else -1
        recs = [emit("gallery", p, tid, cam, 1 if k == single else sample_length(rng, config),
                     2 if (p == f2_pid and k == q) else 1, "X")
                for k, (tid, cam) in enumerate(enumerate(cams, start=1))]
        gallery += recs
        queries.append(recs[q])
    for p in distr_pids:
        gallery.append(emit("gallery", p, 1, int(rng.integers(0, N_CAMS)),
                            sample_length(rng, config), 1, "D"))
    gallery.sort(key=lambda r: r.id)

    query: list[Record] = []
    for g in queries:
        rels = []
        for src in g.frames:
            dst = "query/" + src.split("/", 1)[1]
            ctx.copy(src, dst)
            rels.append(dst)
        query.append(Record("query/" + g.id.split("/", 1)[1], g.pid, g.camid, "query", rels,
                            g.kind, g.identity, dict(g.nuisances, copy_of=g.id)))
    for r in train + query + gallery:
        ctx.add(r)
    split = {"name": "official", "train": [r.id for r in train], "query": [r.id for r in query],
             "gallery": [r.id for r in gallery]}
    return ctx, [split]
