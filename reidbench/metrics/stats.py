"""Uncertainty for retrieval metrics: bootstrap intervals, paired tests, mean +- std over splits.

Every summary metric of a ranking evaluation is a mean of a per-query quantity (AP, the Rank-k
share ``RankMetrics.rank_per_query(k)``, INP) over the queries that count, so resampling the
per-query arrays is enough: no distance is recomputed and nothing is re-ranked. All functions are
pure numpy, vectorised (a ``B x Q`` matrix of resampled indices, processed in slices of rows so
that memory stays bounded) and seeded (``numpy.random.default_rng(seed)``): the same inputs and
seed give the same numbers.

* :func:`bootstrap_ci` / :func:`bootstrap_means`: percentile bootstrap interval of the mean of one
  or several per-query arrays, resampling queries (default) or whole groups (e.g. identities, whose
  queries are correlated).
* :func:`bootstrap_rank_metrics`: intervals for mAP, Rank-k and mINP of a ``RankMetrics`` result.
* :func:`paired_test`: difference between two systems scored on the same queries, with a paired
  bootstrap interval and a p-value from a paired sign-flip permutation test or a paired bootstrap.
* :func:`mean_std`: mean and **sample** standard deviation (``ddof=1`` by default) over splits, as
  papers report for the 10 iLIDS-VID / PRID-2011 splits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from reidbench.errors import InputError, describe
from reidbench.metrics.options import DEFAULT_CMC_RANKS, summary_names

__all__ = [
    "Interval",
    "PairedTestResult",
    "MeanStd",
    "bootstrap_ci",
    "bootstrap_means",
    "bootstrap_rank_metrics",
    "paired_test",
    "mean_std",
]

# Working-set bound for the resampled values of one slice of replicates (float64 entries).
_MAX_ENTRIES = 2_000_000


def _rows(n_units: int, n_metrics: int = 1) -> int:
    """Replicates per slice so that a slice holds at most about ``_MAX_ENTRIES`` values."""
    return max(1, min(1024, _MAX_ENTRIES // max(1, n_units * n_metrics)))


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap confidence interval.

    Attributes:
        estimate: The statistic on the original sample (the mean of the counted values).
        low: Lower end of the interval.
        high: Upper end of the interval.
        level: Confidence level, e.g. 0.95.
        std_err: Standard deviation of the bootstrap replicates (the bootstrap standard error).
        n: Number of resampled units (counted queries, or groups).
        n_boot: Number of bootstrap replicates.
    """

    estimate: float
    low: float
    high: float
    level: float
    std_err: float
    n: int
    n_boot: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a plain dict (JSON-ready)."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "level": self.level,
                "std_err": self.std_err, "n": self.n, "n_boot": self.n_boot}


@dataclass(frozen=True)
class PairedTestResult:
    """Outcome of :func:`paired_test` on per-query values ``a`` and ``b``.

    Attributes:
        diff: ``mean(a) - mean(b)`` over the queries counted by both.
        low: Lower end of the paired-bootstrap interval of ``diff``.
        high: Upper end of that interval.
        level: Confidence level of the interval.
        p_value: Two-sided p-value of "no difference" under ``method``.
        method: ``"permutation"`` (paired sign-flip) or ``"bootstrap"`` (paired bootstrap).
        n: Number of paired queries.
        n_resamples: Number of sign flips / bootstrap replicates.
    """

    diff: float
    low: float
    high: float
    level: float
    p_value: float
    method: str
    n: int
    n_resamples: int

    def as_dict(self) -> dict[str, float | int | str]:
        """The fields as a plain dict (JSON-ready)."""
        return {"diff": self.diff, "low": self.low, "high": self.high, "level": self.level,
                "p_value": self.p_value, "method": self.method, "n": self.n,
                "n_resamples": self.n_resamples}


