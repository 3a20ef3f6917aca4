"""The leaderboard file schema (``reidbench.leaderboard/1``) and its validator.

A leaderboard file is one JSON object holding the records of one printed table: its ``paper`` and
``table`` (with the printed column layout) and a list of ``records``. Two kinds exist:

* ``published_results``: one record per (printed row, dataset) with the metrics exactly as printed
  (percent, with the printed string kept so ``80.0`` stays ``80.0``), and the provenance that makes
  rows comparable or not: protocol (dataset, mode, MARS gallery variant, the suite protocol it
  matches), AP formula, backbone, setting, ablation axes.
* ``dataset_statistics``: one record per dataset with the printed statistics (DenseIL Table 1).

The full field list is in ``leaderboards/SCHEMA.md``. The validator is plain Python: every problem
names the file and the field (``records[3].metrics.mAP.value``). :func:`check_leaderboard` returns
all problems; :func:`validate_leaderboard` raises :class:`~reidbench.errors.DataError` on the first.
"""

from __future__ import annotations

import math
import re
from typing import Any

from reidbench.errors import DataError, describe
from reidbench.metrics import AP_VARIANTS, SUMMARY_METRICS
from reidbench.protocols.record import DATASETS

__all__ = [
    "SCHEMA_ID",
    "KINDS",
    "DATASETS",
    "METRICS",
    "MODES",
    "GALLERIES",
    "UNITS",
    "MARKS",
    "AP_UNKNOWN",
    "check_leaderboard",
    "validate_leaderboard",
]

SCHEMA_ID = "reidbench.leaderboard/1"
KINDS = ("published_results", "dataset_statistics")
METRICS = SUMMARY_METRICS  # the metric engine's summary names, in column order
MODES = ("v2v", "i2v")
# Same words as reidbench.protocols.Evaluation.gallery, plus "unknown".
GALLERIES = ("with_query", "without_query", "dataset", "unknown")
UNITS = {"percent": 100.0, "fraction": 1.0}
MARKS = ("best", "second")
SOURCES = ("published",)
AP_UNKNOWN = "unknown"

