"""Benchmark session set-up: results are always saved as JSON for ``benchmarks/report.py``.

Unless ``--benchmark-json`` or ``--benchmark-autosave`` is given, a run writes
``.benchmarks/latest.json`` (gitignored), which ``report.py`` reads by default.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# As `reidbench evaluate` runs (it sets this before torch starts): torch's idle OpenMP threads
# sleep instead of spinning against the decoding workers (PROFILE.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

DEFAULT_JSON = HERE.parent / ".benchmarks" / "latest.json"
# The peers' own files (their test_cython.py among them) are not ours to collect.
collect_ignore = ["_peers", "bigchild.py", "peers.py", "report.py"]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    opt = config.option
    if getattr(opt, "benchmark_json", None) is None and not getattr(opt, "benchmark_autosave",
                                                                     False):
        DEFAULT_JSON.parent.mkdir(parents=True, exist_ok=True)
        opt.benchmark_json = str(DEFAULT_JSON)
