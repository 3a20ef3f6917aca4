"""Is a result record consistent with itself? Its summary recomputed from its per-query arrays.

``results.json`` states summary metrics; ``per_query.npz`` holds what they were computed from.
A record is consistent only when every stated number is what its own arrays give:

* per split: ``mAP`` is the mean of ``ap`` over the ``counted`` queries, and the mAP of every
  variant in ``metrics_by_variant`` the mean of ``ap_<variant>``; the headline ``ap`` equals
  ``ap_<headline>``; Rank-k is the share of counted queries whose first positive
  (``first_rank``, 1-based, 0 when none) is at rank k or better, the stored ``cmc`` curve too;
  ``mINP`` is the mean of ``inp``; ``n_queries``, ``n_gallery`` and ``n_skipped`` are the arrays'
  lengths and the uncounted queries;
* the top-level summary is the split's (one split) or the mean over splits with the sample
  standard deviation (``ddof=1``) and ``per_split`` (several), and ``n_queries`` / ``n_skipped``
  are the sums;
* ``per_query_sha256`` is the sha256 of the ``per_query.npz`` beside it (so the arrays of another
  result are refused), and the record names the sha256 of what was evaluated (a checkpoint, a
  features file or a model file).

This is the one check that ``reidbench validate``, ``leaderboard add``, ``leaderboard build`` and
``compare`` run (:func:`consistency_problems` lists every problem, :func:`require_consistent`
raises the first). It takes the record (a :class:`~reidbench.records.ResultRecord` or the
parsed JSON) and the arrays, never a path, and imports only numpy, so it works on any reader's
output. A record whose numbers were edited together with
arrays and sha256 still passes: only ``reidbench leaderboard add --verify`` (re-running the
evaluation) shows that the numbers come from the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from reidbench.errors import DataError, describe
from reidbench.records._codec import Record

__all__ = ["consistency_problems", "require_consistent", "evaluated_sha256s", "TOLERANCE"]

#: Absolute tolerance between a stored number and its recomputation (both float64 means of the
#: same arrays; JSON keeps floats exactly, so only summation order can differ).
TOLERANCE = 1e-9
_FIX = "re-run `reidbench evaluate`; results.json and per_query.npz must come from one run"


def _as_json(record: Record | Mapping[str, Any]) -> Mapping[str, Any]:
    return record.to_json() if isinstance(record, Record) else record


def evaluated_sha256s(record: Record | Mapping[str, Any]) -> list[str]:
    """Every sha256 the record gives for what was evaluated (checkpoints, features, model files).

    Looked up in ``source.adapter.checkpoint_sha256``, ``source.features_sha256`` (per split),
    ``source.model_sha256`` and each split's ``source.checkpoint_sha256`` / ``source.sha256``.
    """
    record = _as_json(record)
    found: list[str] = []

    def take(value: Any) -> None:
        if isinstance(value, str) and value:
            found.append(value)

    src = record.get("source") if isinstance(record.get("source"), Mapping) else {}
    adapter = src.get("adapter") if isinstance(src.get("adapter"), Mapping) else {}
    take(adapter.get("checkpoint_sha256"))
    take(src.get("model_sha256"))
    model = src.get("model") if isinstance(src.get("model"), Mapping) else {}
    query = model.get("query_model") if isinstance(model.get("query_model"), Mapping) else {}
    take(query.get("sha256"))  # a two-network model file (--query-model): both identify it
    feats = src.get("features_sha256")
    if isinstance(feats, Mapping):
        for value in feats.values():
            take(value)
    else:
        take(feats)
    splits = record.get("splits") if isinstance(record.get("splits"), list) else []
    for split in splits:
        info = split.get("source") if isinstance(split, Mapping) else None
        if isinstance(info, Mapping):
            for key in ("checkpoint_sha256", "sha256", "model_sha256"):
                take(info.get(key))
    return sorted(set(found))


class _Check:
    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[str] = []

    def add(self, what: str, expected: str, got: object, fix: str = _FIX) -> None:
        self.problems.append(describe(what, self.where, expected, got, fix))

    def number(self, what: str, stored: Any, recomputed: float) -> None:
        """Refuse ``stored`` unless it equals ``recomputed`` within :data:`TOLERANCE`."""
        if stored is None and math.isnan(recomputed):
            return
        ok = (isinstance(stored, (int, float)) and not isinstance(stored, bool)
              and math.isfinite(float(stored)) and not math.isnan(recomputed)
              and abs(float(stored) - recomputed) <= TOLERANCE)
        if not ok:
            self.add(what, f"{_fmt(recomputed)} (recomputed from per_query.npz)",
                     _fmt(stored))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return f"a {type(value).__name__}"
    return repr(value)[:60]


def _vector(c: _Check, arrays: Mapping[str, Any], key: str, n: int | None,
            kind: str) -> np.ndarray | None:
    """``arrays[key]`` as a 1-D float64/int64/bool vector of length ``n``, or None (+ problem)."""
    if key not in arrays:
        c.add(f"array {key}", "per_query.npz", "no such array", _FIX)
        return None
    a = np.asarray(arrays[key])
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        c.add(f"array {key}", "per_query.npz", f"a vector of {n if n is not None else 'Q'} "
              "values (one per query)", f"shape {a.shape}")
        return None
    if kind == "bool":
        if a.dtype != np.bool_:
            c.add(f"array {key}", "per_query.npz", "booleans", f"dtype {a.dtype}")
            return None
        return a
    if a.dtype.kind not in "biuf":
        c.add(f"array {key}", "per_query.npz", "numbers", f"dtype {a.dtype}")
        return None
    if kind == "int":
        if a.dtype.kind == "f" and not np.all(np.isfinite(a) & (a == np.round(a))):
            c.add(f"array {key}", "per_query.npz", "whole numbers", "non-integers")
            return None
        return a.astype(np.int64)
    return a.astype(np.float64)


def _mean(values: np.ndarray, counted: np.ndarray) -> float:
    return float(values[counted].mean()) if counted.any() else math.nan


def _split_summary(c: _Check, entry: Mapping[str, Any], arrays: Mapping[str, Any],
                   headline: Any, variants: set[str]) -> dict[str, float] | None:
    """Check one split against its arrays; return its recomputed headline summary."""
    name = entry.get("split")
    f = f"splits[{name}]"
    p = f"{name}/"
    n_q = entry.get("n_queries")
    n = n_q if isinstance(n_q, int) and not isinstance(n_q, bool) and n_q >= 0 else None
    counted = _vector(c, arrays, p + "counted", n, "bool")
    if counted is None:
        return None
    n = counted.shape[0]
    first = _vector(c, arrays, p + "first_rank", n, "int")
    inp = _vector(c, arrays, p + "inp", n, "float")
    ap = _vector(c, arrays, p + "ap", n, "float")
    if first is None or inp is None or ap is None:
        return None
    n_counted = int(counted.sum())
    c.number(f"field {f}.n_skipped", entry.get("n_skipped"), float(n - n_counted))
    query_ids = arrays.get(f"{p}query_ids")
    if query_ids is None or np.asarray(query_ids).ndim != 1 or len(query_ids) != n:
        got = "no such array" if query_ids is None else f"shape {np.asarray(query_ids).shape}"
        c.add(f"array {p}query_ids", "per_query.npz", f"a vector of {n} ids (one per query)",
              got)
        return None
    gallery_ids = arrays.get(f"{p}gallery_ids")
    if gallery_ids is not None:
        if np.asarray(gallery_ids).ndim != 1:
            c.add(f"array {p}gallery_ids", "per_query.npz", "a vector of gallery ids",
                  f"shape {np.asarray(gallery_ids).shape}")
            return None
        if "n_gallery" in entry:
            c.number(f"field {f}.n_gallery", entry.get("n_gallery"), float(len(gallery_ids)))
    if n_counted and (np.any(first[counted] < 0) or not np.all(
            np.isfinite(ap[counted]) & (ap[counted] >= 0) & (ap[counted] <= 1))):
        c.add(f"array {p}ap / {p}first_rank", "per_query.npz", "AP in [0, 1] and ranks >= 0 "
              "for every counted query", "values out of range")
        return None
    summary = {"mAP": _mean(ap, counted), "mINP": _mean(inp, counted)}
    metrics = entry.get("metrics") if isinstance(entry.get("metrics"), Mapping) else {}
    for key in metrics:  # rank<k> for each of the protocol's cmc_ranks
        if isinstance(key, str) and key.startswith("rank") and key[4:].isdigit():
            hit = counted & (first >= 1) & (first <= int(key[4:]))
            summary[key] = float(hit.sum()) / n_counted if n_counted else math.nan
    for key, value in summary.items():
        if key in metrics:
            cell = metrics[key]
            c.number(f"field {f}.metrics.{key}.value",
                     cell.get("value") if isinstance(cell, Mapping) else cell, value)
    cmc = entry.get("cmc")
    if isinstance(cmc, list) and n_counted:
        hits = np.bincount(np.minimum(first[counted & (first >= 1)], len(cmc) + 1),
                           minlength=len(cmc) + 2)
        curve = np.minimum(np.cumsum(hits[1:len(cmc) + 1]) / n_counted, 1.0)
        for k, (stored, value) in enumerate(zip(cmc, curve, strict=True)):
            before = len(c.problems)
            c.number(f"field {f}.cmc[{k}]", stored, float(value))
            if len(c.problems) > before:
                break
    by_variant = entry.get("metrics_by_variant")
    by_variant = by_variant if isinstance(by_variant, Mapping) else {}
    names = set(by_variant) | {v for v in variants if f"{p}ap_{v}" in arrays}
    for variant in sorted(names):
        ap_v = _vector(c, arrays, f"{p}ap_{variant}", n, "float")
        if ap_v is None:
            continue
        if variant == headline and not np.array_equal(ap_v[counted], ap[counted]):
            c.add(f"array {p}ap", "per_query.npz", f"the headline variant's AP ({p}ap_{variant})",
                  "different values")
        values = by_variant.get(variant)
        if isinstance(values, Mapping):
            for key, value in {**summary, "mAP": _mean(ap_v, counted)}.items():
                if key in values:
                    c.number(f"field {f}.metrics_by_variant.{variant}.{key}", values[key], value)
    return summary


def _variant_means(record: Mapping[str, Any], arrays: Mapping[str, Any],
                   names: list[str]) -> dict[str, dict[str, float]]:
    """Per variant, the mean over splits of each split's recomputed numbers."""
    out: dict[str, dict[str, float]] = {}
    variants = record.get("metrics_by_variant")
    if not isinstance(variants, Mapping):
        return out
    for variant in variants:
        per_split: list[dict[str, float]] = []
        for name in names:
            p = f"{name}/"
            if f"{p}ap_{variant}" not in arrays or f"{p}counted" not in arrays:
                return out
            counted = np.asarray(arrays[f"{p}counted"]).astype(bool)
            ap_v = np.asarray(arrays[f"{p}ap_{variant}"], dtype=np.float64)
            per_split.append({"mAP": _mean(ap_v, counted)})
        out[str(variant)] = {"mAP": float(np.mean([s["mAP"] for s in per_split]))}
    return out


