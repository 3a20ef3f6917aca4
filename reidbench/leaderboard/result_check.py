"""The one check of a result record, shared by ``reidbench validate`` and ``leaderboard add``.

A result record (``results.json`` + ``per_query.npz``, docs/results-schema.md) is accepted only when

* its protocol is registered under exactly that id, and its ``fingerprint`` and ``evaluation`` equal
  the registry's (a record whose evaluation was edited, or computed by another reidbench, is not the
  protocol it names);
* ``headline_ap`` and every key of ``metrics_by_variant`` are AP variants the metric engine
  registers, the headline being the protocol's;
* every metric name is one of :data:`~reidbench.leaderboard.schema.METRICS`, every value a
  fraction in [0, 1], every bootstrap CI ``[lo, hi]`` within [0, 1] with ``lo <= value <= hi``;
* ``splits`` names splits of the protocol, each once;
* ``per_query.npz`` exists, loads, and holds arrays for every split;
* the record is consistent with itself
  (:func:`reidbench.engine.consistency.consistency_problems`): every summary number equals its
  recomputation from ``per_query.npz``, whose sha256 the record names, and the record names the
  sha256 of what was evaluated.

:func:`check_result` returns every problem, one line each, naming the file and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from reidbench.errors import ReidbenchError, describe
from reidbench.leaderboard.schema import METRICS
from reidbench.metrics import AP_VARIANTS

__all__ = ["check_result"]

# Slack for a point estimate computed in another summation order than its bootstrap interval.
_TOL = 1e-9


def _fraction(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0.0 <= value <= 1.0)


class _Problems:
    """Collects one-line problems about one results.json."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[str] = []

    def add(self, field: str, expected: str, got: object, fix: str = "re-run the evaluation"
            ) -> None:
        self.items.append(describe(f"field {field}", self.where, expected, got, fix))


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, (dict, list)) else type(value).__name__


def _check_ci(p: _Problems, ci: Any, value: Any, field: str) -> None:
    if ci is None:
        return
    if not (isinstance(ci, list) and len(ci) == 2 and all(_fraction(x) for x in ci)):
        p.add(field, "null or [lo, hi] with both ends fractions in [0, 1]", _show(ci))
        return
    lo, hi = ci
    if not lo - _TOL <= (value if _fraction(value) else lo) <= hi + _TOL:
        p.add(field, "lo <= value <= hi", f"[{lo}, {hi}] around value {value!r}")


def _check_summary(p: _Problems, metrics: Any, field: str) -> None:
    """``{metric: {"value", "ci", "std"?, "per_split"?}}``: names, fractions, intervals."""
    if not isinstance(metrics, dict) or not metrics:
        p.add(field, "an object of summary metrics (" + ", ".join(METRICS) + ")", _show(metrics))
        return
    for name, entry in metrics.items():
        f = f"{field}.{name}"
        if name not in METRICS:
            p.add(f, "a metric name among " + ", ".join(METRICS), repr(name))
            continue
        if not isinstance(entry, dict):
            p.add(f, 'an object {"value", "ci"}', _show(entry))
            continue
        value = entry.get("value")
        if value is not None and not _fraction(value):
            p.add(f"{f}.value", "a fraction in [0, 1] (result records store fractions)",
                  repr(value))
        _check_ci(p, entry.get("ci"), value, f"{f}.ci")
        std = entry.get("std")
        if std is not None and not _fraction(std):
            p.add(f"{f}.std", "null or a fraction in [0, 1]", repr(std))
        per_split = entry.get("per_split")
        if per_split is not None and not (isinstance(per_split, list)
                                          and all(_fraction(x) for x in per_split)):
            p.add(f"{f}.per_split", "a list of fractions in [0, 1]", _show(per_split))


def _check_variants(p: _Problems, by_variant: Any, field: str, ap_names: tuple[str, ...]) -> None:
    """``{variant: {metric: fraction}}``: registered AP variants, known metrics, fractions."""
    if not isinstance(by_variant, dict):
        p.add(field, "an object {AP variant: {metric: fraction}}", _show(by_variant))
        return
    for variant, values in by_variant.items():
        f = f"{field}.{variant}"
        if variant not in ap_names:
            p.add(f, "a registered AP variant (" + ", ".join(ap_names) + ")", repr(variant))
            continue
        if not isinstance(values, dict):
            p.add(f, "an object {metric: fraction}", _show(values))
            continue
        for name, value in values.items():
            if name not in METRICS:
                p.add(f"{f}.{name}", "a metric name among " + ", ".join(METRICS), repr(name))
            elif value is not None and not _fraction(value):
                p.add(f"{f}.{name}", "a fraction in [0, 1]", repr(value))


