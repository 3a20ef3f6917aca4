"""Turn a split's distances into scores under a protocol: metrics, CIs, per-query arrays.

:func:`score_split` scores a whole ``(Q, G)`` matrix; :func:`score_split_streamed` scores the same
problem from the features without ever holding the matrix (the engine uses it when the matrix
would exceed its memory budget, :data:`DEFAULT_MAX_MATRIX_MB`). Both give identical results: the
metrics come from the same core (``rank_metrics`` over the whole matrix, or
``rank_metrics_from_features`` over blocks of queries), and the top-k gallery items are picked
from the same float64 distances, block by block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reidbench.engine.evalset import EvalSet
from reidbench.engine.results import SplitScores
from reidbench.protocols import Evaluation

__all__ = ["score_split", "score_split_streamed", "matrix_bytes", "DEFAULT_MAX_MATRIX_MB"]

#: Largest query x gallery float64 distance matrix the engine builds whole, in MiB (2**20 bytes);
#: past it, distances and metrics are streamed in blocks of queries (MARS: 171 MiB).
DEFAULT_MAX_MATRIX_MB = 1024
# Distances per block when the top-k gallery items are picked from streamed distances (128 MiB).
_TOPK_BLOCK_ELEMS = 1 << 24


def matrix_bytes(n_queries: int, n_gallery: int) -> int:
    """Bytes of the ``(Q, G)`` float64 distance matrix."""
    return 8 * int(n_queries) * int(n_gallery)


def score_split(distmat: np.ndarray, evalset: EvalSet, ev: Evaluation, *, bootstrap: int = 1000,
                seed: int = 0, topk: int = 20) -> SplitScores:
    """Score one split: headline metrics with bootstrap CIs, every AP variant, per-query arrays.

    Args:
        distmat: ``(Q, G)`` distances (lower = more similar).
        evalset: The split's query and gallery items (labels and ids).
        ev: The protocol's evaluation part (its ``metric_options``: AP variant, policies, junk
            rules, ``max_rank``, and the ``cmc_ranks`` the summary reports).
        bootstrap: Bootstrap resamples for the CIs (0 disables them).
        seed: Seed of the bootstrap.
        topk: Gallery indices kept per query for retrieval galleries.
    """
    from reidbench.metrics import rank_metrics

    qp, qc = evalset.labels("query")
    gp, gc = evalset.labels("gallery")
    headline = rank_metrics(distmat, qp, gp, qc, gc, options=ev.metric_options)
    rows = max(1, _TOPK_BLOCK_ELEMS // max(distmat.shape[1], 1))
    top, top_d = _join([_topk(distmat[b:b + rows], topk)
                        for b in range(0, distmat.shape[0], rows)], topk, distmat.shape[1])
    return _scores(headline, top, top_d, evalset, bootstrap, seed, distmat.shape)


def score_split_streamed(query_feats: np.ndarray, gallery_feats: np.ndarray, evalset: EvalSet,
                         ev: Evaluation, *, distance: str, bootstrap: int = 1000, seed: int = 0,
                         topk: int = 20, block_rows: int | None = None) -> SplitScores:
    """:func:`score_split` of ``compute_distance(query_feats, gallery_feats)``, never built whole.

    The metrics stream through ``rank_metrics_from_features``; the top-k gallery items are picked
    from the distances of ``block_rows`` queries at a time (default: about 128 MiB of float64),
    which are computed a second time for that (one matrix product per block: cheap next to
    ranking). The result is identical to :func:`score_split` on the whole matrix.

    Args:
        query_feats: ``(Q, D)`` query features (after any normalisation).
        gallery_feats: ``(G, D)`` gallery features.
        evalset: The split's query and gallery items.
        ev: The protocol's evaluation part.
        distance: ``euclidean``, ``sqeuclidean`` or ``cosine``.
        bootstrap: Bootstrap resamples for the CIs (0 disables them).
        seed: Seed of the bootstrap.
        topk: Gallery indices kept per query.
        block_rows: Queries per block of top-k distances (tests force small blocks).
    """
    from reidbench.metrics import compute_distance, rank_metrics_from_features

    qp, qc = evalset.labels("query")
    gp, gc = evalset.labels("gallery")
    headline = rank_metrics_from_features(query_feats, gallery_feats, qp, gp, qc, gc,
                                          distance=distance, options=ev.metric_options)
    n_q, n_g = query_feats.shape[0], gallery_feats.shape[0]
    rows = block_rows or max(1, _TOPK_BLOCK_ELEMS // max(n_g, 1))
    top, top_d = _join([_topk(compute_distance(query_feats[b:e], gallery_feats,
                                               metric=distance), topk)
                        for b, e in _blocks(n_q, rows)], topk, n_g)
    return _scores(headline, top, top_d, evalset, bootstrap, seed, (n_q, n_g))


def _blocks(n: int, rows: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of consecutive blocks of ``rows``, none of one row unless ``n == 1``.

    BLAS computes a lone row as a matrix-vector product, which can round differently from the same
    row inside a matrix product: a one-row block would break the equality with the whole matrix.
    """
    rows = max(rows, 2)
    starts = list(range(0, n, rows))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return list(zip(starts, [*starts[1:], n], strict=True))


def _topk(distmat: np.ndarray, topk: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``topk`` nearest columns (stable among ties) and their distances."""
    k = min(topk, distmat.shape[1])
    part = np.argpartition(distmat, k - 1, axis=1)[:, :k] if k < distmat.shape[1] else \
        np.tile(np.arange(distmat.shape[1]), (distmat.shape[0], 1))
    order = np.argsort(np.take_along_axis(distmat, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return top, np.take_along_axis(distmat, top, axis=1)


def _join(parts: list[tuple[np.ndarray, np.ndarray]], topk: int, n_gallery: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Stack the top-k blocks of consecutive query blocks."""
    k = min(topk, n_gallery)
    if not parts:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float64)
    return np.concatenate([t for t, _ in parts]), np.concatenate([d for _, d in parts])


def _scores(headline: Any, top: np.ndarray, top_d: np.ndarray, evalset: EvalSet, bootstrap: int,
            seed: int, shape: tuple[int, int]) -> SplitScores:
    """Assemble a split's scores from its ranking metrics and top-k gallery items."""
    qp, qc = evalset.labels("query")
    gp, gc = evalset.labels("gallery")
    summary = headline.summary_values()  # the protocol's cmc_ranks
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

        for key, interval in bootstrap_rank_metrics(headline, ranks=headline.cmc_ranks,
                                                    n_boot=bootstrap, seed=seed).items():
            if key in metrics:
                metrics[key]["ci"] = [float(interval.low), float(interval.high)]
    per_query.update(
        ap=np.asarray(headline.ap, dtype=np.float64),
        inp=np.asarray(headline.inp, dtype=np.float64),
        first_rank=np.asarray(headline.first_rank, dtype=np.int64),
        n_positives=np.asarray(headline.n_positives, dtype=np.int64),
        counted=counted,
        topk_index=top,
        topk_distance=top_d,
        query_ids=np.array([i.id for i in evalset.query]),
        gallery_ids=np.array([i.id for i in evalset.gallery]),
        query_pids=qp, query_camids=qc, gallery_pids=gp, gallery_camids=gc,
    )
    counts = {"n_queries": int(shape[0]), "n_gallery": int(shape[1]),
              "n_skipped": int(headline.n_skipped)}
    return SplitScores(evalset.split, metrics, by_variant, counts, per_query,
                       [float(x) for x in np.asarray(headline.cmc)])
