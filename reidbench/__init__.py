"""reidbench: the benchmark and leaderboard suite for video-based person re-identification.

The main entry points are imported lazily (PEP 562) so ``import reidbench`` stays cheap; they are
listed by ``dir(reidbench)`` and ``reidbench.__all__`` all the same:

    >>> import reidbench
    >>> result = reidbench.evaluate("mars/v2v@1", "data/MARS",
    ...                             reidbench.FeaturesSource("feats.npz"))  # doctest: +SKIP

**Units.** The library returns metrics as *fractions* in [0, 1] (``result.value("mAP")``,
``RankMetrics.map``, ``results.json``); the CLI, leaderboards and figures print *percent*
(``100 * value``), as papers do. ``result.value("mAP") == 0.7961`` is printed ``79.61``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "evaluate": "reidbench.engine",
    "FeaturesSource": "reidbench.engine",
    "AdapterSource": "reidbench.engine",
    "read_result": "reidbench.records",
    "get_protocol": "reidbench.protocols",
    "rank_metrics": "reidbench.metrics",
    "rank_metrics_from_features": "reidbench.metrics",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reidbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (the lazily imported entry points included) and the module's dunders.

    Subpackages already imported are listed too; helpers of this file (``Any``,
    ``annotations``, ``_LAZY``) are left out, so ``dir`` shows a newcomer what there is to use.
    """
    here = globals()
    subpackages = {n for n, v in here.items() if getattr(v, "__name__", "") == f"{__name__}.{n}"}
    return sorted({n for n in here if n.startswith("__")} | set(__all__) | subpackages)
