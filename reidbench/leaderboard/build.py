"""Leaderboard tables built with pandas from records, ready for any renderer.

Two kinds of table:

* **Paper tables** (:func:`paper_table`): one published table in its printed layout (rows in
  printed order, the printed columns and their dataset groups, numbers with their printed
  precision, ``mean ± std`` where the paper prints it). Best and second-best cells are computed by
  the suite per column (:func:`rank_marks`), so they can differ from the paper's own marks where
  values tie.
* **Leaderboards** (:func:`leaderboard_tables`): one per dataset and reference protocol. Published
  comparison rows (records whose ``setting`` is not an ablation) and evaluated submissions are
  sorted by a chosen metric. Every row is checked against the reference protocol: rows known to use
  another query/gallery construction or AP formula go to a separate *not comparable* section
  (never ranked, never marked); rows whose provenance is unknown are ranked but flagged
  *unverified*. A result quoted by several papers is listed once
  (:func:`~reidbench.leaderboard.entries.deduplicate`).

Entries (the candidate rows) are built in :mod:`reidbench.leaderboard.entries`; their names are
re-exported here.

A :class:`Table` holds three aligned DataFrames (printed text, numeric values, marks) plus the
section of each row; :mod:`reidbench.report.tables` renders it as Markdown, LaTeX, HTML or CSV.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reidbench.errors import InputError, describe
from reidbench.leaderboard.entries import (
    DATASET_NAMES,
    METRIC_HEADERS,
    METRIC_ORDER,
    Entry,
    cell_text,
    deduplicate,
    evaluated_entry,
    published_entries,
)
from reidbench.leaderboard.records import LeaderboardFile

__all__ = ["Column", "Table", "rank_marks", "paper_table", "statistics_table", "paper_tables",
           "leaderboard_tables",
           "Entry", "published_entries", "evaluated_entry", "deduplicate", "METRIC_ORDER",
           "METRIC_HEADERS", "DATASET_NAMES", "RANKED", "NOT_COMPARABLE", "missing_leaderboards"]

RANKED = "ranked"
NOT_COMPARABLE = "not comparable"
UNVERIFIED_MARK = "†"
DIFFERS_MARK = "‡"


@dataclass(frozen=True)
class Column:
    """One printed column.

    Attributes:
        key: Column key in the table's DataFrames.
        header: Header as printed.
        group: Group header above it (a dataset name), or ``""``.
        metric: The metric it holds (``mAP``, ``rank1``...), None for a text column.
    """

    key: str
    header: str
    group: str = ""
    metric: str | None = None


@dataclass
class Table:
    """A table ready to render.

    Attributes:
        key: File stem of the rendered outputs (``denseil-table2``, ``leaderboard-mars-v2v-1``).
        title: One-line title.
        caption: Caption (printed caption for paper tables).
        columns: Columns in order.
        text: Printed cell text (``""`` for blank), one column per :attr:`Column.key`.
        values: Numeric values of the metric columns (NaN where blank); a mean for ``mean ± std``.
        marks: ``"best"``, ``"second"`` or ``""`` per metric cell.
        sections: Section of each row (``ranked`` or ``not comparable``; paper tables: ``ranked``).
        notes: Footnotes, in order.
        row_titles: Provenance of each row (where its numbers come from), shown on hover in
            HTML; empty when the table has none.
    """

    key: str
    title: str
    caption: str
    columns: list[Column]
    text: pd.DataFrame
    values: pd.DataFrame
    marks: pd.DataFrame
    sections: list[str]
    notes: list[str] = field(default_factory=list)
    row_titles: list[str] = field(default_factory=list)

    @property
    def metric_columns(self) -> list[Column]:
        """The columns that hold a metric."""
        return [c for c in self.columns if c.metric is not None]

    def cell(self, row: int, key: str) -> str:
        """Printed text of one cell (row position, column key)."""
        return str(self.text.iloc[row][key])


def _finite(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float)) and not math.isnan(v)


def rank_marks(values: Sequence[float | None], higher_is_better: bool = True) -> list[str]:
    """Mark the best and second-best values of one column; ties share a mark.

    Dense ranking: every cell equal to the best value is ``"best"``, every cell equal to the next
    distinct value is ``"second"``. Blank cells (None/NaN) get ``""``.

    Args:
        values: The column's values.
        higher_is_better: Direction of the metric (True for mAP and CMC).

    Returns:
        One of ``"best"``, ``"second"``, ``""`` per value.
    """
    distinct = sorted({float(v) for v in values if _finite(v)}, reverse=higher_is_better)
    best = distinct[0] if distinct else None
    second = distinct[1] if len(distinct) > 1 else None
    out = []
    for v in values:
        if not _finite(v):
            out.append("")
        elif float(v) == best:
            out.append("best")
        elif float(v) == second:
            out.append("second")
        else:
            out.append("")
    return out


def _marks_frame(values: pd.DataFrame, ranked: Sequence[bool]) -> pd.DataFrame:
    marks = pd.DataFrame("", index=values.index, columns=values.columns, dtype=object)
    idx = [i for i, r in zip(values.index, ranked, strict=True) if r]
    for col in values.columns:
        col_marks = rank_marks([values.at[i, col] for i in idx])
        for i, m in zip(idx, col_marks, strict=True):
            marks.at[i, col] = m
    return marks


# ----------------------------------------------------------------------------- paper tables
def paper_table(f: LeaderboardFile) -> Table:
    """Rebuild one published table in its printed layout, with computed best/second marks.

    Args:
        f: A ``published_results`` leaderboard file.

    Raises:
        InputError: If the file holds dataset statistics, not results.
    """
    if f.kind != "published_results":
        raise InputError(describe("leaderboard file", str(f.path), "a published_results file",
                                  f.kind, "dataset statistics have no paper table to rank"))
    recs = f.records
    table = f.data["table"]
    paper = f.data["paper"]
    by_row: dict[int, dict[str, dict[str, Any]]] = {}
    for rec in recs:
        by_row.setdefault(rec["row"], {})[rec["dataset"]] = rec
    rows = sorted(by_row)
    printed_names = table.get("dataset_names", {})  # dataset names as this table prints them
    columns = [Column("label", "Method")]
    if any(r.get("cited") for r in recs):
        columns.append(Column("proc", "Proc."))
    if len({r["backbone"] for r in recs}) > 1:
        columns.append(Column("backbone", "Backbone"))
    if any(r["protocol"].get("train_dataset") for r in recs):
        columns.append(Column("train", "Train set"))
    metric_cols = [Column(f"{c['dataset']}:{c['metric']}", c["header"],
                          c.get("group") or DATASET_NAMES.get(c["dataset"], c["dataset"]),
                          c["metric"]) for c in table["columns"]]
    columns += metric_cols
    text_rows, value_rows = [], []
    row_titles: list[str] = []
    for r in rows:
        recs_r = by_row[r]
        first = next(iter(recs_r.values()))
        t: dict[str, Any] = {"label": first["label"]}
        if "proc" in {c.key for c in columns}:
            t["proc"] = (first.get("cited") or {}).get("venue") or "-"
        t["backbone"] = first["backbone"]
        train = first["protocol"].get("train_dataset")
        t["train"] = (printed_names.get(train) or DATASET_NAMES.get(train, train)) if train else ""
        v: dict[str, float] = {}
        for c in metric_cols:
            ds, m = c.key.split(":")
            cell = recs_r.get(ds, {}).get("metrics", {}).get(m)
            t[c.key] = cell_text(cell) if cell else ""
            v[c.key] = float(cell["value"]) if cell else math.nan
        text_rows.append(t)
        row_titles.append(_row_provenance(first))
        value_rows.append(v)
    text = pd.DataFrame(text_rows, columns=[c.key for c in columns]).fillna("")
    values = pd.DataFrame(value_rows, columns=[c.key for c in metric_cols], dtype=float)
    marks = _marks_frame(values, [True] * len(rows))
    notes = [f"Regenerated from the published record {f.path.name} ({paper['authors']}, "
             f"{paper['venue']} {paper['year']}, {paper['document']}, Table {table['number']}). "
             "Numbers as printed (percent); bold = best, underlined = second best, computed per "
             "column by reidbench (ties share a mark), so marks can differ from the paper's.",
             "The paper's own comparison: rows may use different protocols or AP formulas; see "
             "the per-dataset leaderboards for comparability."]
    title = f"{paper['authors']} ({paper['key'].upper()}), Table {table['number']}"
    if table.get("measured_on"):
        notes.insert(0, f"Measured on {table['measured_on']}.")
    return Table(f.key, title, table["caption"], columns, text, values, marks,
                 [RANKED] * len(rows), notes, row_titles)


def _row_provenance(rec: dict[str, Any]) -> str:
    """A printed row's method, setting and protocol basis (its hover text in HTML)."""
    cited = rec.get("cited") or {}
    parts = [str(rec.get("method", "")) + (f", ref. {cited['ref']}" if cited.get("ref") else "")]
    if rec.get("setting"):
        parts.append(str(rec["setting"]))
    if rec["protocol"].get("basis"):
        parts.append(f"protocol: {rec['protocol']['basis']}")
    return "; ".join(p for p in parts if p)


