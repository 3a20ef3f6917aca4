"""Turn a split's distance matrix into scores under a protocol: metrics, CIs, per-query arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from reidbench.engine.evalset import EvalSet
from reidbench.engine.results import SplitScores
from reidbench.protocols import Evaluation

__all__ = ["score_split"]


def _summary(rm: Any) -> dict[str, float]:
    return {"mAP": float(rm.map), "rank1": float(rm.rank1), "rank5": float(rm.rank5),
            "rank10": float(rm.rank10), "rank20": float(rm.rank20), "mINP": float(rm.minp)}


def score_split(distmat: np.ndarray, evalset: EvalSet, ev: Evaluation, *, bootstrap: int = 1000,
                seed: int = 0, topk: int = 20) -> SplitScores:
    """Score one split: headline metrics with bootstrap CIs, every AP variant, per-query arrays.

    Args:
        distmat: ``(Q, G)`` distances (lower = more similar).
        evalset: The split's query and gallery items (labels and ids).
        ev: The protocol's evaluation part (AP variant, policies, junk rules, ranks).
        bootstrap: Bootstrap resamples for the CIs (0 disables them).
        seed: Seed of the bootstrap.
        topk: Gallery indices kept per query for retrieval galleries.
    """
    from reidbench.metrics import rank_metrics

    qp, qc = evalset.labels("query")
    gp, gc = evalset.labels("gallery")
    options = dict(ties=ev.ties, no_positive=ev.no_positive, max_rank=ev.max_rank,
                   junk_pids=ev.junk_pids, same_camera=ev.same_camera)
    headline = rank_metrics(distmat, qp, gp, qc, gc, ap=ev.ap, **options)
    summary = _summary(headline)
    # Every AP variant comes from the same pass; ranks and mINP do not depend on the AP variant.
    by_variant = {var: {**summary, "mAP": float(m)}
                  for var, m in headline.map_by_variant.items()}
    per_query: dict[str, np.ndarray] = {f"ap_{var}": np.asarray(ap, dtype=np.float64)
                                        for var, ap in headline.ap_by_variant.items()}
    counted = np.asarray(headline.counted, dtype=bool)
    metrics: dict[str, dict[str, Any]] = {k: {"value": v, "ci": None}
                                          for k, v in summary.items()}
    if bootstrap and counted.any():
        from reidbench.metrics.stats import bootstrap_rank_metrics

        for key, interval in bootstrap_rank_metrics(headline, n_boot=bootstrap, seed=seed).items():
            if key in metrics:
                metrics[key]["ci"] = [float(interval.low), float(interval.high)]
    k = min(topk, distmat.shape[1])
    part = np.argpartition(distmat, k - 1, axis=1)[:, :k] if k < distmat.shape[1] else \
        np.tile(np.arange(distmat.shape[1]), (distmat.shape[0], 1))
    order = np.argsort(np.take_along_axis(distmat, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    per_query.update(
        ap=np.asarray(headline.ap, dtype=np.float64),
        inp=np.asarray(headline.inp, dtype=np.float64),
        first_rank=np.asarray(headline.first_rank, dtype=np.int64),
        n_positives=np.asarray(headline.n_positives, dtype=np.int64),
        counted=counted,
        topk_index=top.astype(np.int64),
        topk_distance=np.take_along_axis(distmat, top, axis=1),
        query_ids=np.array([i.id for i in evalset.query]),
        gallery_ids=np.array([i.id for i in evalset.gallery]),
        query_pids=qp, query_camids=qc, gallery_pids=gp, gallery_camids=gc,
    )
    counts = {"n_queries": int(distmat.shape[0]), "n_gallery": int(distmat.shape[1]),
              "n_skipped": int(headline.n_skipped)}
    return SplitScores(evalset.split, metrics, by_variant, counts, per_query,
                       [float(x) for x in np.asarray(headline.cmc)])