@dataclass(frozen=True)
class MeanStd:
    """Mean and standard deviation over splits (or seeds).

    Attributes:
        mean: Mean over splits (an array when the input had more than one column).
        std: Standard deviation with ``ddof`` delta degrees of freedom; NaN when ``n <= ddof``.
        n: Number of splits.
        ddof: 1 for the sample standard deviation (the default), 0 for the population one.
    """

    mean: Any
    std: Any
    n: int
    ddof: int

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"78.3 ± 1.2"`` (values multiplied by ``scale``, e.g. percent); scalars only."""
        return f"{float(self.mean) * scale:.{digits}f} ± {float(self.std) * scale:.{digits}f}"


def _check_common(where: str, n_boot: int, level: float, seed: int | None) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise InputError(describe("n_boot", where, "an integer >= 1", repr(n_boot),
                                  "use e.g. 1000"))
    if not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        raise InputError(describe("level", where, "a confidence level in (0, 1)", repr(level),
                                  "use e.g. 0.95"))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise InputError(describe("seed", where, "an integer or None", repr(seed), ""))


def _as_1d(name: str, where: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(describe(name, where, "a 1-D array of numbers", type(values).__name__,
                                  "")) from exc
    if arr.ndim != 1:
        raise InputError(describe(name, where, "a 1-D array (one value per query)",
                                  f"shape {arr.shape}", ""))
    if np.isinf(arr).any():
        raise InputError(describe(name, where, "finite values (NaN marks a query not counted)",
                                  "inf", ""))
    return arr


def _percentiles(reps: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha], axis=0)
    return lo, hi


def bootstrap_means(
    values: Mapping[str, Any],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | None = 0,
    groups: Any = None,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals for the means of several per-query arrays, resampled jointly.

    All arrays are resampled with the same ``B x Q`` indices, so the intervals describe the same
    bootstrap world (as needed when, e.g., mAP and Rank-1 are reported side by side). NaN entries
    are queries that do not count (the ``skip`` policy); every array must mark the same queries.

    Args:
        values: Name -> per-query array of equal length ``Q`` (NaN where a query is not counted).
        n_boot: Number of bootstrap replicates ``B``.
        level: Confidence level of the two-sided percentile interval.
        seed: Seed of ``numpy.random.default_rng``; ``None`` draws fresh entropy.
        groups: Optional ``(Q,)`` labels (e.g. the query pids). When given, whole groups are
            resampled (a cluster bootstrap) and each replicate is the mean over the queries of the
            drawn groups, because queries of the same identity are not independent.

    Returns:
        Name -> :class:`Interval`.

    Raises:
        InputError: On empty input, arrays of different lengths or NaN patterns, bad options.
    """
    where = "bootstrap_means"
    _check_common(where, n_boot, level, seed)
    if not values:
        raise InputError(describe("values", where, "at least one per-query array", "none", ""))
    names = list(values)
    arrays = [_as_1d(f"values[{n!r}]", where, values[n]) for n in names]
    q = arrays[0].shape[0]
    counted = ~np.isnan(arrays[0])
    for name, arr in zip(names, arrays, strict=True):
        if arr.shape[0] != q:
            raise InputError(describe(f"values[{name!r}]", where,
                                      f"length {q} like the first array", arr.shape[0],
                                      "pass arrays over the same queries"))
        if not np.array_equal(~np.isnan(arr), counted):
            raise InputError(describe(f"values[{name!r}]", where,
                                      "NaN at the same queries as the first array",
                                      "a different NaN pattern",
                                      "mark uncounted queries the same way in every array"))
    stack = np.stack([a[counted] for a in arrays], axis=1)  # (n, M)
    if stack.shape[0] == 0:
        raise InputError(describe("values", where, "at least one counted (non-NaN) query", "none",
                                  ""))
    rng = np.random.default_rng(seed)
    if groups is None:
        units_sum, units_n = stack, np.ones(stack.shape[0])
    else:
        g = np.asarray(groups)
        if g.shape != (q,):
            raise InputError(describe("groups", where, f"shape ({q},), one label per query",
                                      f"shape {g.shape}", ""))
        _, inv = np.unique(g[counted], return_inverse=True)
        n_groups = int(inv.max()) + 1
        units_sum = np.zeros((n_groups, stack.shape[1]))
        np.add.at(units_sum, inv, stack)
        units_n = np.bincount(inv, minlength=n_groups).astype(np.float64)
    n_units = units_sum.shape[0]
    reps = np.empty((n_boot, stack.shape[1]))
    rows = _rows(n_units)
    for s in range(0, n_boot, rows):
        b = min(rows, n_boot - s)
        idx = rng.integers(0, n_units, size=(b, n_units))
        # how often each unit is drawn in each replicate; a replicate's mean is then one matmul
        counts = np.bincount((idx + (np.arange(b) * n_units)[:, None]).ravel(),
                             minlength=b * n_units).reshape(b, n_units).astype(np.float64)
        reps[s:s + b] = (counts @ units_sum) / (counts @ units_n)[:, None]
    est = stack.mean(axis=0)
    lo, hi = _percentiles(reps, level)
    se = reps.std(axis=0, ddof=1) if n_boot > 1 else np.zeros(stack.shape[1])
    return {name: Interval(float(est[j]), float(lo[j]), float(hi[j]), float(level), float(se[j]),
                           int(n_units), int(n_boot))
            for j, name in enumerate(names)}