def consistency_problems(record: Record | Mapping[str, Any], arrays: Mapping[str, Any], *,
                         per_query_sha256: str | None = None,
                         where: str = "results.json") -> list[str]:
    """Every way ``record`` disagrees with its per-query arrays (empty when it is consistent).

    Args:
        record: The parsed ``results.json`` (structure already checked by the schema check).
        arrays: The arrays of ``per_query.npz``, keyed ``<split>/<name>``.
        per_query_sha256: The sha256 of the ``per_query.npz`` the arrays were read from; None
            when there is no file (the record's own field is then not checked).
        where: The file named in messages.

    Returns:
        One-line messages in the project's style, each naming the field.
    """
    record = _as_json(record)
    c = _Check(where)
    stored_sha = record.get("per_query_sha256")
    if not isinstance(stored_sha, str) or len(stored_sha) != 64:
        c.add("field per_query_sha256", "the sha256 of per_query.npz (64 hex digits)",
              _fmt(stored_sha), "re-run `reidbench evaluate` with this reidbench version")
    elif per_query_sha256 is not None and stored_sha != per_query_sha256:
        c.add("per_query.npz", f"the file whose sha256 is {stored_sha[:16]}... (per_query_sha256)",
              f"a file with sha256 {per_query_sha256[:16]}...",
              "copy the per_query.npz written with this results.json")
    if not evaluated_sha256s(record):
        c.add("field source", "the sha256 of what was evaluated (source.adapter."
              "checkpoint_sha256, source.features_sha256 or source.model_sha256)", "none",
              "evaluate a saved checkpoint (--checkpoint), a model file or a features file")
    splits = record.get("splits")
    if not isinstance(splits, list) or not splits:
        return c.problems
    headline = record.get("headline_ap")
    top_variants = record.get("metrics_by_variant")
    variants = set(top_variants) if isinstance(top_variants, Mapping) else set()
    summaries: list[dict[str, float]] = []
    names: list[str] = []
    before = len(c.problems)
    for entry in splits:
        if not isinstance(entry, Mapping):
            return c.problems
        s = _split_summary(c, entry, arrays, headline, variants)
        if s is None:
            return c.problems
        summaries.append(s)
        names.append(str(entry.get("split")))
    if len(c.problems) > before:  # the top level is compared once every split agrees
        return c.problems
    keys = [k for k in summaries[0] if all(k in s for s in summaries)]
    metrics = record.get("metrics") if isinstance(record.get("metrics"), Mapping) else {}
    for key in keys:
        vals = np.array([s[key] for s in summaries], dtype=np.float64)
        cell = metrics.get(key)
        if not isinstance(cell, Mapping):
            continue
        c.number(f"field metrics.{key}.value", cell.get("value"), float(vals.mean()))
        if len(vals) > 1:
            c.number(f"field metrics.{key}.std", cell.get("std"), float(vals.std(ddof=1)))
            per_split = cell.get("per_split")
            if not (isinstance(per_split, list) and len(per_split) == len(vals)):
                c.add(f"field metrics.{key}.per_split", f"{len(vals)} values (one per split)",
                      _fmt(per_split))
            else:
                for i, (stored, value) in enumerate(zip(per_split, vals, strict=True)):
                    c.number(f"field metrics.{key}.per_split[{i}]", stored, float(value))
    if isinstance(top_variants, Mapping):
        means = _variant_means(record, arrays, names)
        for variant, values in top_variants.items():
            if not isinstance(values, Mapping):
                continue
            recomputed = {**{k: float(np.mean([s[k] for s in summaries])) for k in keys},
                          **means.get(str(variant), {})}
            if str(variant) not in means:
                recomputed.pop("mAP")
            for key, value in recomputed.items():
                if key in values:
                    c.number(f"field metrics_by_variant.{variant}.{key}", values[key], value)
    for key in ("n_queries", "n_skipped"):
        total = 0
        for entry in splits:
            v = entry.get(key)
            total += v if isinstance(v, int) and not isinstance(v, bool) else 0
        if key in record:
            c.number(f"field {key}", record.get(key), float(total))
    return c.problems


def require_consistent(record: Record | Mapping[str, Any], arrays: Mapping[str, Any], *,
                       per_query_sha256: str | None = None, where: str = "results.json") -> None:
    """Raise the first problem :func:`consistency_problems` finds (one line).

    Raises:
        DataError: The record disagrees with its arrays, its per_query.npz is another one, or it
            names no sha256 of what was evaluated.
    """
    problems = consistency_problems(record, arrays, per_query_sha256=per_query_sha256,
                                    where=where)
    if problems:
        more = f" ({len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise DataError(problems[0] + more)
