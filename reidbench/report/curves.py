"""Figures from result records: CMC curves, per-query AP histograms, accuracy-vs-cost scatter.

Each takes results read with :func:`reidbench.records.read_result` and labels; legends
carry the protocol id, and a figure mixing protocols says so in its title (their numbers are not
comparable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reidbench.errors import InputError, describe
from reidbench.records import EvalResult, read_result
from reidbench.report._mpl import new_figure, percent_ylim

__all__ = ["cmc_curve", "cmc_band", "ap_values", "ap_histogram", "cost_points",
           "cost_scatter", "named_results", "COSTS"]

COSTS = ("parameters", "time", "flops")


def named_results(result_dirs: Sequence[str | Path]) -> list[tuple[str, EvalResult]]:
    """Read result directories as ``(label, result)`` pairs for the figures.

    The label is the submission's name (``reidbench evaluate --name``) where the record has one,
    else the result folder's name; labels that would repeat get the folder name appended.
    """
    pairs = []
    for d in result_dirs:
        res = read_result(d)
        folder = Path(d).resolve().name or str(d)
        sub = res.record.submission
        pairs.append((sub.name if sub is not None and sub.name else folder, folder, res))
    counts: dict[str, int] = {}
    for label, _, _ in pairs:
        counts[label] = counts.get(label, 0) + 1
    return [(label if counts[label] == 1 or label == folder else f"{label} [{folder}]", res)
            for label, folder, res in pairs]


def _mixed(results: Sequence[tuple[str, EvalResult]]) -> str:
    fps = {r.protocol_fingerprint for _, r in results}
    return " (protocols differ: not comparable)" if len(fps) > 1 else ""


def cmc_band(res: EvalResult, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray] | None:
    """Bootstrap band (percent) of a single-split result's CMC at ranks 1..n, or None.

    Resamples the per-query first ranks in ``per_query.npz`` with the record's own seed and
    number of resamples, as the evaluation did, so the band at a reported rank equals that
    rank's printed 95% CI. None when there is nothing to draw it from: no bootstrap
    (``bootstrap: 0``), several splits (their spread is the std over splits, not a CI), no
    per-query arrays, or an all-shots CMC.
    """
    from types import SimpleNamespace

    from reidbench.metrics.stats import bootstrap_rank_metrics

    rec = res.record
    n_boot = int(rec.bootstrap or 0)
    if n_boot < 1 or len(rec.splits) != 1:
        return None
    if (rec.protocol.evaluation.get("cmc") or "first_match") != "first_match":
        return None
    try:
        arr = res.split_arrays()
    except Exception:  # noqa: BLE001 - a record without its per-query file: no band
        return None
    if not all(k in arr for k in ("ap", "inp", "first_rank", "counted")):
        return None
    view = SimpleNamespace(ap=arr["ap"], inp=arr["inp"], first_rank=arr["first_rank"],
                           counted=arr["counted"])
    ci = bootstrap_rank_metrics(view, ranks=range(1, n + 1), n_boot=n_boot, level=level,
                                seed=rec.seed)
    lo = np.array([ci[f"rank{k}"].low for k in range(1, n + 1)])
    hi = np.array([ci[f"rank{k}"].high for k in range(1, n + 1)])
    return 100.0 * lo, 100.0 * hi


def cmc_curve(results: Sequence[tuple[str, EvalResult]], max_rank: int = 20) -> Figure:
    """CMC curves (percent) of several results on one plot; multi-split: mean over splits.

    The legend names each result (its submission name, else the label given) and protocol;
    ranks are integers; a single-split result with bootstrap CIs gets its 95% band
    (:func:`cmc_band`, ``gid`` ``band:<label>``); the y-axis shows at least 10 points.

    Args:
        results: ``(label, result)`` pairs.
        max_rank: Last rank plotted.

    Raises:
        InputError: No results, or a result without a CMC curve.
    """
    if not results:
        raise InputError(describe("results", "report cmc", "at least one result directory",
                                  "none", ""))
    fig = new_figure(5.5, 4.0)
    ax = fig.add_subplot()
    shown: list[float] = []
    banded = False
    for label, res in results:
        curves = [s.cmc for s in res.record.splits]
        if not curves or not all(curves):
            raise InputError(describe("field splits[].cmc", label, "a CMC curve per split",
                                      "none", "re-run the evaluation"))
        n = min(max_rank, *(len(c) for c in curves))
        cmc = 100.0 * np.mean([np.asarray(c[:n], dtype=float) for c in curves], axis=0)
        ranks = np.arange(1, n + 1)
        (line,) = ax.plot(ranks, cmc, marker=".", label=f"{label} ({res.record.protocol.id})")
        shown += list(cmc)
        band = cmc_band(res, n)
        if band is not None:
            ax.fill_between(ranks, band[0], band[1], color=line.get_color(), alpha=0.2, lw=0,
                            gid=f"band:{label}")
            shown += list(band[0])
            banded = True
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.5, max_rank + 0.5)
    percent_ylim(ax, shown)
    ax.set_title("CMC" + (" (shaded: 95% bootstrap CI)" if banded else "") + _mixed(results),
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def ap_values(res: EvalResult) -> np.ndarray:
    """Per-query AP (headline variant, percent) of the counted queries, all splits together."""
    out = []
    for name in res.record.split_names:
        arr = res.split_arrays(name)
        if "ap" not in arr:
            raise InputError(describe("per_query.npz", name, "an 'ap' array per split",
                                      "none", "re-run the evaluation (per_query.npz missing?)"))
        ap = np.asarray(arr["ap"], dtype=float)
        counted = np.asarray(arr.get("counted", np.isfinite(ap)), dtype=bool)
        out.append(ap[counted & np.isfinite(ap)])
    return 100.0 * np.concatenate(out) if out else np.zeros(0)


def ap_histogram(results: Sequence[tuple[str, EvalResult]], bins: int = 20) -> Figure:
    """Histogram of per-query AP (percent, bins over [0, 100]) for one or more results.

    Raises:
        InputError: No results, or a result without per-query AP.
    """
    if not results:
        raise InputError(describe("results", "report aphist", "at least one result", "none", ""))
    fig = new_figure(5.5, 3.6)
    ax = fig.add_subplot()
    edges = np.linspace(0.0, 100.0, bins + 1)
    for label, res in results:
        ap = ap_values(res)
        ax.hist(ap, bins=edges, alpha=0.6 if len(results) > 1 else 1.0,
                label=f"{label}: {ap.size} queries, mean {ap.mean() if ap.size else 0:.1f}")
    ax.set_xlabel(f"AP per query (%, {results[0][1].record.headline_ap})")
    ax.set_ylabel("queries")
    ax.set_title("Per-query AP" + _mixed(results))
    ax.legend(fontsize=8)
    return fig


def cost_points(results: Sequence[tuple[str, EvalResult]], cost: str = "parameters"
                ) -> list[dict[str, Any]]:
    """``{label, mAP (%), cost}`` for the results whose record holds the cost.

    ``parameters``: ``source.adapter.n_parameters`` (millions); ``time``: feature-extraction
    seconds per tracklet (``timings[split].seconds_features`` over queries + gallery items);
    ``flops``: ``source.adapter.cost.gflops_per_clip`` (GFLOPs of one clip at batch 1).

    Raises:
        InputError: Unknown cost name.
    """
    if cost not in COSTS:
        raise InputError(describe("cost", "cost_scatter", f"one of {COSTS}", repr(cost), ""),
                         param="cost")
    pts = []
    for label, res in results:
        rec = res.record
        value: float | None = None
        adapter = rec.source.adapter
        if cost == "parameters":
            n = adapter.n_parameters if adapter else None
            value = float(n) / 1e6 if n else None
        elif cost == "flops":
            g = ((adapter.cost if adapter else None) or {}).get("gflops_per_clip")
            value = float(g) if g else None
        else:
            secs = sum(float(rec.timings.get(s.split, {}).get("seconds_features", 0.0))
                       for s in rec.splits)
            items = sum(s.n_queries + s.n_gallery for s in rec.splits)
            value = secs / items if secs > 0 and items else None
        if value is not None:
            pts.append({"label": label, "mAP": 100.0 * res.value("mAP"), "cost": value})
    return pts


def cost_scatter(results: Sequence[tuple[str, EvalResult]], cost: str = "parameters",
                 skipped: Callable[[str], None] | None = None) -> Figure:
    """Plot mAP against model size or time per tracklet, one point per result that records it.

    Args:
        results: ``(label, result)`` pairs.
        cost: One of :data:`COSTS`.
        skipped: Called with one line per result left out because its record lacks the cost.

    Raises:
        InputError: If no result records the cost.
    """
    pts = cost_points(results, cost)
    if skipped is not None:
        plotted = {p["label"] for p in pts}
        for label, _ in results:
            if label not in plotted:
                skipped(f"{label}: its record holds no {cost} (not plotted)")
    if not pts:
        raise InputError(describe(f"cost {cost!r}", "the given results", "a record holding it "
                                  "(source.adapter.n_parameters, .cost or timings)", "none",
                                  "evaluate a model adapter (features files carry no cost)"))
    fig = new_figure(5.0, 3.8)
    ax = fig.add_subplot()
    x = [p["cost"] for p in pts]
    y = [p["mAP"] for p in pts]
    ax.scatter(x, y)
    for p in pts:
        ax.annotate(p["label"], (p["cost"], p["mAP"]), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    ax.set_xlabel({"parameters": "parameters (millions)", "time": "seconds per tracklet",
                   "flops": "GFLOPs per clip (batch 1)"}[cost])
    ax.set_ylabel("mAP (%)")
    percent_ylim(ax, y)
    ax.set_title("Accuracy vs cost" + _mixed(results))
    return fig
