"""Ranking chunks on several threads gives exactly the single-threaded result."""

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics import rank_metrics, rank_metrics_from_features
from reidbench.metrics.rank import default_threads


@pytest.mark.parametrize("seed", range(3))
def test_threads_do_not_change_results(seed):
    rng = np.random.default_rng(seed)
    nq, ng = 57, 300
    qp, gp = rng.integers(0, 15, nq), rng.integers(-1, 15, ng)
    qc, gc = rng.integers(0, 4, nq), rng.integers(0, 4, ng)
    d = np.round(rng.random((nq, ng)), 2)  # ties included
    fortran = np.asfortranarray(d[:, ::-1])[:, ::-1]  # non C-ordered input (copy path)
    for dist in (d, fortran):
        one = rank_metrics(dist, qp, gp, qc, gc, chunk_size=5, threads=1, cmc="allshots")
        many = rank_metrics(dist, qp, gp, qc, gc, chunk_size=5, threads=3, cmc="allshots")
        for name, arr in one.ap_by_variant.items():
            np.testing.assert_array_equal(arr, many.ap_by_variant[name])
        np.testing.assert_array_equal(one.cmc, many.cmc)
        np.testing.assert_array_equal(one.first_rank, many.first_rank)
        assert one.tied_pairs == many.tied_pairs
    f_q, f_g = rng.normal(size=(nq, 8)), rng.normal(size=(ng, 8))
    a = rank_metrics_from_features(f_q, f_g, qp, gp, qc, gc, chunk_size=7, threads=1)
    b = rank_metrics_from_features(f_q, f_g, qp, gp, qc, gc, chunk_size=7, threads=2)
    np.testing.assert_array_equal(a.ap, b.ap)


def test_threads_argument_and_environment(monkeypatch):
    monkeypatch.setenv("REIDBENCH_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("REIDBENCH_THREADS")
    assert 1 <= default_threads() <= 8
    with pytest.raises(InputError, match="threads"):
        rank_metrics(np.zeros((1, 2)), [1], [1, 2], [0], [1, 1], threads=0)