def bootstrap_ci(
    values: Any,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | None = 0,
    groups: Any = None,
) -> Interval:
    """Percentile bootstrap interval for the mean of one per-query array (NaN = not counted).

    Args:
        values: ``(Q,)`` per-query values, e.g. ``RankMetrics.ap``.
        n_boot: Number of bootstrap replicates.
        level: Confidence level.
        seed: Seed of ``numpy.random.default_rng``.
        groups: Optional ``(Q,)`` labels for a cluster bootstrap (see :func:`bootstrap_means`).

    Returns:
        An :class:`Interval`.

    Example:
        >>> ci = bootstrap_ci([1.0, 0.5, 0.0, 1.0], n_boot=200, seed=0)
        >>> ci.estimate
        0.625
    """
    return bootstrap_means({"value": values}, n_boot=n_boot, level=level, seed=seed,
                           groups=groups)["value"]


def bootstrap_rank_metrics(
    result: Any,
    *,
    ranks: Sequence[int] = DEFAULT_CMC_RANKS,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | None = 0,
    by_identity: bool = False,
) -> dict[str, Interval]:
    """Bootstrap intervals for ``mAP``, ``rank{k}`` and ``mINP`` of a ranking result.

    Uses only the per-query arrays of ``result`` (any object with ``ap``, ``inp``, ``first_rank``
    and ``counted``, such as ``reidbench.metrics.RankMetrics``). Rank-k follows the result's CMC
    mode through ``result.rank_per_query(k)`` when it has one (a ``RankMetrics`` does: the
    all-shots fraction of positives for ``cmc="allshots"``); otherwise it is the first-match hit
    ``1 <= first_rank <= k`` (``first_rank`` is 0 where the query has no positive, which counts as a
    miss under the ``zero`` policy). The point estimates equal ``result.cmc[k-1]``. Nothing is
    re-ranked.

    Args:
        result: The evaluation result.
        ranks: The k of the Rank-k intervals.
        n_boot: Number of bootstrap replicates.
        level: Confidence level.
        seed: Seed of ``numpy.random.default_rng``.
        by_identity: Resample query identities (``result.query_pids``, which a ``RankMetrics``
            holds) instead of queries.

    Returns:
        ``{"mAP": ..., "rank1": ..., ..., "mINP": ...}``; a metric whose per-query values are NaN
        for counted queries (the ``nan`` policy) gets a NaN interval.

    Raises:
        InputError: If ``result`` lacks the per-query arrays or ``ranks`` is invalid (for an
            all-shots CMC, a k past the curve's ``max_rank``).
    """
    where = "bootstrap_rank_metrics"
    missing = [a for a in ("ap", "inp", "first_rank", "counted") if not hasattr(result, a)]
    if missing:
        raise InputError(describe("result", where, "an object with per-query ap, inp, first_rank "
                                  "and counted (a RankMetrics)", f"no {', '.join(missing)}", ""))
    if any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ranks):
        raise InputError(describe("ranks", where, "positive integers", repr(tuple(ranks)), ""))
    counted = np.asarray(result.counted, dtype=bool)
    first = np.asarray(result.first_rank)
    per_query: dict[str, np.ndarray] = {}
    nan_metrics = []
    for name, arr in (("mAP", result.ap), ("mINP", result.inp)):
        vals = np.where(counted, np.asarray(arr, dtype=np.float64), np.nan)
        if np.isnan(vals[counted]).any():  # 'nan' policy: the mean itself is NaN
            nan_metrics.append(name)
            continue
        per_query[name] = vals
    for k in ranks:
        per_query[f"rank{int(k)}"] = _rank_per_query(result, int(k), counted, first, where)
    groups = None
    if by_identity:
        pids = getattr(result, "query_pids", None)
        if pids is None:
            raise InputError(describe("result", where, "per-query query_pids for by_identity=True",
                                      "none", "pass a RankMetrics from rank_metrics"))
        groups = np.asarray(pids)
    out = bootstrap_means(per_query, n_boot=n_boot, level=level, seed=seed, groups=groups)
    n = int(counted.sum())
    for name in nan_metrics:
        out[name] = Interval(float("nan"), float("nan"), float("nan"), float(level), float("nan"),
                             n, int(n_boot))
    return {name: out[name] for name in summary_names(tuple(int(k) for k in ranks))}


