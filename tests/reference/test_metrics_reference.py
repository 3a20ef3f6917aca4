"""rank_metrics == the slow reference on thousands of random small problems, and == scikit-learn.

The problems have heavy ties (few distance levels), junk (pid -1 and same camera), distractors
(pid 0), queries without positives, and every option; each is scored by the compiled kernel and by
the numpy fallback, with random chunk sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve
from slow_reference import VARIANTS, query_metrics, reference_metrics

from reidbench.metrics import rank_metrics, rank_metrics_from_features

TOL = 1e-12


def random_problem(rng: np.random.Generator, levels: int | None = None):
    n_q = int(rng.integers(1, 7))
    n_g = int(rng.integers(1, 40))
    n_ids = int(rng.integers(1, 6))
    n_cams = int(rng.integers(1, 4))
    pid_pool = np.arange(-1, n_ids + 1)  # -1 junk, 0 distractor, 1..n_ids
    gp = rng.choice(pid_pool, n_g)
    gc = rng.integers(1, n_cams + 1, n_g)
    qp = rng.choice(pid_pool[1:] if rng.random() < 0.9 else pid_pool, n_q)
    qc = rng.integers(1, n_cams + 1, n_q)
    if levels is None:
        levels = int(rng.choice([2, 3, 5, 12, 400, 0]))
    if levels:
        d = rng.integers(0, levels, (n_q, n_g)).astype(np.float64) / levels
    else:
        d = rng.random((n_q, n_g))
    if rng.random() < 0.2:  # positives near: model-like rows: few candidates
        near = (qp[:, None] == gp[None, :]) & (qc[:, None] != gc[None, :])
        d = np.where(near, d * 0.3, d + 0.2)
    return d, qp, gp, qc, gc


def _same(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=TOL)


def check_against_reference(rng, args, ties, no_positive, cmc, junk, max_rank, chunk):
    ref = reference_metrics(*args, ties=ties, no_positive=no_positive, junk_pids=junk, cmc=cmc,
                            max_rank=max_rank)
    got = rank_metrics(*args, ties=ties, no_positive=no_positive, junk_pids=junk, cmc=cmc,
                       max_rank=max_rank, chunk_size=chunk)
    for v in VARIANTS:
        _same(got.ap_by_variant[v], ref["ap_by_variant"][v])
        _same(got.map_by_variant[v], ref["map_by_variant"][v])
    _same(got.ap, ref["ap"])
    _same(got.map, ref["map"])
    _same(got.inp, ref["inp"])
    _same(got.minp, ref["minp"])
    _same(got.cmc, ref["cmc"])
    for k in range(1, max_rank + 1):  # the per-query Rank-k follows the CMC mode
        _same(got.rank_per_query(k), ref["query_cmc"][:, k - 1])
    assert np.array_equal(got.first_rank, ref["first_rank"])
    assert np.array_equal(got.n_positives, ref["n_positives"])
    assert np.array_equal(got.counted, ref["counted"])
    assert got.n_skipped == ref["n_skipped"]


@pytest.mark.parametrize("ties", ["stable", "optimistic", "pessimistic"])
def test_equals_slow_reference_on_random_problems(ties, counting):
    rng = np.random.default_rng(["stable", "optimistic", "pessimistic"].index(ties) * 10
                                + ["compiled", "numpy"].index(counting))
    for _ in range(250):
        args = random_problem(rng)
        no_positive = str(rng.choice(["skip", "zero", "nan", "skip_raw"]))
        cmc = str(rng.choice(["first_match", "allshots"]))
        junk = (-1,) if rng.random() < 0.7 else ()
        max_rank = int(rng.integers(1, 12))
        chunk = int(rng.integers(1, args[0].shape[0] + 1)) if rng.random() < 0.5 else None
        check_against_reference(rng, args, ties, no_positive, cmc, junk, max_rank, chunk)


def _three_kinds_of_rows(seed=7, n_g=1500):
    """Rows 0-7: positives nearest; rows 8-15: one far positive; rows 16-23: positives anywhere."""
    rng = np.random.default_rng(seed)
    gp = rng.integers(0, 60, n_g)
    gc = rng.integers(1, 4, n_g)
    qp = gp[:24].copy()
    qc = gc[:24] % 3 + 1
    d = rng.integers(0, 400, (24, n_g)).astype(np.float64) / 400  # ties too
    pos = (qp[:, None] == gp[None, :]) & (qc[:, None] != gc[None, :])
    near = pos.copy()
    near[16:] = False
    d[near] = rng.integers(0, 5, near.sum()) / 400 - 0.1
    for r in range(8, 16):  # move one positive to the far end
        d[r, np.flatnonzero(pos[r])[-1]] = 0.99
    return d, qp, gp, qc, gc


def test_model_like_outlier_and_spread_rows_equal_the_reference(counting):
    rng = np.random.default_rng(0)
    for ties in ("stable", "optimistic", "pessimistic"):
        check_against_reference(rng, _three_kinds_of_rows(), ties, "skip", "allshots", (-1,), 20,
                                5)


def test_float32_distances_are_ranked_as_given():
    rng = np.random.default_rng(3)
    for _ in range(50):
        d, qp, gp, qc, gc = random_problem(rng, levels=0)
        d32 = d.astype(np.float32)
        ref = reference_metrics(d32.astype(np.float64), qp, gp, qc, gc)
        got = rank_metrics(d32, qp, gp, qc, gc)
        _same(got.ap, ref["ap"])
        _same(got.cmc, ref["cmc"])


def _junk_free(d, qp, qc, gp, gc):
    keep = ~((gp == qp) & (gc == qc)) & (gp != -1)
    return d[keep], (gp[keep] == qp).astype(int)


def test_sklearn_step_is_average_precision_score_and_noninterp_without_ties():
    rng = np.random.default_rng(11)
    checked = {"ties": 0, "no_ties": 0}
    for _ in range(200):
        levels = int(rng.choice([3, 12, 0]))
        d, qp, gp, qc, gc = random_problem(rng, levels=levels)
        res = rank_metrics(d, qp, gp, qc, gc)
        for q in range(len(qp)):
            dist, y = _junk_free(d[q], qp[q], qc[q], gp, gc)
            if y.sum() == 0:
                continue
            want = average_precision_score(y, -dist)
            assert abs(res.ap_by_variant["sklearn_step"][q] - want) < TOL
            if len(np.unique(dist)) == len(dist):
                assert abs(res.ap_by_variant["noninterp"][q] - want) < TOL
                checked["no_ties"] += 1
            else:
                checked["ties"] += 1
    assert checked["ties"] > 50 and checked["no_ties"] > 50


def test_sklearn_legacy_is_trapezoidal_auc_of_the_pr_curve_from_0_1():
    rng = np.random.default_rng(12)
    n = 0
    for _ in range(200):
        d, qp, gp, qc, gc = random_problem(rng, levels=int(rng.choice([3, 12, 0])))
        res = rank_metrics(d, qp, gp, qc, gc)
        for q in range(len(qp)):
            dist, y = _junk_free(d[q], qp[q], qc[q], gp, gc)
            if y.sum() == 0:
                continue
            precision, recall, _ = precision_recall_curve(y, -dist)
            # current scikit-learn ends the curve at (recall 0, precision 1): the legacy start point
            assert recall[-1] == 0 and precision[-1] == 1
            assert abs(res.ap_by_variant["sklearn_legacy"][q] - auc(recall, precision)) < TOL
            if len(np.unique(dist)) == len(dist):
                assert abs(res.ap_by_variant["trapezoid"][q]
                           - res.ap_by_variant["sklearn_legacy"][q]) < TOL
            n += 1
    assert n > 100


def test_streamed_from_features_equals_full_distmat():
    rng = np.random.default_rng(5)
    qf = rng.normal(size=(23, 8))
    gf = rng.normal(size=(57, 8))
    qp, gp = rng.integers(0, 6, 23), rng.integers(-1, 6, 57)
    qc, gc = rng.integers(1, 4, 23), rng.integers(1, 4, 57)
    from reidbench.metrics import compute_distance

    for metric in ("euclidean", "sqeuclidean", "cosine"):
        full = rank_metrics(compute_distance(qf, gf, metric), qp, gp, qc, gc, ties="optimistic")
        for chunk in (1, 4, None):
            streamed = rank_metrics_from_features(qf, gf, qp, gp, qc, gc, distance=metric,
                                                  chunk_size=chunk, ties="optimistic")
            for v in VARIANTS:
                _same(streamed.ap_by_variant[v], full.ap_by_variant[v])
            _same(streamed.cmc, full.cmc)
            _same(streamed.inp, full.inp)


def test_query_metrics_reference_on_the_worked_example():
    # the oracle itself, checked once against the worked example of docs/metrics.md
    d = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    gp = [7, 3, 7, -1, 0, 7, 5, 7]
    gc = [1, 2, 2, 3, 4, 3, 2, 5]
    m = query_metrics(d, 7, 1, gp, gc)
    assert abs(m["ap"]["noninterp"] - 0.5) < TOL
    assert abs(m["ap"]["trapezoid"] - 67 / 180) < TOL
