"""Compare two results.

Incomparable results are refused (saying why); otherwise a paired test runs on per-query AP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reidbench.errors import DataError, IncomparableResultsError, describe
from reidbench.records import EvalResult, read_result
from reidbench.records.consistency import require_consistent

__all__ = ["compare_results", "why_incomparable"]


def why_incomparable(a: EvalResult, b: EvalResult) -> str | None:
    """Return why two results are not comparable (differing evaluation fields), or None."""
    if a.protocol_fingerprint == b.protocol_fingerprint:
        return None
    ea, eb = a.record.protocol.evaluation, b.record.protocol.evaluation
    diffs = [f"{k}: {ea.get(k)!r} vs {eb.get(k)!r}" for k in sorted(set(ea) | set(eb))
             if ea.get(k) != eb.get(k)]
    return (f"{a.record.protocol.id} vs {b.record.protocol.id} differ in "
            + "; ".join(diffs))


def _require_consistent(path: str | Path, res: EvalResult) -> None:
    """Refuse a record whose numbers disagree with its own per-query arrays (as validate does)."""
    from reidbench.fileio import sha256_file

    p = Path(path)
    folder = p.parent if p.name == "results.json" else p
    npz = folder / "per_query.npz"
    require_consistent(res.record, res.per_query,
                       per_query_sha256=sha256_file(npz) if npz.is_file() else None,
                       where=str(folder / "results.json"))


def _paired_ap(a: EvalResult, b: EvalResult, where: str) -> tuple[np.ndarray, np.ndarray]:
    aps_a, aps_b = [], []
    for split in a.record.split_names:
        pa, pb = a.split_arrays(split), b.split_arrays(split)
        if not pa or not pb:
            raise DataError(describe("per_query.npz", where, f"per-query arrays for split {split}",
                                     "none", "re-run the evaluation to write per_query.npz"))
        if not np.array_equal(pa["query_ids"], pb["query_ids"]):
            raise IncomparableResultsError(describe("query ids", where, "the same queries in "
                                                    "both results", "different query lists",
                                                    "evaluate both on the same dataset copy"))
        keep = pa["counted"] & pb["counted"]
        aps_a.append(pa["ap"][keep])
        aps_b.append(pb["ap"][keep])
    return np.concatenate(aps_a), np.concatenate(aps_b)


def compare_results(path_a: str | Path, path_b: str | Path, *, resamples: int = 10000,
                    seed: int = 0) -> dict[str, Any]:
    """Paired comparison of two result directories on per-query headline AP.

    Raises:
        DataError: A record that disagrees with its own ``per_query.npz`` (the check ``reidbench
            validate`` runs, :mod:`reidbench.records.consistency`).
        IncomparableResultsError: If the protocol fingerprints differ (the message lists the
            differing evaluation fields) or the query sets differ.
    """
    from reidbench.metrics.stats import paired_test

    a, b = read_result(path_a), read_result(path_b)
    for path, res in ((path_a, a), (path_b, b)):
        _require_consistent(path, res)
    where = f"{path_a} vs {path_b}"
    reason = why_incomparable(a, b)
    if reason:
        raise IncomparableResultsError(describe("protocols", where, "equal protocol fingerprints",
                                                reason, "evaluate both under the same protocol"))
    ap_a, ap_b = _paired_ap(a, b, where)
    test = paired_test(ap_b, ap_a, n_resamples=resamples, seed=seed)
    return {"protocol": a.record.protocol.id, "ap": a.record.headline_ap,
            "n_queries": int(ap_a.size), "map_a": float(ap_a.mean()), "map_b": float(ap_b.mean()),
            "diff": test.diff, "ci": [test.low, test.high], "p_value": test.p_value,
            "method": test.method, "n_resamples": test.n_resamples}