def _registered(p: _Problems, proto: Any) -> Any:
    """The registered protocol the record names, or None (with the problem recorded)."""
    from reidbench.protocols import PROTOCOLS
    from reidbench.registry import suggest

    if not isinstance(proto, dict):
        p.add("protocol", "an object with id, fingerprint and evaluation", _show(proto))
        return None
    pid = proto.get("id")
    if not isinstance(pid, str) or pid not in PROTOCOLS:
        hint = suggest(pid, PROTOCOLS.names()) if isinstance(pid, str) else ""
        p.add("protocol.id", "a registered protocol id with version (see `reidbench protocols "
              "list`)", repr(pid), hint or "re-run the evaluation under a registered protocol")
        return None
    registered = PROTOCOLS.get(pid)
    if proto.get("fingerprint") != registered.fingerprint:
        p.add("protocol.fingerprint", f"{registered.fingerprint} (protocol {pid} as registered)",
              repr(proto.get("fingerprint")), "re-run the evaluation with this reidbench version")
    evaluation = proto.get("evaluation")
    want = registered.evaluation_dict()
    if evaluation != want:
        if isinstance(evaluation, dict):
            keys = sorted(k for k in set(want) | set(evaluation)
                          if evaluation.get(k, "<absent>") != want.get(k, "<absent>"))
            got = "differences in " + ", ".join(keys)
        else:
            got = _show(evaluation)
        p.add("protocol.evaluation", f"the evaluation of {pid} as registered", got,
              "re-run the evaluation with this reidbench version; do not edit results.json")
    return registered


def _check_splits(p: _Problems, splits: Any, registered: Any, ap_names: tuple[str, ...]
                  ) -> list[str]:
    """Check ``splits``; return the split names found."""
    if not isinstance(splits, list) or not splits:
        p.add("splits", "a non-empty list (one entry per split evaluated)", _show(splits))
        return []
    allowed = tuple(registered.evaluation.splits) if registered is not None else None
    names: list[str] = []
    for i, entry in enumerate(splits):
        f = f"splits[{i}]"
        if not isinstance(entry, dict):
            p.add(f, "an object", _show(entry))
            continue
        name = entry.get("split")
        if allowed is not None and name not in allowed:
            p.add(f"{f}.split", f"a split of {registered.id} ({', '.join(allowed)})", repr(name))
        elif name in names:
            p.add(f"{f}.split", "each split once", f"{name!r} twice")
        elif isinstance(name, str):
            names.append(name)
        _check_summary(p, entry.get("metrics"), f"{f}.metrics")
        _check_variants(p, entry.get("metrics_by_variant", {}), f"{f}.metrics_by_variant",
                        ap_names)
    return names


def _check_per_query(problems: list[str], folder: Path, split_names: list[str],
                     record: dict[str, Any]) -> None:
    from reidbench.engine.consistency import consistency_problems
    from reidbench.engine.results import load_per_query
    from reidbench.fileio import sha256_file

    npz = folder / "per_query.npz"
    if not npz.is_file():
        problems.append(describe("per_query.npz", str(folder), "the per-query arrays beside "
                                 "results.json", "no such file", "copy the whole result "
                                 "directory written by `reidbench evaluate`"))
        return
    try:
        arrays = load_per_query(npz)
    except ReidbenchError as exc:
        problems.append(str(exc))
        return
    for name in split_names:
        if not any(k.startswith(f"{name}/") for k in arrays):
            problems.append(describe("per_query.npz", str(npz), f"arrays of split {name!r} "
                                     f"({name}/ap, {name}/topk_index, ...)", "none",
                                     "re-run the evaluation"))
    if not problems:  # the numbers are compared once the structure holds
        problems += consistency_problems(record, arrays, per_query_sha256=sha256_file(npz),
                                         where=str(folder / "results.json"))


def check_result(record: Any, folder: str | Path) -> list[str]:
    """Return every problem of a result record (empty when it is valid).

    Args:
        record: The parsed ``results.json``.
        folder: The result directory (``per_query.npz`` is read from it).

    Returns:
        One-line messages, each naming the file and the field.
    """
    folder = Path(folder)
    p = _Problems(str(folder / "results.json"))
    if not isinstance(record, dict):
        p.add("(top level)", "a JSON object", _show(record))
        return p.items
    ap_names = tuple(AP_VARIANTS.names())
    registered = _registered(p, record.get("protocol"))
    headline = record.get("headline_ap")
    if headline not in ap_names:
        p.add("headline_ap", "a registered AP variant (" + ", ".join(ap_names) + ")",
              repr(headline))
    elif registered is not None and headline != registered.evaluation.ap:
        p.add("headline_ap", f"{registered.evaluation.ap!r} (the headline AP of {registered.id})",
              repr(headline))
    _check_summary(p, record.get("metrics"), "metrics")
    _check_variants(p, record.get("metrics_by_variant", {}), "metrics_by_variant", ap_names)
    names = _check_splits(p, record.get("splits"), registered, ap_names)
    _check_per_query(p.items, folder, names, record)
    return p.items