def _rank_per_query(result: Any, k: int, counted: np.ndarray, first: np.ndarray,
                    where: str) -> np.ndarray:
    """Rank-k per query under the result's CMC mode (NaN where not counted)."""
    if not callable(getattr(result, "rank_per_query", None)):
        return np.where(counted, ((first >= 1) & (first <= k)) * 1.0, np.nan)
    try:
        return np.asarray(result.rank_per_query(k), dtype=np.float64)
    except InputError as exc:
        top = len(result.cmc) if hasattr(result, "cmc") else "?"
        raise InputError(describe("ranks", where, f"ranks <= max_rank ({top}) for an allshots "
                                  "CMC", k, "pass smaller ranks or evaluate with a larger "
                                  "max_rank")) from exc


def paired_test(
    a: Any,
    b: Any,
    *,
    method: Literal["permutation", "bootstrap"] = "permutation",
    n_resamples: int = 10000,
    level: float = 0.95,
    seed: int | None = 0,
) -> PairedTestResult:
    """Compare two systems on the same queries (e.g. their per-query AP arrays).

    The per-query differences ``d = a - b`` carry the comparison. The interval is always the
    percentile interval of a paired bootstrap of ``mean(d)``. The two-sided p-value of
    "the systems are equally good" comes from

    * ``"permutation"``: a paired sign-flip test. Under the null each ``d_i`` is symmetric about 0,
      so its sign is exchangeable; ``p = (1 + #{|mean(s * d)| >= |mean(d)|}) / (1 + R)`` over ``R``
      random sign vectors ``s`` (the +1 keeps the test valid and p > 0).
    * ``"bootstrap"``: a paired bootstrap of the centred differences,
      ``p = (1 + #{|mean(d*) - mean(d)| >= |mean(d)|}) / (1 + R)``.

    Args:
        a: ``(Q,)`` per-query values of system A (NaN where not counted).
        b: ``(Q,)`` per-query values of system B on the same queries, in the same order.
        method: ``"permutation"`` or ``"bootstrap"``.
        n_resamples: Number of sign flips / bootstrap replicates (also used for the interval).
        level: Confidence level of the interval.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        A :class:`PairedTestResult`.

    Raises:
        InputError: If the arrays differ in length or in which queries are counted, or on bad
            options.
    """
    where = "paired_test"
    _check_common(where, n_resamples, level, seed)
    if method not in ("permutation", "bootstrap"):
        raise InputError(describe("method", where, "'permutation' or 'bootstrap'", repr(method),
                                  ""))
    xa, xb = _as_1d("a", where, a), _as_1d("b", where, b)
    if xa.shape != xb.shape:
        raise InputError(describe("b", where, f"length {xa.shape[0]} like a", xb.shape[0],
                                  "score both systems on the same queries"))
    ca, cb = ~np.isnan(xa), ~np.isnan(xb)
    if not np.array_equal(ca, cb):
        raise InputError(describe("b", where, "NaN (not counted) at the same queries as a",
                                  f"{int((ca != cb).sum())} queries counted by only one",
                                  "evaluate both under the same protocol and no-positive policy"))
    d = xa[ca] - xb[ca]
    n = d.shape[0]
    if n == 0:
        raise InputError(describe("a", where, "at least one counted query", "none", ""))
    rng = np.random.default_rng(seed)
    obs = float(d.mean())
    boot = np.empty(n_resamples)
    rows = _rows(n)
    for s in range(0, n_resamples, rows):
        r = min(rows, n_resamples - s)
        boot[s:s + r] = d[rng.integers(0, n, size=(r, n))].mean(axis=1)
    lo, hi = _percentiles(boot, level)
    tol = 1e-12 * max(1.0, abs(obs))  # replicates equal to the observed value count as extreme
    if method == "bootstrap":
        extreme = int((np.abs(boot - obs) >= abs(obs) - tol).sum())
    else:
        extreme = 0
        for s in range(0, n_resamples, rows):
            r = min(rows, n_resamples - s)
            signs = rng.integers(0, 2, size=(r, n), dtype=np.int8) * 2 - 1
            extreme += int((np.abs(signs @ d / n) >= abs(obs) - tol).sum())
    p = (1.0 + extreme) / (1.0 + n_resamples)
    return PairedTestResult(obs, float(lo), float(hi), float(level), float(min(p, 1.0)), method, n,
                            int(n_resamples))


