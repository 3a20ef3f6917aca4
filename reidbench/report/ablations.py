"""Ablation grids and curves from a tidy DataFrame (published tables or the suite's own sweeps).

The input of every renderer is *tidy*: one row per (cell, metric) with the axis columns, ``metric``
(``mAP``, ``rank1``...), ``mean`` and ``std`` (NaN when there is none), optionally ``dataset``,
``printed`` and ``std_printed`` (the text to show; default: the numbers formatted). A sweep that
writes result records gives the same frame (axes from its grid, mean and std over trials), so the
same figures and tables come out of published numbers and of the suite's own runs.

* :func:`heatmap`: an ``A x B`` grid (STMN's memory sizes M x N) with ``mean ± std`` annotations,
  best cell(s) drawn with a solid frame and bold text, second best with a dashed frame
  (artists carry ``gid`` ``best`` / ``second``).
* :func:`curve`: metric against one numeric axis (margin alpha, sequence length L), error bars =
  std.
* :func:`placement_grid`: COSAM placement, stage sets x backbone, one panel per dataset.
* :func:`ablation_table`: the grid as a :class:`~reidbench.leaderboard.build.Table` (mean ± std,
  best/second marked), rendered by :mod:`reidbench.report.tables`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from reidbench.errors import InputError, describe
from reidbench.leaderboard.build import (
    DATASET_NAMES,
    METRIC_HEADERS,
    RANKED,
    Column,
    Table,
    rank_marks,
)
from reidbench.leaderboard.records import LeaderboardFile
from reidbench.report._mpl import new_figure, percent_ylim

__all__ = ["published_ablation", "stage_label", "heatmap", "curve", "placement_grid",
           "ablation_table", "table_groups", "sweep_ablation", "sweep_figures", "TIDY_COLUMNS"]

TIDY_COLUMNS = ("metric", "mean", "std")


def stage_label(stages: Iterable[int]) -> str:
    """``[4, 5]`` -> ``"4,5"``; ``[]`` -> ``"none"`` (a COSAM stage set as an axis value)."""
    s = list(stages)
    return ",".join(str(x) for x in s) if s else "none"


def published_ablation(files: Iterable[LeaderboardFile], table_key: str) -> pd.DataFrame:
    """The tidy frame of one published ablation table (``stmn-table1``, ``cosam-table4``...).

    List-valued axes (COSAM stage sets) become strings via :func:`stage_label`.

    Raises:
        InputError: If no file has that key.
    """
    f = next((f for f in files if f.key == table_key), None)
    if f is None:
        raise InputError(describe("table", "the published records", "an existing table key",
                                  repr(table_key), "see reidbench/leaderboard/published/*.json"))
    rows = []
    for rec in f.records:
        axes = {k: (stage_label(v) if isinstance(v, list) else v)
                for k, v in rec.get("axes", {}).items()}
        for m, cell in rec["metrics"].items():
            std = cell.get("std")
            rows.append({**axes, "dataset": rec["dataset"], "row": rec["row"], "metric": m,
                         "mean": float(cell["value"]),
                         "std": float(std) if std is not None else math.nan,
                         "printed": cell["printed"], "std_printed": cell.get("std_printed")})
    return pd.DataFrame(rows)


def _check(df: pd.DataFrame, needed: Sequence[str]) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(describe("ablation frame", "reidbench.report.ablations",
                                  f"columns {list(needed)}", f"missing {missing}",
                                  "pass a tidy frame: axis columns + metric, mean, std"))


def _text(row: pd.Series, sep: str = "\n") -> str:
    printed = row.get("printed")
    mean = printed if isinstance(printed, str) and printed else f"{row['mean']:.1f}"
    std_p = row.get("std_printed")
    if isinstance(std_p, str) and std_p:
        return f"{mean}{sep}± {std_p}"
    if not math.isnan(float(row["std"])):
        return f"{mean}{sep}± {float(row['std']):.2f}"
    return mean


def _select(df: pd.DataFrame, metric: str, dataset: str | None) -> pd.DataFrame:
    sub = df[df["metric"] == metric]
    if dataset is not None and "dataset" in sub.columns:
        sub = sub[sub["dataset"] == dataset]
    if sub.empty:
        raise InputError(describe("metric", "ablation frame", "rows for this metric/dataset",
                                  f"none for {metric!r} / {dataset!r}", ""))
    return sub


def _axis_values(values: Iterable[Any]) -> list[Any]:
    vals = list(dict.fromkeys(values))
    try:
        return sorted(vals)
    except TypeError:
        return vals


def _draw_grid(ax: Axes, sub: pd.DataFrame, row_axis: str, col_axis: str,
               row_order: list[Any] | None = None, col_order: list[Any] | None = None) -> Any:
    """Draw the grid; return the image (for its colour bar)."""
    rows = row_order or _axis_values(sub[row_axis])
    cols = col_order or _axis_values(sub[col_axis])
    grid = np.full((len(rows), len(cols)), np.nan)
    texts: dict[tuple[int, int], str] = {}
    for _, r in sub.iterrows():
        i, j = rows.index(r[row_axis]), cols.index(r[col_axis])
        grid[i, j] = float(r["mean"])
        texts[(i, j)] = _text(r)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto")
    marks = rank_marks(list(grid.ravel()))
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (i, j), text in texts.items():
        mark = marks[i * len(cols) + j]
        colour = "black" if grid[i, j] > mid else "white"
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour,
                fontweight="bold" if mark == "best" else "normal", gid=mark or None)
        if mark:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.5,
                                   ls="-" if mark == "best" else "--", ec="red", gid=mark))
    ax.set_xticks(range(len(cols)), [str(c) for c in cols])
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.set_xlabel(col_axis)
    ax.set_ylabel(row_axis)
    return image


def _mark_legend(fig: Figure) -> None:
    """The legend of the red frames: solid = best, dashed = second best."""
    handles = [Patch(fill=False, ec="red", lw=2.5, ls="-", label="best"),
               Patch(fill=False, ec="red", lw=2.5, ls="--", label="second best")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)


def _title(text: str, width: int = 64) -> str:
    return "\n".join(textwrap.wrap(text, width)) if text else text


def heatmap(df: pd.DataFrame, row_axis: str, col_axis: str, metric: str, *,
            dataset: str | None = None, title: str = "") -> Figure:
    """An ``row_axis x col_axis`` grid of one metric (``mean ± std`` per cell).

    Args:
        df: Tidy frame (axis columns + ``metric``, ``mean``, ``std``).
        row_axis: Axis along the rows (e.g. ``"M"``).
        col_axis: Axis along the columns (e.g. ``"N"``).
        metric: Metric to show.
        dataset: Keep only this dataset's rows (when the frame has a ``dataset`` column).
        title: Figure title (default: the metric).

    Raises:
        InputError: Missing columns or no rows for the metric.
    """
    _check(df, (row_axis, col_axis, *TIDY_COLUMNS))
    sub = _select(df, metric, dataset)
    fig = new_figure(5.5, 4.6)
    ax = fig.add_subplot()
    image = _draw_grid(ax, sub, row_axis, col_axis)
    fig.colorbar(image, ax=ax, label=f"{METRIC_HEADERS.get(metric, metric)} (%)")
    _mark_legend(fig)
    ax.set_title(_title(title or f"{METRIC_HEADERS.get(metric, metric)} (%)"), fontsize=9)
    return fig


def curve(df: pd.DataFrame, axis: str, metrics: Sequence[str], *, dataset: str | None = None,
          title: str = "") -> Figure:
    """Metrics against one numeric axis with ``± std`` error bars; best/second points marked.

    Raises:
        InputError: Missing columns or no rows for a metric.
    """
    _check(df, (axis, *TIDY_COLUMNS))
    fig = new_figure(5.5, 4.0)
    ax = fig.add_subplot()
    shown: list[float] = []
    for m in metrics:
        sub = _select(df, m, dataset).sort_values(axis)
        x = sub[axis].to_numpy(dtype=float)
        y = sub["mean"].to_numpy(dtype=float)
        err = sub["std"].to_numpy(dtype=float)
        ax.errorbar(x, y, yerr=None if np.isnan(err).all() else err, marker="o", capsize=3,
                    label=METRIC_HEADERS.get(m, m))
        shown += list(y - np.nan_to_num(err)) + list(y + np.nan_to_num(err))
        for mark, xi, yi in zip(rank_marks(list(y)), x, y, strict=True):
            if mark:
                ax.plot([xi], [yi], marker="*" if mark == "best" else "D", ms=12, ls="none",
                        mfc="none", mec="black", gid=f"{mark}:{m}")
    ax.set_xlabel(axis)
    ax.set_ylabel("%")
    ax.set_xticks(sorted(set(df[axis].astype(float))))
    percent_ylim(ax, shown)
    ax.grid(alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="*", ms=10, ls="none", mfc="none", mec="black",
                       label="best"),
                Line2D([], [], marker="D", ms=8, ls="none", mfc="none", mec="black",
                       label="second best")]
    ax.legend(handles=handles, fontsize=8)
    ax.set_title(_title(title or f"{', '.join(METRIC_HEADERS.get(m, m) for m in metrics)} vs "
                        f"{axis}"), fontsize=9)
    return fig


def placement_grid(df: pd.DataFrame, metric: str, *, stage_axis: str = "cosam_stages",
                   backbone_axis: str = "backbone", title: str = "") -> Figure:
    """COSAM placement: stage sets (rows) x backbones (columns), one panel per dataset.

    Rows keep the frame's order of first appearance (the printed order of the table).

    Raises:
        InputError: Missing columns or no rows for the metric.
    """
    _check(df, (stage_axis, backbone_axis, "dataset", *TIDY_COLUMNS))
    datasets = list(dict.fromkeys(df["dataset"]))
    fig = new_figure(3.6 * len(datasets), 5.0)
    rows = list(dict.fromkeys(df[stage_axis]))
    cols = list(dict.fromkeys(df[backbone_axis]))
    for k, ds in enumerate(datasets):
        ax = fig.add_subplot(1, len(datasets), k + 1)
        image = _draw_grid(ax, _select(df, metric, ds), stage_axis, backbone_axis, rows, cols)
        fig.colorbar(image, ax=ax, label=f"{METRIC_HEADERS.get(metric, metric)} (%)",
                     shrink=0.8)
        ax.set_title(DATASET_NAMES.get(ds, ds))
    _mark_legend(fig)
    fig.suptitle(_title(title or f"{METRIC_HEADERS.get(metric, metric)} (%) by COSAM placement",
                        90), fontsize=10)
    return fig


def ablation_table(df: pd.DataFrame, axes: Sequence[str], metrics: Sequence[str], *, key: str,
                   title: str, caption: str = "", groups: dict[str, str] | None = None) -> Table:
    """The grid as a table: one row per axis combination, one column per (dataset, metric).

    Cells print ``mean ± std`` (the printed text where the frame has it); best and second best
    are marked per column (ties share a mark).

    Args:
        df: Tidy frame (axis columns + ``metric``, ``mean``, ``std``, optionally ``dataset``).
        axes: The axis columns, one table column each.
        metrics: Metrics shown per dataset.
        key: File stem of the rendered table.
        title: Table title.
        caption: Table caption.
        groups: Column group header per dataset (default: the dataset's short name). A published
            table's columns name the set they were measured on (STMN's ablations: random halves
            of MARS's *training* set, not the MARS test protocol), see :func:`table_groups`.

    Raises:
        InputError: Missing columns.
    """
    _check(df, (*axes, *TIDY_COLUMNS))
    df = df.copy()
    if "dataset" not in df.columns:
        df["dataset"] = ""
    datasets = list(dict.fromkeys(df["dataset"]))
    combos = list(dict.fromkeys(tuple(r[a] for a in axes) for _, r in df.iterrows()))
    columns = [Column(f"axis:{a}", a) for a in axes]
    names = {**DATASET_NAMES, **(groups or {})}
    metric_cols = [Column(f"{ds}:{m}", METRIC_HEADERS.get(m, m), names.get(ds, ds), m)
                   for ds in datasets for m in metrics
                   if ((df["dataset"] == ds) & (df["metric"] == m)).any()]
    columns += metric_cols
    text_rows, value_rows = [], []
    for combo in combos:
        sel = np.logical_and.reduce([df[a] == v for a, v in zip(axes, combo, strict=True)])
        t: dict[str, Any] = {f"axis:{a}": str(v) for a, v in zip(axes, combo, strict=True)}
        v: dict[str, float] = {}
        for c in metric_cols:
            ds, m = c.key.split(":")
            hit = df[sel & (df["dataset"] == ds) & (df["metric"] == m)]
            if hit.empty:
                t[c.key], v[c.key] = "", math.nan
            else:
                r = hit.iloc[0]
                t[c.key] = _text(r, sep=" ")
                v[c.key] = float(r["mean"])
        text_rows.append(t)
        value_rows.append(v)
    text = pd.DataFrame(text_rows, columns=[c.key for c in columns]).fillna("")
    values = pd.DataFrame(value_rows, columns=[c.key for c in metric_cols], dtype=float)
    marks = pd.DataFrame("", index=values.index, columns=values.columns, dtype=object)
    for col in values.columns:
        marks[col] = rank_marks(list(values[col]))
    notes = ["Bold = best, underlined = second best per column (ties share a mark); "
             "mean ± std where the source gives a std."]
    return Table(key, title, caption, columns, text, values, marks, [RANKED] * len(combos), notes)


def table_groups(f: LeaderboardFile) -> dict[str, str]:
    """``{dataset: group header}`` of a published table's columns that declare a ``group``."""
    return {c["dataset"]: c["group"] for c in f.data["table"]["columns"] if c.get("group")}


def sweep_ablation(sweep: dict[str, Any]) -> pd.DataFrame:
    """The tidy frame of a ``reidbench sweep`` record (``sweep.json``): mean ± std over trials.

    Values are percent (like published tables); ``std`` is the sample std (ddof=1) over the
    trials of a cell, NaN with a single trial. List-valued axes become :func:`stage_label` strings.

    Raises:
        InputError: The record has no rows.
    """
    rows = sweep.get("rows") or []
    if not rows:
        raise InputError(describe("rows", "sweep record", "at least one run", "none",
                                  "run `reidbench sweep` first"))
    axes = list(sweep["grid"])
    flat = []
    for r in rows:
        cell = {a: stage_label(v) if isinstance(v, list) else v for a, v in r["axes"].items()}
        for metric, value in r["metrics"].items():
            flat.append({**cell, "metric": metric, "value": 100.0 * float(value)})
    df = pd.DataFrame(flat)
    grouped = df.groupby([*axes, "metric"], sort=True)["value"]
    out = grouped.mean().rename("mean").to_frame()
    out["std"] = grouped.std(ddof=1)
    out = out.reset_index()
    out["dataset"] = sweep.get("dataset", "")
    return out


def sweep_figures(sweep: dict[str, Any], metric: str = "mAP") -> tuple[Figure, Table]:
    """Figure and table of a sweep: a heatmap for two axes, a curve for one.

    Raises:
        InputError: More than two axes (render slices of the frame with :func:`heatmap`).
    """
    df = sweep_ablation(sweep)
    axes = list(sweep["grid"])
    title = f"{sweep['baseline']} sweep on {sweep.get('dataset', '')} ({sweep['protocol']})"
    if len(axes) == 2:
        fig = heatmap(df, axes[0], axes[1], metric, title=title)
    elif len(axes) == 1:
        fig = curve(df, axes[0], [metric], title=title)
    else:
        raise InputError(describe("grid", "sweep_figures", "one or two axes", len(axes),
                                  "render slices with heatmap()"))
    table = ablation_table(df, axes, [metric, "rank1"], key=f"sweep-{sweep['baseline']}",
                           title=title)
    return fig, table