def statistics_table(f: LeaderboardFile) -> Table:
    """Rebuild a ``dataset_statistics`` table as printed (DenseIL Table 1).

    One row per statistic (``# Identities``...), one column per dataset (headed by the printed
    label), cells as printed; nothing is ranked or marked.

    Raises:
        InputError: If the file holds results, not dataset statistics.
    """
    if f.kind != "dataset_statistics":
        raise InputError(describe("leaderboard file", str(f.path), "a dataset_statistics file",
                                  f.kind, "use paper_table() for published results"))
    table, paper = f.data["table"], f.data["paper"]
    columns = [Column("field", "Datasets")] + [Column(f"{r['dataset']}", r["label"])
                                               for r in f.records]
    text = pd.DataFrame([{"field": fd["header"], **{r["dataset"]: r["statistics"][fd["name"]][
        "printed"] for r in f.records}} for fd in table["fields"]],
        columns=[c.key for c in columns])
    empty = pd.DataFrame(index=text.index)
    notes = [f"Regenerated from the published record {f.path.name} ({paper['authors']}, "
             f"{paper['venue']} {paper['year']}, {paper['document']}, Table {table['number']}). "
             "Cells as printed."]
    notes += [f"Row \"{fd['header']}\": {fd['meaning']}." for fd in table["fields"]
              if fd["name"] == "frames"]
    title = f"{paper['authors']} ({paper['key'].upper()}), Table {table['number']}"
    return Table(f.key, title, table["caption"], columns, text, empty, empty.copy(),
                 [RANKED] * len(text), notes)