def mean_std(values: Any, *, ddof: int = 1) -> MeanStd:
    """Mean and standard deviation over splits.

    Args:
        values: ``(S,)`` one value per split, or ``(S, M)`` (splits x metrics), or a mapping
            metric name -> ``(S,)`` (then ``mean``/``std`` are dicts).
        ddof: Delta degrees of freedom: 1 (default) is the **sample** standard deviation
            (divides by ``S - 1``), 0 the population one (divides by ``S``). With ``S <= ddof`` the
            std is NaN.

    Returns:
        A :class:`MeanStd`.

    Raises:
        InputError: On empty input, NaN/inf values, mismatched lengths or a negative ``ddof``.

    Example:
        >>> mean_std([0.80, 0.82, 0.84]).format()
        '82.0 ± 2.0'
    """
    where = "mean_std"
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise InputError(describe("ddof", where, "an integer >= 0", repr(ddof),
                                  "use 1 for the sample std"))
    if isinstance(values, Mapping):
        if not values:
            raise InputError(describe("values", where, "at least one metric", "an empty mapping",
                                      ""))
        parts = {k: mean_std(v, ddof=ddof) for k, v in values.items()}
        ns = {p.n for p in parts.values()}
        if len(ns) != 1:
            raise InputError(describe("values", where, "the same number of splits per metric",
                                      sorted(ns), ""))
        return MeanStd({k: p.mean for k, p in parts.items()}, {k: p.std for k, p in parts.items()},
                       ns.pop(), ddof)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise InputError(describe("values", where,
                                  "a non-empty (splits,) or (splits, metrics) array",
                                  f"shape {arr.shape}", ""))
    if not np.isfinite(arr).all():
        raise InputError(describe("values", where, "finite values", "NaN or inf",
                                  "drop failed splits explicitly and say so"))
    s = arr.shape[0]
    mean = arr.mean(axis=0)
    std = arr.std(axis=0, ddof=ddof) if s > ddof else np.full(arr.shape[1:], np.nan)
    if arr.ndim == 1:
        return MeanStd(float(mean), float(std), s, int(ddof))
    return MeanStd(mean, std, s, int(ddof))
