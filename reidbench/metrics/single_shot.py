"""Single-gallery-shot CMC (CUHK03 style): one random gallery item per identity, seeded repeats.

For each repeat and each query, every gallery identity keeps one of its valid items (junk removed:
same pid and camera, and ``junk_pids``) drawn uniformly at random; the first-match rank is then
taken in that reduced gallery (ties: stable, by gallery index) and the CMC is averaged over the
queries that have a positive, then over the repeats. The draws come from
``numpy.random.default_rng(seed)``, so results are reproducible here but not equal to torchreid's or
fast-reid's (which use the global numpy RNG). Not used by the video protocols.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reidbench.metrics import _validate as V

__all__ = ["single_gallery_shot_cmc"]

_BLOCK_ELEMS = 1 << 20


def single_gallery_shot_cmc(
    distmat: Any,
    query_pids: Any,
    gallery_pids: Any,
    query_camids: Any,
    gallery_camids: Any,
    *,
    repeats: int = 10,
    seed: int = 0,
    max_rank: int = 50,
    junk_pids: Any = (-1,),
) -> np.ndarray:
    """CMC with one randomly drawn gallery item per identity, averaged over ``repeats`` draws.

    Args:
        distmat: ``(Q, G)`` distances, lower = more similar.
        query_pids: ``(Q,)`` query identities.
        gallery_pids: ``(G,)`` gallery identities.
        query_camids: ``(Q,)`` query cameras.
        gallery_camids: ``(G,)`` gallery cameras.
        repeats: Number of random draws.
        seed: Seed of ``numpy.random.default_rng``.
        max_rank: Length of the curve.
        junk_pids: Gallery pids that are junk for every query.

    Returns:
        ``(max_rank,)`` float64 CMC (NaN everywhere if no query has a positive).

    Raises:
        InputError: On bad arrays or arguments.
    """
    where = "single_gallery_shot_cmc"
    d = V.check_distmat(distmat, where)
    n_q, n_g = d.shape
    qp = V.check_labels(query_pids, "query_pids", n_q, where, "distmat rows")
    gp = V.check_labels(gallery_pids, "gallery_pids", n_g, where, "distmat columns")
    qc = V.check_labels(query_camids, "query_camids", n_q, where, "distmat rows")
    gc = V.check_labels(gallery_camids, "gallery_camids", n_g, where, "distmat columns")
    repeats = V.check_positive_int(repeats, "repeats", where)
    max_rank = V.check_positive_int(max_rank, "max_rank", where)
    junk = np.isin(gp, np.asarray(V.check_junk_pids(junk_pids, where), dtype=np.int64))
    order = np.argsort(gp, kind="stable")
    _, starts = np.unique(gp[order], return_index=True)
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_ELEMS // n_g)
    hits = np.zeros(max_rank + 2)
    n_valid = 0
    cols = np.arange(n_g)
    for _ in range(repeats):
        for s in range(0, n_q, block):
            dq = d[s:s + block]
            qpb, qcb = qp[s:s + block, None], qc[s:s + block, None]
            invalid = junk[None, :] | ((gp[None, :] == qpb) & (gc[None, :] == qcb))
            u = rng.random(dq.shape)
            u[invalid] = -1.0
            us = u[:, order]
            best = np.maximum.reduceat(us, starts, axis=1)
            sizes = np.diff(np.append(starts, n_g))
            chosen_sorted = (us == np.repeat(best, sizes, axis=1)) & (us >= 0)
            chosen = np.empty_like(chosen_sorted)
            chosen[:, order] = chosen_sorted
            pos = chosen & (gp[None, :] == qpb)
            has = pos.any(axis=1)
            pcol = np.argmax(pos, axis=1)
            pval = dq[np.arange(dq.shape[0]), pcol]
            neg = chosen & ~pos
            before = neg & ((dq < pval[:, None]) | ((dq == pval[:, None]) &
                                                    (cols[None, :] < pcol[:, None])))
            rank = np.count_nonzero(before, axis=1) + 1
            hits += np.bincount(np.minimum(rank[has], max_rank + 1), minlength=max_rank + 2)
            n_valid += int(has.sum())
    if n_valid == 0:
        return np.full(max_rank, np.nan)
    return np.cumsum(hits[1:max_rank + 1]) / n_valid