def paper_tables(files: Iterable[LeaderboardFile]) -> list[Table]:
    """Every published file as printed, in file order.

    Results go through :func:`paper_table`, dataset statistics through :func:`statistics_table`.
    """
    return [paper_table(f) if f.kind == "published_results" else statistics_table(f)
            for f in files]


# ----------------------------------------------------------------------------- leaderboards
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _track(e: Entry) -> tuple[str, str, str | None]:
    return (e.dataset, e.mode, e.train_dataset)


def _protocols_for(track: tuple[str, str, str | None], entries: list[Entry]) -> list[Any]:
    from reidbench.protocols import get_protocol, list_protocols

    ds, mode, train = track
    matching = [p for p in list_protocols() if p.evaluation.dataset == ds
                and p.evaluation.mode == mode and p.evaluation.train_dataset == train]
    if not matching:
        return []
    default = min(matching, key=lambda p: (len(p.id), p.id))
    used = {e.protocol_id for e in entries if e.source == "evaluated"}
    return [default] + sorted((get_protocol(u) for u in used if u and u != default.id),
                              key=lambda p: p.id)


def leaderboard_tables(entries: Sequence[Entry], protocols: Sequence[str] | None = None,
                       sort_by: str | None = None) -> list[Table]:
    """Build one leaderboard per (dataset, mode, training set) and reference protocol.

    Args:
        entries: Published and evaluated entries (:func:`published_entries`,
            :func:`evaluated_entry`).
        protocols: Reference protocol ids; default: for each dataset track its base protocol
            (the shortest registered id, e.g. ``mars/v2v@1``) plus every protocol an evaluated
            entry used.
        sort_by: Metric to sort by (default ``mAP`` where the table has it, else ``rank1``).

    Raises:
        InputError: Unknown protocol id or sort metric.
    """
    from reidbench.protocols import get_protocol

    if sort_by is not None and sort_by not in METRIC_ORDER:
        raise InputError(describe("sort_by", "leaderboard_tables", f"one of {METRIC_ORDER}",
                                  repr(sort_by), ""), param="sort_by")
    tracks: dict[tuple[str, str, str | None], list[Entry]] = {}
    for e in entries:
        tracks.setdefault(_track(e), []).append(e)
    tracks = {t: deduplicate(es) for t, es in tracks.items()}
    wanted = [get_protocol(p) for p in protocols] if protocols else None
    tables = []
    for track in sorted(tracks, key=lambda t: (t[0], t[1], t[2] or "")):
        if wanted is not None:
            refs = [p for p in wanted if (p.evaluation.dataset, p.evaluation.mode,
                                          p.evaluation.train_dataset) == track]
        else:
            refs = _protocols_for(track, tracks[track])
        for proto in refs:
            tables.append(_leaderboard(proto, tracks[track], sort_by))
    return tables


