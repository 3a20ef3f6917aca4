"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["compiled", "numpy"])
def counting(request):
    """Run the test once with the compiled kernel and once with the numpy fallback.

    The compiled run is skipped only where numba cannot be imported (a supported installation:
    the fallback is then what every evaluation uses, and its run still happens).
    """
    from reidbench.metrics import _kernel, _ranks

    if request.param == "compiled" and not _kernel.available():
        pytest.skip("numba cannot be imported here: only the numpy fallback runs")
    with _ranks.forced_counting(request.param):
        yield request.param
