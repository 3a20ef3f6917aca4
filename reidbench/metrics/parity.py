"""The parity report: one distance matrix scored every way the field scores it.

:func:`run_parity` evaluates one problem under every AP variant x tie policy, under every preset
(the combination a named codebase computes) and, when the gallery's copies of the queries are known,
under the other MARS gallery protocol (gallery without the query tracklets). Each row carries
bootstrap confidence intervals over queries (:mod:`reidbench.metrics.stats`) and the time its
evaluation took. The rows are data; rendering them is the CLI's job.

The differences the report makes visible (``docs/metrics.md``): the AP formula
(noninterpolated vs trapezoid / sklearn < 0.19: 1-2 points), the gallery protocol (with or without
the queries: counted queries and mAP change), the no-positive policy, and ties (only when
distances tie: quantised features, re-ranked distances).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reidbench.metrics.options import AP_VARIANT_ORDER, DEFAULT_CMC_RANKS, TIE_POLICIES
from reidbench.metrics.presets import PRESETS
from reidbench.metrics.rank import RankMetrics, rank_metrics
from reidbench.metrics.stats import Interval, bootstrap_means

__all__ = ["ParityRow", "ParityReport", "run_parity"]


@dataclass(frozen=True)
class ParityRow:
    """One way of scoring the problem.

    Attributes:
        group: ``"variant"`` (AP variant x tie policy), ``"preset"`` or ``"gallery"``.
        label: Short name shown in the table, e.g. ``"trapezoid / stable"`` or ``"torchreid"``.
        options: The resolved options (ap, ties, no_positive, ...) of the evaluation.
        metrics: Summary metric (``reidbench.metrics.SUMMARY_METRICS``) -> :class:`Interval`
            (fractions in [0, 1]).
        n_counted: Queries that entered the means.
        n_skipped: Queries dropped by the no-positive policy.
        seconds: Time of the metric evaluation of this row, warm (the compiled kernel loaded
            beforehand; bootstrap excluded; rows that share one core pass share its time).
        note: Where these numbers come from in the literature, or a caveat.
    """

    group: str
    label: str
    options: dict[str, Any]
    metrics: dict[str, Interval]
    n_counted: int
    n_skipped: int
    seconds: float
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"group": self.group, "label": self.label, "options": self.options,
                "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
                "n_counted": self.n_counted, "n_skipped": self.n_skipped,
                "seconds": self.seconds, "note": self.note}


@dataclass(frozen=True)
class ParityReport:
    """Rows of a parity run plus what was scored.

    Attributes:
        rows: The rows, variant rows first, then presets, then gallery-protocol rows.
        problem: Description of the input (source, sizes, seed, ...).
        n_boot: Bootstrap replicates per interval.
        level: Confidence level of the intervals.
        seconds: Wall time of the whole run, bootstrap included.
        notes: Plain-language observations (largest gaps), for the table footer.
    """

    rows: tuple[ParityRow, ...]
    problem: dict[str, Any]
    n_boot: int
    level: float
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"problem": self.problem, "n_boot": self.n_boot, "level": self.level,
                "seconds": self.seconds, "notes": list(self.notes),
                "rows": [r.as_dict() for r in self.rows]}


def _presets() -> list[tuple[str, str]]:
    """(name, description) of every registered preset."""
    return [(name, " ".join(PRESETS.get(name).description.split())) for name in PRESETS.names()]


def _per_query(res: RankMetrics, ap: np.ndarray) -> dict[str, np.ndarray]:
    """Per-query values whose means are the row's metrics (NaN where a query is not counted).

    Rank-k follows the result's CMC mode (``RankMetrics.rank_per_query``): first-match hits, or
    the all-shots fraction of positives for the open-reid presets.
    """
    counted = np.asarray(res.counted, dtype=bool)
    vals = {"mAP": np.where(counted, ap, np.nan)}
    for k in DEFAULT_CMC_RANKS:
        vals[f"rank{k}"] = res.rank_per_query(k)
    vals["mINP"] = np.where(counted, np.asarray(res.inp, dtype=np.float64), np.nan)
    return vals


def _intervals(vals: dict[str, np.ndarray], n_boot: int, level: float, seed: int
               ) -> dict[str, Interval]:
    """Bootstrap every metric jointly; metrics that are NaN for counted queries get NaN."""
    ok = {k: v for k, v in vals.items() if not np.isnan(v[~np.isnan(vals["rank1"])]).any()}
    if np.isnan(vals["rank1"]).all():
        nan = Interval(np.nan, np.nan, np.nan, level, np.nan, 0, n_boot)
        return dict.fromkeys(vals, nan)
    out = bootstrap_means(ok, n_boot=n_boot, level=level, seed=seed)
    n = next(iter(out.values())).n
    nan = Interval(np.nan, np.nan, np.nan, level, np.nan, n, n_boot)
    return {k: out.get(k, nan) for k in vals}


def _warm_up(distmat: Any) -> None:
    """Evaluate a tiny problem of ``distmat``'s dtype, so no timed row pays one-off costs.

    The first call of the core imports numba and loads the compiled kernel for the dtype from
    numba's cache (about 0.6 s against tens of ms for a MARS-sized row). numba compiles a
    read-only matrix (``make_problem``'s, a memory map) as a type of its own, which on a fresh
    install took the first timed row 7 s to compile, so the tiny matrix is read-only alike.
    """
    dtype = np.float32 if str(getattr(distmat, "dtype", "")).endswith("float32") else np.float64
    tiny = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], dtype=dtype)
    flags = getattr(distmat, "flags", None)
    tiny.flags.writeable = bool(getattr(flags, "writeable", True))
    rank_metrics(tiny, [1, 2], [1, 2, 3], [0, 0], [1, 1, 1], cmc="allshots")


def run_parity(
    distmat: Any,
    query_pids: Any,
    gallery_pids: Any,
    query_camids: Any,
    gallery_camids: Any,
    *,
    query_gallery_index: Any = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    presets: Sequence[str] | None = None,
    problem: dict[str, Any] | None = None,
) -> ParityReport:
    """Score one problem every way: AP variant x tie policy, every preset, both MARS galleries.

    Args:
        distmat: ``(Q, G)`` distances (lower = more similar).
        query_pids: ``(Q,)`` query identities.
        gallery_pids: ``(G,)`` gallery identities (-1 junk, 0 distractor).
        query_camids: ``(Q,)`` query cameras.
        gallery_camids: ``(G,)`` gallery cameras.
        query_gallery_index: Optional ``(Q,)`` gallery position of each query's own tracklet
            (-1 if absent). When given, rows for the gallery *without* the queries are added
            (torchreid / COSAM MARS protocol).
        n_boot: Bootstrap replicates per interval.
        level: Confidence level.
        seed: Bootstrap seed (the same for every row, so rows are resampled alike).
        presets: Preset names to include; ``None`` for all registered presets.
        problem: Description of the input, copied into the report.

    Returns:
        A :class:`ParityReport`.

    Raises:
        InputError: From the metric core on bad arrays or unknown preset names.
    """
    t_all = time.perf_counter()
    _warm_up(distmat)
    args = (distmat, query_pids, gallery_pids, query_camids, gallery_camids)
    rows: list[ParityRow] = []

    for ties in TIE_POLICIES:
        t0 = time.perf_counter()
        res = rank_metrics(*args, ties=ties)  # every AP variant comes from this one pass
        seconds = time.perf_counter() - t0
        for name in AP_VARIANT_ORDER:
            vals = _per_query(res, res.ap_by_variant[name])
            note = "sklearn groups tied scores: the tie policy does not change its AP" \
                if name.startswith("sklearn") and ties != "stable" else ""
            rows.append(ParityRow(
                "variant", f"{name} / {ties}", {**dict(res.options), "ap": name, "ties": ties},
                _intervals(vals, n_boot, level, seed), int(np.sum(res.counted)),
                int(res.n_skipped), seconds, note))

    chosen = _presets()
    if presets is not None:
        known = dict(chosen)
        chosen = [(p, known.get(p, "")) for p in presets]
    for name, desc in chosen:
        t0 = time.perf_counter()
        res = rank_metrics(*args, preset=name)
        seconds = time.perf_counter() - t0
        rows.append(ParityRow(
            "preset", name, dict(res.options),
            _intervals(_per_query(res, np.asarray(res.ap, dtype=np.float64)), n_boot, level, seed),
            int(np.sum(res.counted)), int(res.n_skipped), seconds, desc))

    if query_gallery_index is not None:
        qgi = np.asarray(query_gallery_index)
        keep = np.ones(np.shape(gallery_pids)[0], dtype=bool)
        keep[qgi[qgi >= 0]] = False
        if not keep.all():
            sub = (np.asarray(distmat)[:, keep], query_pids, np.asarray(gallery_pids)[keep],
                   query_camids, np.asarray(gallery_camids)[keep])
            for name in ("torchreid", "tkp"):
                t0 = time.perf_counter()
                res = rank_metrics(*sub, preset=name)
                seconds = time.perf_counter() - t0
                rows.append(ParityRow(
                    "gallery", f"{name}, gallery without queries", dict(res.options),
                    _intervals(_per_query(res, np.asarray(res.ap, dtype=np.float64)), n_boot,
                               level, seed),
                    int(np.sum(res.counted)), int(res.n_skipped), seconds,
                    f"gallery of {int(keep.sum())} (queries removed, as torchreid/COSAM build "
                    "MARS); queries left without a positive are skipped"))

    report_rows = tuple(rows)
    return ParityReport(report_rows, dict(problem or {}), int(n_boot), float(level),
                        time.perf_counter() - t_all, tuple(_notes(report_rows)))


def _notes(rows: Sequence[ParityRow]) -> list[str]:
    """Plain-language summary of the largest differences."""
    by = {r.label: r for r in rows}
    notes = []

    def m(label: str) -> float:
        return by[label].metrics["mAP"].estimate if label in by else np.nan

    gap = m("noninterp / stable") - m("trapezoid / stable")
    if np.isfinite(gap):
        notes.append(f"AP formula: noninterp (torchreid, fast-reid, sklearn>=0.19) minus trapezoid "
                     f"(MARS/Market MATLAB, TKP, sklearn<0.19 without ties) = {100 * gap:+.2f} mAP "
                     "points on the same ranking.")
    spread = [by[f"noninterp / {t}"] for t in ("optimistic", "pessimistic")
              if f"noninterp / {t}" in by]
    if len(spread) == 2:
        d = spread[0].metrics["mAP"].estimate - spread[1].metrics["mAP"].estimate
        d1 = spread[0].metrics["rank1"].estimate - spread[1].metrics["rank1"].estimate
        notes.append("Ties: optimistic minus pessimistic = "
                     + (f"{100 * d:+.2f} mAP / {100 * d1:+.2f} Rank-1 points."
                        if d or d1 else "0 (no tied distances between positives and negatives)."))
    for r in rows:
        if r.group == "gallery":
            base = r.label.split(",")[0]
            if base in by:
                full = by[base]
                notes.append(
                    f"Gallery protocol ({base}): without the queries {r.n_counted} of "
                    f"{r.n_counted + r.n_skipped} queries count ({r.n_skipped} skipped) and mAP "
                    f"moves {100 * (r.metrics['mAP'].estimate - full.metrics['mAP'].estimate):+.2f}"
                    " points.")
    return notes
