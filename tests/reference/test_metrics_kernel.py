"""The compiled kernel and the numpy fallback on galleries wide enough for every kernel branch.

The random problems of test_metrics_reference.py have under 40 gallery items, so they never reach
the kernel's block scan (64 items per block) nor its switch between direct passes and binned
candidates at ``G / 64``. These problems do: 64 to 1,500 items (whole blocks and ragged tails),
model-like rows with outlier positives, many positives per query, heavy ties, junk pids that are
also query pids, and non-finite values that must be reported at their global position.
"""

from __future__ import annotations

import numpy as np
import pytest
from slow_reference import VARIANTS, reference_metrics

from reidbench.errors import InputError
from reidbench.metrics import _kernel, _ranks, rank_metrics


def wide_problem(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    n_q = int(rng.integers(1, 9))
    n_g = int(rng.choice([64, 128, int(rng.integers(65, 400)), int(rng.integers(400, 1500))]))
    n_ids = int(rng.integers(2, 12))
    gp = rng.choice(np.arange(-1, n_ids + 1), n_g)
    gc = rng.integers(1, 4, n_g)
    qp = rng.choice(np.arange(-1 if rng.random() < 0.2 else 1, n_ids + 1), n_q)
    qc = rng.integers(1, 4, n_q)
    levels = int(rng.choice([0, 3, 50, 1000]))
    d = rng.integers(0, levels, (n_q, n_g)) / levels if levels else rng.random((n_q, n_g))
    near = (qp[:, None] == gp[None, :]) & (qc[:, None] != gc[None, :])
    d = np.where(near, d * 0.2, d + 0.1)  # positives near ...
    outlier = near & (rng.random(d.shape) < 0.15)
    d = np.where(outlier, rng.uniform(0.1, 1.2, d.shape), d)  # ... but a few far (outliers)
    dtype = np.float32 if rng.random() < 0.3 else np.float64
    return d.astype(dtype), qp, gp, qc, gc


@pytest.mark.parametrize("ties", ["stable", "optimistic", "pessimistic"])
def test_counting_equals_slow_reference_on_wide_galleries(ties, counting):
    rng = np.random.default_rng(["stable", "optimistic", "pessimistic"].index(ties) + 100)
    for _ in range(60):
        args = wide_problem(rng)
        junk = (-1,) if rng.random() < 0.8 else ()
        ref = reference_metrics(*args, ties=ties, no_positive="skip", junk_pids=junk,
                                cmc="first_match", max_rank=20)
        got = rank_metrics(*args, ties=ties, junk_pids=junk, max_rank=20)
        for v in VARIANTS:
            np.testing.assert_allclose(got.ap_by_variant[v], ref["ap_by_variant"][v], rtol=0,
                                       atol=1e-12)
        np.testing.assert_allclose(got.cmc, ref["cmc"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.inp, ref["inp"], rtol=0, atol=1e-12)
        assert np.array_equal(got.first_rank, ref["first_rank"])


@pytest.mark.skipif(not _kernel.available(), reason="numba cannot be imported")
def test_compiled_and_numpy_fallback_agree_exactly():
    rng = np.random.default_rng(7)
    for _ in range(40):
        args = wide_problem(rng)
        with _ranks.forced_counting("compiled"):
            a = rank_metrics(*args, chunk_size=3)
        with _ranks.forced_counting("numpy"):
            b = rank_metrics(*args)
        assert np.array_equal(a.first_rank, b.first_rank)
        assert a.tied_pairs == b.tied_pairs
        for v in VARIANTS:
            assert np.array_equal(a.ap_by_variant[v], b.ap_by_variant[v], equal_nan=True)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_cell_is_reported_at_its_global_position(bad, counting):
    rng = np.random.default_rng(3)
    d = rng.random((50, 300))
    qp, gp = rng.integers(1, 5, 50), rng.integers(1, 5, 300)
    qc, gc = rng.integers(1, 3, 50), rng.integers(1, 3, 300)
    d[37, 211] = bad
    with pytest.raises(InputError, match=r"distmat in rank_metrics.*at \(37, 211\)"):
        rank_metrics(d, qp, gp, qc, gc, chunk_size=8)


def test_non_finite_in_a_row_without_positives_is_still_found(counting):
    d = np.random.default_rng(4).random((3, 200))
    qp, gp = np.array([1, 2, 9]), np.ones(200, dtype=int)  # queries 2 and 9 have no positives
    d[2, 5] = np.nan
    with pytest.raises(InputError, match=r"at \(2, 5\)"):
        rank_metrics(d, qp, gp, np.zeros(3, int), np.ones(200, int))


@pytest.mark.parametrize("dtype, huge", [(np.float64, 1e308), (np.float32, 3e38)])
def test_finite_rows_whose_sum_overflows_are_ranked_not_refused(counting, dtype, huge):
    rng = np.random.default_rng(5)
    args = list(wide_problem(rng))
    d = args[0].astype(dtype)
    d[:, ::7] = dtype(huge)  # every row's sum overflows to inf, yet every value is finite
    args[0] = d
    ref = reference_metrics(*args, max_rank=20)
    got = rank_metrics(*args, max_rank=20)
    np.testing.assert_allclose(got.ap, ref["ap"], rtol=0, atol=1e-12)
    assert np.array_equal(got.first_rank, ref["first_rank"])


@pytest.mark.skipif(not _kernel.available(), reason="numba cannot be imported")
def test_long_float32_rows_are_counted_exactly_in_float64(monkeypatch):
    # float32 0/1 sums are exact below 2**24 items; longer rows are upcast (shrunk here to 64)
    monkeypatch.setattr(_kernel, "_FLOAT32_EXACT", 64)
    rng = np.random.default_rng(6)
    for _ in range(10):
        args = wide_problem(rng)
        args = (args[0].astype(np.float32),) + args[1:]
        ref = reference_metrics(*args, max_rank=20)
        with _ranks.forced_counting("compiled"):
            got = rank_metrics(*args, max_rank=20)
        np.testing.assert_allclose(got.ap, ref["ap"], rtol=0, atol=1e-12)
