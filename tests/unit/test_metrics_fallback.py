"""Without an importable numba the core falls back to the numpy plan, with the same numbers."""

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics import _kernel, rank_metrics


def _problem():
    rng = np.random.default_rng(0)
    d = np.round(rng.random((12, 90)), 2)  # ties included
    return d, rng.integers(1, 6, 12), rng.integers(-1, 6, 90), rng.integers(1, 3, 12), \
        rng.integers(1, 3, 90)


def test_auto_uses_the_numpy_plan_when_numba_cannot_be_imported(monkeypatch):
    args = _problem()
    numpy_plan = rank_metrics(*args, path="numpy")
    monkeypatch.setattr(_kernel, "_importable", False)
    auto = rank_metrics(*args)
    assert np.array_equal(auto.ap, numpy_plan.ap, equal_nan=True)
    assert np.array_equal(auto.first_rank, numpy_plan.first_rank)
    with pytest.raises(InputError, match="path in rank_metrics.*numba cannot be imported"):
        rank_metrics(*args, path="compiled")
