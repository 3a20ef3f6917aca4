"""Hand-computed cases, written as fractions: docs/metrics.md (worked example) and variations."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics import rank_metrics

# Query pid 7, camera 1; gallery sorted by distance 0.1 .. 0.8 (docs/metrics.md, worked example).
D = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]])
GP = np.array([7, 3, 7, -1, 0, 7, 5, 7])
GC = np.array([1, 2, 2, 3, 4, 3, 2, 5])
QP, QC = np.array([7]), np.array([1])


def approx(x: F) -> object:
    return pytest.approx(float(x), abs=1e-15)


def test_with_the_minus_one_rule(counting):
    r = rank_metrics(D, QP, GP, QC, GC)  # junk-free: N P N P N P, r = (2, 4, 6)
    m = r.map_by_variant
    assert m["noninterp"] == approx((F(1, 2) + F(2, 4) + F(3, 6)) / 3)  # 0.500000
    trap = (F(1, 2) * (F(1, 2) + 0) + F(1, 2) * (F(2, 4) + F(1, 3))
            + F(1, 2) * (F(3, 6) + F(2, 5))) / 3
    assert m["trapezoid"] == approx(trap)  # 0.372222
    assert abs(float(trap) - 0.372222) < 5e-7
    assert m["sklearn_step"] == approx(F(1, 2))
    assert m["sklearn_legacy"] == approx(trap)
    assert r.inp[0] == approx(F(3, 6))
    assert r.first_rank[0] == 2
    assert r.rank1 == 0.0 and r.rank5 == 1.0
    assert list(r.cmc[:3]) == [0.0, 1.0, 1.0]
    assert r.n_positives[0] == 3


def test_without_the_minus_one_rule(counting):
    r = rank_metrics(D, QP, GP, QC, GC, junk_pids=())  # r = (2, 5, 7)
    m = r.map_by_variant
    assert m["noninterp"] == approx((F(1, 2) + F(2, 5) + F(3, 7)) / 3)  # 0.442857
    trap = ((F(1, 2) + 0) + (F(2, 5) + F(1, 4)) + (F(3, 7) + F(2, 6))) / 6
    assert m["trapezoid"] == approx(trap)  # 0.318651
    assert abs(float(trap) - 0.318651) < 5e-7
    assert r.inp[0] == approx(F(3, 7))


TIED = D.copy()
TIED[0, 2] = 0.2  # the first positive ties with the negative at rank 2


@pytest.mark.parametrize("ties,noninterp,trapezoid,rank1", [
    ("stable", F(1, 2), (F(1, 2) + (F(2, 4) + F(1, 3)) + (F(3, 6) + F(2, 5))) / 6, 0.0),
    ("pessimistic", F(1, 2), (F(1, 2) + (F(2, 4) + F(1, 3)) + (F(3, 6) + F(2, 5))) / 6, 0.0),
    ("optimistic", (1 + F(2, 4) + F(3, 6)) / 3, ((1 + 1) + (F(2, 4) + F(1, 3))
                                                  + (F(3, 6) + F(2, 5))) / 6, 1.0),
])
def test_tie_table(counting, ties, noninterp, trapezoid, rank1):
    r = rank_metrics(TIED, QP, GP, QC, GC, ties=ties)
    m = r.map_by_variant
    assert m["noninterp"] == approx(noninterp)  # 0.500000 / 0.666667
    assert m["trapezoid"] == approx(trapezoid)  # 0.372222 / 0.622222
    # the sklearn variants group the tie: the same under every tie policy
    assert m["sklearn_step"] == approx(F(1, 2))
    legacy = (F(1, 3) * (1 + F(1, 2)) / 2 + F(1, 3) * (F(2, 4) + F(1, 3)) / 2
              + F(1, 3) * (F(3, 6) + F(2, 5)) / 2)
    assert m["sklearn_legacy"] == approx(legacy)
    assert abs(float(legacy) - 0.538889) < 5e-7
    assert r.rank1 == rank1
    assert r.tied_pairs == 1


def test_tie_table_rounded_values_from_the_spec():
    got = {t: rank_metrics(TIED, QP, GP, QC, GC, ties=t).map_by_variant
           for t in ("stable", "optimistic")}
    assert round(got["optimistic"]["noninterp"], 6) == 0.666667
    assert round(got["optimistic"]["trapezoid"], 6) == 0.622222
    assert round(got["stable"]["trapezoid"], 6) == 0.372222
    assert round(got["stable"]["sklearn_legacy"], 6) == 0.538889


def test_five_negatives_then_two_tied_positives():
    # docs/metrics.md, AP variants: noninterp (1/6 + 2/7)/2 under any order, sklearn_step 2/7,
    # sklearn_legacy 0.143, trapezoid 0.155
    d = np.array([[1, 2, 3, 4, 5, 6, 6]], dtype=float)
    gp = np.array([1, 2, 3, 4, 5, 9, 9])
    gc = np.array([2] * 7)
    r = rank_metrics(d, [9], gp, [1], gc, ties="pessimistic")
    m = r.map_by_variant
    assert m["noninterp"] == approx((F(1, 6) + F(2, 7)) / 2)
    assert m["sklearn_step"] == approx(F(2, 7))
    assert round(m["sklearn_legacy"], 3) == 0.143
    assert round(m["trapezoid"], 3) == 0.155
    assert r.inp[0] == approx(F(2, 7))


def test_single_positive_trapezoid_is_half_of_rank1_plus_mrr():
    d = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.3, 0.1, 0.4, 0.2]])
    gp = np.array([1, 2, 3, 4])
    gc = np.array([2, 2, 2, 2])
    r = rank_metrics(d, [1, 1, 2], gp, [1, 1, 1], gc)
    ranks = np.array([1, 4, 1])
    assert np.array_equal(r.first_rank, ranks)
    assert r.map_by_variant["noninterp"] == pytest.approx(np.mean(1 / ranks))
    assert r.map_by_variant["trapezoid"] == pytest.approx((r.rank1 + np.mean(1 / ranks)) / 2)


def test_allshots_cmc_differs_from_first_match():
    # junk-free list: P N P N -> negatives above the positives: 0 and 1
    d = np.array([[0.1, 0.2, 0.3, 0.4]])
    gp = np.array([5, 1, 5, 2])
    gc = np.array([2, 2, 3, 2])
    first = rank_metrics(d, [5], gp, [1], gc, max_rank=3)
    shots = rank_metrics(d, [5], gp, [1], gc, max_rank=3, cmc="allshots")
    assert list(first.cmc) == [1.0, 1.0, 1.0]
    assert list(shots.cmc) == [0.5, 1.0, 1.0]
    # the per-query shares follow the CMC mode (bootstrap intervals resample them)
    assert list(first.rank_per_query(1)) == [1.0]
    assert list(shots.rank_per_query(1)) == [0.5] and list(shots.rank_per_query(2)) == [1.0]
    assert shots.allshots_hits.tolist() == [[1, 2, 2]] and first.allshots_hits is None


def test_rank_per_query_counts_queries_without_positive_as_zero_and_skipped_as_nan():
    # query 0: junk-free list N P P (negatives above: 1, 1); query 1: no positive
    d = np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])
    gp, gc = np.array([2, 5, 5]), np.array([1, 2, 3])
    for policy, second in (("skip", np.nan), ("zero", 0.0)):
        r = rank_metrics(d, [5, 9], gp, [1, 1], gc, max_rank=3, cmc="allshots", no_positive=policy)
        np.testing.assert_array_equal(r.rank_per_query(1), [0.0, second])
        np.testing.assert_array_equal(r.rank_per_query(2), [1.0, second])
        assert np.nanmean(r.rank_per_query(2)) == r.cmc[1]
    with pytest.raises(InputError, match="k in RankMetrics.rank_per_query.*max_rank \\(3\\)"):
        r.rank_per_query(4)


def test_ap_is_one_when_positives_precede_negatives():
    rng = np.random.default_rng(0)
    gp = rng.integers(1, 6, 40)
    gc = rng.integers(1, 4, 40)
    qp, qc = np.array([1, 2, 3]), np.array([1, 2, 3])
    pos = (qp[:, None] == gp[None, :]) & (qc[:, None] != gc[None, :])
    d = np.where(pos, rng.random((3, 40)), 1 + rng.random((3, 40)))
    r = rank_metrics(d, qp, gp, qc, gc)
    for v in r.ap_by_variant.values():
        assert np.allclose(v[r.valid], 1.0)
    assert np.allclose(r.inp[r.valid], 1.0)