_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_COUNT_RE = re.compile(r"^\d{1,3}(,\d{3})*$|^\d+$")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.+\-:/]*$")
_KEY_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class _Checker:
    """Collects problems as one-line messages naming the file and field."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[str] = []

    def add(self, field: str, expected: str, got: object, fix: str = "") -> None:
        self.problems.append(describe(f"field {field}", self.where, expected, got, fix))

    def obj(self, value: Any, field: str) -> bool:
        if not isinstance(value, dict):
            self.add(field, "a JSON object", _show(value))
            return False
        return True

    def keys(self, value: dict[str, Any], field: str, required: tuple[str, ...],
             optional: tuple[str, ...] = ()) -> None:
        for key in required:
            if key not in value:
                self.add(f"{field}.{key}" if field else key, "to be present", "nothing",
                         f"add '{key}' (see leaderboards/SCHEMA.md)")
        for key in value:
            if key not in required and key not in optional:
                self.add(f"{field}.{key}" if field else key, "no such field (allowed: "
                         + ", ".join(required + optional) + ")", repr(key),
                         "remove it or fix its spelling")

    def text(self, value: Any, field: str, *, nullable: bool = False) -> bool:
        if value is None and nullable:
            return True
        if not isinstance(value, str) or not value.strip():
            self.add(field, "a non-empty string" + (" or null" if nullable else ""), _show(value))
            return False
        return True

    def choice(self, value: Any, field: str, choices: tuple[str, ...]) -> bool:
        if value not in choices:
            self.add(field, "one of " + ", ".join(repr(c) for c in choices), _show(value))
            return False
        return True


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return f"boolean {value}"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"number {value}"
    return type(value).__name__ if not isinstance(value, (list, dict)) else (
        "a list" if isinstance(value, list) else "an object")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_printed(c: _Checker, value: Any, printed: Any, field: str, pfield: str) -> None:
    """The printed string must be a plain decimal whose value is the stored number."""
    if not isinstance(printed, str) or not _NUMBER_RE.match(printed):
        c.add(pfield, "the number as printed, e.g. '79.61' or '80.0'", _show(printed),
              "copy the cell text from the paper")
        return
    if _is_number(value) and float(printed) != float(value):
        c.add(field, f"{printed} (the value of {pfield.rsplit('.', 1)[-1]} {printed!r})",
              _show(value), "make the number and the printed string agree")


def _check_cell(c: _Checker, cell: Any, field: str, scale: float, has_trials: bool) -> None:
    if not c.obj(cell, field):
        return
    c.keys(cell, field, ("value", "printed"), ("std", "std_printed", "mark"))
    value = cell.get("value")
    if not _is_number(value):
        c.add(f"{field}.value", "a finite number", _show(value))
    elif not 0.0 <= value <= scale:
        unit = "percent" if scale == 100.0 else "fraction"
        c.add(f"{field}.value", f"a {unit} in [0, {scale:g}]", _show(value),
              "store percent as printed (79.6, not 0.796)" if unit == "percent" else "")
    if "printed" in cell:
        _check_printed(c, value, cell["printed"], f"{field}.value", f"{field}.printed")
    if ("std" in cell) != ("std_printed" in cell):
        c.add(f"{field}.std", "'std' and 'std_printed' together", "only one of them")
    if "std" in cell:
        std = cell["std"]
        if not _is_number(std) or std < 0 or std > scale:
            c.add(f"{field}.std", f"a number in [0, {scale:g}]", _show(std))
        if "std_printed" in cell:
            _check_printed(c, std, cell["std_printed"], f"{field}.std", f"{field}.std_printed")
        if not has_trials:
            c.add(f"{field}.std", "a record with 'trials' (how many runs the mean +- std is over)",
                  "no 'trials' on the record", "add 'trials' to the record")
    if "mark" in cell:
        c.choice(cell["mark"], f"{field}.mark", MARKS)


def _check_paper(c: _Checker, paper: Any) -> None:
    if not c.obj(paper, "paper"):
        return
    c.keys(paper, "paper", ("key", "title", "authors", "venue", "year", "document"), ("seed",))
    for key in ("title", "authors", "venue", "document"):
        c.text(paper.get(key), f"paper.{key}")
    key = paper.get("key")
    if not isinstance(key, str) or not _ID_RE.match(key):
        c.add("paper.key", "a lower-case slug such as 'cosam'", _show(key))
    year = paper.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
        c.add("paper.year", "a year such as 2021", _show(year))


def _check_table(c: _Checker, table: Any, kind: str) -> set[tuple[str, str]]:
    """Check the table block; return the (dataset, metric) columns it declares."""
    declared: set[tuple[str, str]] = set()
    if not c.obj(table, "table"):
        return declared
    needs = ("number", "caption", "columns") if kind == "published_results" else (
        "number", "caption", "fields")
    c.keys(table, "table", needs, ("notes", "dataset_names", "measured_on"))
    c.text(table.get("number"), "table.number")
    if "measured_on" in table:
        c.text(table["measured_on"], "table.measured_on")
    if "dataset_names" in table and c.obj(table["dataset_names"], "table.dataset_names"):
        for ds, name in table["dataset_names"].items():
            c.choice(ds, f"table.dataset_names.{ds}", DATASETS)
            c.text(name, f"table.dataset_names.{ds}")
    c.text(table.get("caption"), "table.caption")
    key = "columns" if kind == "published_results" else "fields"
    cols = table.get(key)
    if not isinstance(cols, list) or not cols:
        c.add(f"table.{key}", "a non-empty list", _show(cols))
        return declared
    for i, col in enumerate(cols):
        f = f"table.{key}[{i}]"
        if not c.obj(col, f):
            continue
        if kind == "published_results":
            c.keys(col, f, ("dataset", "metric", "header"), ("group",))
            ok = c.choice(col.get("dataset"), f"{f}.dataset", DATASETS)
            ok = c.choice(col.get("metric"), f"{f}.metric", METRICS) and ok
            c.text(col.get("header"), f"{f}.header")
            pair = (col.get("dataset"), col.get("metric"))
            if ok and pair in declared:
                c.add(f, "each (dataset, metric) column once", f"{pair} twice")
            if ok:
                declared.add(pair)  # type: ignore[arg-type]
        else:
            c.keys(col, f, ("name", "header", "meaning"))
            for k in ("name", "header", "meaning"):
                c.text(col.get(k), f"{f}.{k}")
            declared.add(("*", str(col.get("name"))))
    return declared


def _check_protocol(c: _Checker, proto: Any, field: str, dataset: Any) -> None:
    if not c.obj(proto, field):
        return
    c.keys(proto, field, ("dataset", "mode", "gallery", "suite_protocol", "basis"),
           ("train_dataset", "assumed"))
    if "assumed" in proto and c.text(proto["assumed"], f"{field}.assumed") and \
            proto.get("suite_protocol") is None:
        c.add(f"{field}.assumed", "a suite_protocol whose match is assumed", "suite_protocol "
              "null", "drop 'assumed', or name the suite protocol the assumption is about")
    c.choice(proto.get("dataset"), f"{field}.dataset", DATASETS)
    if proto.get("dataset") != dataset:
        c.add(f"{field}.dataset", f"the record's dataset {dataset!r}", _show(proto.get("dataset")))
    c.choice(proto.get("mode"), f"{field}.mode", MODES)
    c.choice(proto.get("gallery"), f"{field}.gallery", GALLERIES)
    if "train_dataset" in proto:
        c.choice(proto["train_dataset"], f"{field}.train_dataset", DATASETS)
    c.text(proto.get("basis"), f"{field}.basis")
    suite = proto.get("suite_protocol")
    if suite is not None:
        if not c.text(suite, f"{field}.suite_protocol", nullable=True):
            return
        from reidbench.protocols import PROTOCOLS  # lower layer; imported when needed

        if suite not in PROTOCOLS:
            c.add(f"{field}.suite_protocol", "a registered protocol id with version such as "
                  "'mars/v2v@1', or null", repr(suite), "see `reidbench protocols list`")
        elif proto.get("dataset") in DATASETS:
            ev = PROTOCOLS.get(suite).evaluation
            if ev.dataset != proto.get("dataset") or ev.mode != proto.get("mode"):
                c.add(f"{field}.suite_protocol", f"a protocol on {proto.get('dataset')} "
                      f"{proto.get('mode')}", f"{suite!r} ({ev.dataset} {ev.mode})")
            elif proto.get("train_dataset") != ev.train_dataset:
                c.add(f"{field}.train_dataset", f"{ev.train_dataset!r} (the training set of "
                      f"{suite})", _show(proto.get("train_dataset")),
                      "fix the training set or the suite protocol")
            elif proto.get("gallery") not in ("unknown", ev.gallery):
                c.add(f"{field}.gallery", f"{ev.gallery!r} (the gallery of {suite})",
                      repr(proto.get("gallery")), "fix the gallery or the suite protocol")


def _check_result_record(c: _Checker, rec: dict[str, Any], f: str,
                         columns: set[tuple[str, str]], ap_names: tuple[str, ...]) -> None:
    c.keys(rec, f, ("id", "row", "method", "label", "dataset", "backbone", "setting", "axes",
                    "protocol", "ap_variant", "ap_basis", "units", "metrics", "not_reported",
                    "source"), ("method_key", "fixed", "trials", "cited", "notes"))
    for key in ("method", "label", "backbone", "setting", "ap_basis"):
        c.text(rec.get(key), f"{f}.{key}")
    if "method_key" in rec and not (isinstance(rec["method_key"], str)
                                    and _KEY_RE.match(rec["method_key"])):
        c.add(f"{f}.method_key", "a lower-case slug naming the method's paper, such as "
              "'subramaniam2019-cosam'", _show(rec["method_key"]))
    dataset = rec.get("dataset")
    c.choice(dataset, f"{f}.dataset", DATASETS)
    c.choice(rec.get("source"), f"{f}.source", SOURCES)
    units = rec.get("units")
    c.choice(units, f"{f}.units", tuple(UNITS))
    scale = UNITS.get(units, 100.0) if isinstance(units, str) else 100.0
    for key in ("axes", "fixed"):
        if key in rec and c.obj(rec[key], f"{f}.{key}"):
            for name, val in rec[key].items():
                ok = isinstance(val, (str, int, float))  # bool included (an on/off axis)
                ok = ok or (isinstance(val, list) and all(isinstance(v, (str, int)) for v in val))
                if not ok:
                    c.add(f"{f}.{key}.{name}", "a number, string, boolean or a list of numbers or "
                          "strings", _show(val))
    trials = rec.get("trials")
    if "trials" in rec and (not isinstance(trials, int) or isinstance(trials, bool) or trials < 2):
        c.add(f"{f}.trials", "an integer >= 2", _show(trials))
    if "cited" in rec and c.obj(rec["cited"], f"{f}.cited"):
        c.keys(rec["cited"], f"{f}.cited", ("ref",), ("venue",))
    if "protocol" in rec:  # absence is already reported by keys()
        _check_protocol(c, rec["protocol"], f"{f}.protocol", dataset)
    if "metrics" not in rec or "not_reported" not in rec:
        return
    metrics, missing = rec["metrics"], rec["not_reported"]
    if not c.obj(metrics, f"{f}.metrics") or not c.obj(missing, f"{f}.not_reported"):
        return
    for name, cell in metrics.items():
        if c.choice(name, f"{f}.metrics.{name}", METRICS):
            _check_cell(c, cell, f"{f}.metrics.{name}", scale, "trials" in rec)
    for name, printed in missing.items():
        c.choice(name, f"{f}.not_reported.{name}", METRICS)
        if not isinstance(printed, str):
            c.add(f"{f}.not_reported.{name}", "the placeholder as printed ('-', or '' where the "
                  "cell is absent)", _show(printed))
        if name in metrics:
            c.add(f"{f}.not_reported.{name}", "a metric not also in 'metrics'", repr(name))
    if dataset in DATASETS and columns:
        want = {m for d, m in columns if d == dataset}
        have = set(metrics) | set(missing)
        if not want:
            c.add(f"{f}.dataset", "a dataset with columns in table.columns", repr(dataset))
        for name in sorted(want - have):
            c.add(f"{f}.metrics.{name}", "every column of the table for this dataset, as a value "
                  "or in not_reported", "nothing", "transcribe the cell")
        for name in sorted(have - want):
            c.add(f"{f}.metrics.{name}", f"a column of table.columns for {dataset!r}",
                  repr(name), "declare the column in table.columns")
    ap = rec.get("ap_variant")
    if ap is None:
        if "mAP" in metrics:
            c.add(f"{f}.ap_variant", "an AP variant name or 'unknown' (the record has an mAP)",
                  "null")
    elif ap != AP_UNKNOWN and ap not in ap_names:
        c.add(f"{f}.ap_variant", "one of " + ", ".join(repr(n) for n in ap_names + (AP_UNKNOWN,)),
              repr(ap), "use a registered AP variant, or 'unknown'")


def _check_stat_record(c: _Checker, rec: dict[str, Any], f: str,
                       fields: set[tuple[str, str]]) -> None:
    c.keys(rec, f, ("id", "dataset", "label", "statistics", "source"), ("notes",))
    c.choice(rec.get("dataset"), f"{f}.dataset", DATASETS)
    c.text(rec.get("label"), f"{f}.label")
    c.choice(rec.get("source"), f"{f}.source", SOURCES)
    if "statistics" not in rec:
        return
    stats = rec["statistics"]
    if not c.obj(stats, f"{f}.statistics"):
        return
    names = {n for _, n in fields}
    for name in sorted(names - set(stats)):
        c.add(f"{f}.statistics.{name}", "every field of table.fields", "nothing")
    for name, cell in stats.items():
        g = f"{f}.statistics.{name}"
        if name not in names:
            c.add(g, "a field declared in table.fields", repr(name))
        if not c.obj(cell, g):
            continue
        c.keys(cell, g, ("value", "printed"))
        value, printed = cell.get("value"), cell.get("printed")
        if not isinstance(printed, str) or not printed:
            c.add(f"{g}.printed", "the cell as printed", _show(printed))
        elif isinstance(value, int) and not isinstance(value, bool):
            if not _COUNT_RE.match(printed) or int(printed.replace(",", "")) != value:
                c.add(f"{g}.value", f"the count printed as {printed!r}", _show(value))
            elif value < 0:
                c.add(f"{g}.value", "a count >= 0", _show(value))
        elif isinstance(value, str):
            if value != printed:
                c.add(f"{g}.value", f"the text printed, {printed!r}", _show(value))
        else:
            c.add(f"{g}.value", "an integer count or a text cell", _show(value))


def check_leaderboard(obj: Any, where: str) -> list[str]:
    """Return every schema problem of a parsed leaderboard file (empty when valid).

    Args:
        obj: The parsed JSON.
        where: The file name, used in every message.

    Returns:
        One message per problem, each naming ``where`` and the field.
    """
    c = _Checker(where)
    if not c.obj(obj, "(top level)"):
        return c.problems
    c.keys(obj, "", ("schema", "kind", "paper", "table", "records"), ("notes",))
    if obj.get("schema") != SCHEMA_ID:
        c.add("schema", repr(SCHEMA_ID), _show(obj.get("schema")),
              "this reidbench reads schema version 1 only")
        return c.problems
    kind = obj.get("kind")
    if not c.choice(kind, "kind", KINDS):
        return c.problems
    if "paper" in obj:
        _check_paper(c, obj["paper"])
    declared = _check_table(c, obj["table"], kind) if "table" in obj else set()
    if "records" not in obj:
        return c.problems
    records = obj["records"]
    if not isinstance(records, list) or not records:
        c.add("records", "a non-empty list", _show(records))
        return c.problems
    ap_names = tuple(AP_VARIANTS.names())
    seen: dict[str, int] = {}
    for i, rec in enumerate(records):
        f = f"records[{i}]"
        if not c.obj(rec, f):
            continue
        rid = rec.get("id")
        if not isinstance(rid, str) or not _ID_RE.match(rid):
            c.add(f"{f}.id", "a lower-case id such as 'cosam-t4:se-resnet50-c45:mars'", _show(rid))
        elif rid in seen:
            c.add(f"{f}.id", "ids unique within the file", f"{rid!r} also at records[{seen[rid]}]")
        else:
            seen[rid] = i
        if kind == "published_results":
            row = rec.get("row")
            if not isinstance(row, int) or isinstance(row, bool) or row < 0:
                c.add(f"{f}.row", "the printed row index (integer >= 0)", _show(row))
            _check_result_record(c, rec, f, declared, ap_names)
        else:
            _check_stat_record(c, rec, f, declared)
    return c.problems


def validate_leaderboard(obj: Any, where: str) -> None:
    """Raise on the first schema problem of a parsed leaderboard file.

    Raises:
        DataError: Naming the file and field; the message says how many more problems there are.
    """
    problems = check_leaderboard(obj, where)
    if problems:
        more = f" ({len(problems) - 1} more problem(s); run `reidbench validate {where}`)" if len(
            problems) > 1 else ""
        raise DataError(problems[0] + more)
