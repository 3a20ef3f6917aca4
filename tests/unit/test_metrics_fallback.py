"""Without an importable numba the core falls back to the numpy counting, with the same numbers."""

import numpy as np
import pytest

from reidbench.metrics import _kernel, _ranks, rank_metrics


def _problem():
    rng = np.random.default_rng(0)
    d = np.round(rng.random((12, 90)), 2)  # ties included
    return d, rng.integers(1, 6, 12), rng.integers(-1, 6, 90), rng.integers(1, 3, 12), \
        rng.integers(1, 3, 90)


def test_the_numpy_fallback_is_used_when_numba_cannot_be_imported(monkeypatch):
    args = _problem()
    with _ranks.forced_counting("numpy"):
        fallback = rank_metrics(*args)
    monkeypatch.setattr(_kernel, "_importable", False)
    calls = []
    real = _ranks.count_negatives
    monkeypatch.setattr(_ranks, "count_negatives", lambda *a: calls.append(1) or real(*a))
    auto = rank_metrics(*args)
    assert calls  # the fallback ran
    assert np.array_equal(auto.ap, fallback.ap, equal_nan=True)
    assert np.array_equal(auto.first_rank, fallback.first_rank)
    with pytest.raises(ValueError, match="numba cannot be imported"):
        with _ranks.forced_counting("compiled"):
            pass


def test_counting_is_not_a_public_option():
    with pytest.raises(TypeError):
        rank_metrics(*_problem(), path="numpy")