def missing_leaderboards(protocols: Sequence[str], tables: Sequence[Table],
                         files: Iterable[LeaderboardFile]) -> list[str]:
    """Say why a requested reference protocol got no leaderboard (one sentence per protocol).

    A leaderboard needs at least one comparison row (a published record that is not an ablation)
    or an evaluated submission on the protocol's track (dataset, mode, training set).

    Args:
        protocols: The protocol ids asked for (``--protocol``).
        tables: What :func:`leaderboard_tables` built.
        files: The leaderboard files the entries came from.
    """
    from reidbench.protocols import get_protocol

    built = {t.key for t in tables}
    out = []
    for pid in protocols:
        proto = get_protocol(pid)
        if f"leaderboard-{_slug(proto.id)}" in built:
            continue
        ev = proto.evaluation
        train = f", trained on {DATASET_NAMES.get(ev.train_dataset, ev.train_dataset)}" \
            if ev.train_dataset else ""
        track = f"{DATASET_NAMES.get(ev.dataset, ev.dataset)} {ev.mode.upper()}{train}"
        held = sorted({f.key for f in files if f.kind == "published_results" for r in f.records
                       if (r["dataset"], r["protocol"]["mode"],
                           r["protocol"].get("train_dataset")) == (ev.dataset, ev.mode,
                                                                   ev.train_dataset)})
        why = (f"the published records on {track} ({', '.join(held)}) are ablation rows, shown "
               "in the paper tables (tables/) but never ranked" if held
               else f"no published record on {track}")
        out.append(f"no leaderboard for {proto.id}: {why}, and no submission was evaluated on "
                   f"{track} (file one with `reidbench leaderboard add RESULT_DIR`)")
    return out


def _source_text(e: Entry) -> str:
    text = f"{e.level if e.source == 'evaluated' else e.source}: {e.origin}"
    if e.cited:
        text += f" ref. {e.cited}"
    if e.also:
        text += f" (also quoted in {', '.join(e.also)}"
        text += f"; differs: {', '.join(e.differs)})" if e.differs else ")"
    return text


