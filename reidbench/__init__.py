"""reidbench: the benchmark and leaderboard suite for video-based person re-identification.

The main entry points are imported lazily (PEP 562) so ``import reidbench`` stays cheap:

    >>> import reidbench
    >>> result = reidbench.evaluate("mars/v2v@1", "data/MARS",
    ...                             reidbench.FeaturesSource("feats.npz"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "FeaturesSource", "AdapterSource", "get_protocol",
           "rank_metrics"]

_LAZY = {
    "evaluate": "reidbench.engine",
    "FeaturesSource": "reidbench.engine",
    "AdapterSource": "reidbench.engine",
    "read_result": "reidbench.engine",
    "get_protocol": "reidbench.protocols",
    "rank_metrics": "reidbench.metrics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reidbench' has no attribute {name!r}")
