"""The peer metric implementations the speed benchmarks compare reidbench against.

``benchmarks/setup_peers.sh`` installs them into ``benchmarks/_peers/`` (gitignored). Their
package ``__init__`` imports torchvision (not installed here), so only the metric modules are
loaded, by file path. Every loader returns ``None`` when its peer is not installed or could not be
built, and the benchmarks skip that peer.

Peers (all "market1501" evaluation: positives = same pid, other camera; same-pid-same-camera items
removed; every other item, pid -1 included, an ordinary negative; queries without a positive
skipped; numpy's default argsort order among ties):

* ``fastreid_cy``: fast-reid 1.4.0 ``rank_cylib/rank_cy.pyx`` ``evaluate_cy`` (float32 in, float32
  accumulation), compiled by setup_peers.sh. Returns (CMC, AP of valid queries, INP of valid).
* ``torchreid_cy``: torchreid's Cython evaluator, only if the installed torchreid ships its .pyx
  (0.2.5 on PyPI does not).
* ``fastreid_py`` / ``torchreid_py``: their pure-Python ``eval_market1501``.
* ``sklearn_loop``: a plain loop over ``sklearn.metrics.average_precision_score`` (AP only).
"""

from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import json
import sys
import warnings
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

PEERS_DIR = Path(__file__).resolve().parent / "_peers"
SITE = PEERS_DIR / "site"
CY = PEERS_DIR / "cy"


def status() -> dict[str, Any]:
    """What setup_peers.sh installed and built (empty when it has not run)."""
    try:
        return json.loads((PEERS_DIR / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _load_source(name: str, path: Path) -> ModuleType | None:
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # The module's own Cython import (relative or through the package) must fail cleanly so that it
    # falls back to Python: block the package import paths it would try.
    blocked = {k: sys.modules.get(k) for k in ("torchreid", "fastreid")}
    for k in blocked:
        sys.modules[k] = None  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.loader.exec_module(module)
    finally:
        for k, v in blocked.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return module


def _load_extension(name: str) -> ModuleType | None:
    found = sorted(glob.glob(str(CY / f"{name}.*.so")) + glob.glob(str(CY / f"{name}.*.pyd")))
    if not found:
        return None
    loader = importlib.machinery.ExtensionFileLoader(name, found[0])
    spec = importlib.util.spec_from_file_location(name, found[0], loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@cache
def fastreid_cy() -> Any:
    """fast-reid's Cython ``evaluate_cy``, or None."""
    module = _load_extension("fastreid_rank_cy")
    return None if module is None else module.evaluate_cy


@cache
def torchreid_cy() -> Any:
    """torchreid's Cython ``evaluate_cy``, or None (torchreid 0.2.5 ships no .pyx)."""
    module = _load_extension("torchreid_rank_cy")
    return None if module is None else module.evaluate_cy


@cache
def fastreid_py() -> Any:
    """fast-reid's pure-Python ``eval_market1501``, or None."""
    module = _load_source("_peer_fastreid_rank", SITE / "fastreid/evaluation/rank.py")
    return None if module is None else module.eval_market1501


@cache
def torchreid_py() -> Any:
    """torchreid's pure-Python ``eval_market1501``, or None."""
    module = _load_source("_peer_torchreid_rank", SITE / "torchreid/reid/metrics/rank.py")
    return None if module is None else module.eval_market1501


def sklearn_loop(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray,
                 q_camids: np.ndarray, g_camids: np.ndarray) -> np.ndarray:
    """Per-query AP by a plain loop over scikit-learn's ``average_precision_score``.

    Same junk rule as the peers (same pid and same camera removed; nothing else). Queries without
    a positive get NaN. AP only, no CMC (AP timings only).

    Returns:
        ``(Q,)`` per-query AP (sklearn >= 0.19 definition: tied scores form one threshold).
    """
    from sklearn.metrics import average_precision_score

    out = np.full(distmat.shape[0], np.nan)
    for i in range(distmat.shape[0]):
        keep = (g_pids != q_pids[i]) | (g_camids != q_camids[i])
        y = g_pids[keep] == q_pids[i]
        if y.any():
            out[i] = average_precision_score(y, -distmat[i, keep])
    return out


def versions() -> dict[str, str]:
    """Versions of everything in the comparison (peers from status.json)."""
    import platform

    import numpy
    import scipy
    import sklearn

    import reidbench

    out = {"python": platform.python_version(), "numpy": numpy.__version__,
           "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
           "reidbench": getattr(reidbench, "__version__", "?")}
    try:  # reidbench's compiled kernel
        import numba

        out["numba"] = numba.__version__
    except ImportError:
        out["numba"] = "not installed"
    st = status()
    for key in ("fastreid", "torchreid", "cython"):
        if key in st:
            out[key] = st[key]
    return out