def _leaderboard(proto: Any, entries: list[Entry], sort_by: str | None) -> Table:
    ev = proto.evaluation
    present = [m for m in METRIC_ORDER if any(m in e.cells for e in entries)]
    key_metric = sort_by if sort_by in present else ("mAP" if "mAP" in present else present[0])
    checked = [(e, *e.check(proto)) for e in entries]

    def order(item: tuple[Entry, str, str]) -> tuple[int, float, str]:
        e = item[0]
        v = e.cells.get(key_metric, (math.nan, ""))[0]
        return (0 if item[1] != "no" else 1, -v if not math.isnan(v) else math.inf, e.label)

    checked.sort(key=order)
    columns = [Column("rank", "#"), Column("method", "Method"), Column("source", "Source"),
               Column("backbone", "Backbone")]
    columns += [Column(m, METRIC_HEADERS[m], DATASET_NAMES.get(ev.dataset, ev.dataset), m)
                for m in present]
    columns.append(Column("comparable", "Comparable"))
    text_rows, value_rows, sections = [], [], []
    row_titles: list[str] = []
    rank, last, shown = 0, None, 0
    for e, status, reason in checked:
        ranked = status != "no"
        v = e.cells.get(key_metric, (math.nan, ""))[0]
        if ranked:
            shown += 1
            if math.isnan(v) or v != last:
                rank = shown
            last = v
        marker = {"yes": "", "unverified": f" {UNVERIFIED_MARK}", "no": f" {DIFFERS_MARK}"}[status]
        t = {"rank": str(rank) if ranked and not math.isnan(v) else "",
             "method": e.label + marker,
             "source": _source_text(e), "backbone": e.backbone,
             "comparable": status if not reason else f"{status}: {reason}"}
        t.update({m: e.cells[m][1] if m in e.cells else "" for m in present})
        text_rows.append(t)
        value_rows.append({m: e.cells[m][0] if m in e.cells else math.nan for m in present})
        sections.append(RANKED if ranked else NOT_COMPARABLE)
        row_titles.append(e.provenance)
    text = pd.DataFrame(text_rows, columns=[c.key for c in columns]).fillna("")
    values = pd.DataFrame(value_rows, columns=present, dtype=float)
    marks = _marks_frame(values, [s == RANKED for s in sections])
    train = f", trained on {DATASET_NAMES.get(ev.train_dataset, ev.train_dataset)}" \
        if ev.train_dataset else ""
    title = (f"{DATASET_NAMES.get(ev.dataset, ev.dataset)} ({ev.mode.upper()}{train}): "
             f"reference protocol {proto.id}")
    caption = (f"Sorted by {METRIC_HEADERS[key_metric]} (percent). Reference protocol {proto.id} "
               f"(fingerprint {proto.fingerprint}): gallery {ev.gallery}, headline AP "
               f"{ev.ap}.")
    notes = [
        "Bold = best, underlined = second best among the ranked rows (ties share a mark).",
        f"{UNVERIFIED_MARK} unverified: the paper's query/gallery construction or AP formula is "
        "not established (leaderboards/SCHEMA.md); ranked, but not known to be comparable.",
        f"{DIFFERS_MARK} not comparable: known to use another protocol or AP formula; listed "
        "apart and never ranked.",
        "Published numbers as printed; evaluated numbers with two decimals and the bootstrap "
        "95% CI in brackets (± std over splits for multi-split protocols).",
    ]
    if any(e.source == "evaluated" for e in entries):
        notes.append("Source: published = a number printed in a paper; self-reported = a "
                     "submission's own result record (checked consistent with its per-query "
                     "arrays, not re-run); verified = a submission whose evaluation `reidbench "
                     "leaderboard add --verify` re-ran, every number matching "
                     "(leaderboards/SCHEMA.md).")
    notes += [e.note for e, _, _ in checked if e.note]  # the submissions' own descriptions
    return Table(f"leaderboard-{_slug(proto.id)}", title, caption, columns, text, values, marks,
                 sections, notes, row_titles)
