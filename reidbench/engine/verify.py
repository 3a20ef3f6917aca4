"""Re-run a result record's evaluation and compare every number: ``leaderboard add --verify``.

A record that is consistent with itself (:mod:`reidbench.records.consistency`) may still carry
numbers that were edited together with their per-query arrays. Verification re-evaluates what the
record says was evaluated, from the file the verifier holds (the features ``.npz``, or the
checkpoint; a ``{split}`` template for multi-split protocols), under the record's protocol,
procedure, bootstrap and seed, on a copy of the dataset with the same fingerprint, and compares:

* the sha256 of the file given with the one the record names (it must be what was evaluated);
* the dataset fingerprint;
* every summary number (``metrics`` values, CIs, std and per-split values, ``metrics_by_variant``),
  every split's metrics, counts and CMC curve;
* every per-query array (AP in each variant, first-positive rank, INP, counted, ids, top-k).

Numbers must agree within :data:`VERIFY_TOLERANCE` (a re-run on another machine may differ in the
last bits of a float32 distance); integers and ids exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from reidbench.errors import DataError, describe
from reidbench.records import EvalResult, read_result
from reidbench.records.consistency import evaluated_sha256s, require_consistent

__all__ = ["verify_result", "result_mismatches", "VERIFY_TOLERANCE"]

#: Largest difference between a stored and a re-computed number that still counts as equal.
VERIFY_TOLERANCE = 1e-6
_PROCEDURE_FIELDS = ("sampling", "seq_len", "pooling", "distance", "flip", "rerank",
                     "input_size", "normalize")
_FEATURE_FIELDS = ("distance", "rerank", "normalize")


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(float(a)) or math.isnan(float(b)):
            return math.isnan(float(a)) and math.isnan(float(b))
        return abs(float(a) - float(b)) <= VERIFY_TOLERANCE
    return a == b


def _walk(stored: Any, fresh: Any, path: str, out: list[str]) -> None:
    """Append ``"path: stored x, re-run y"`` for each leaf of ``stored`` that ``fresh`` changes."""
    if isinstance(stored, dict):
        if not isinstance(fresh, dict):
            out.append(f"{path}: stored an object, re-run {type(fresh).__name__}")
            return
        for key in stored:
            _walk(stored[key], fresh.get(key), f"{path}.{key}" if path else str(key), out)
        for key in fresh:
            if key not in stored:
                out.append(f"{path}.{key}: missing from the stored record" if path else
                           f"{key}: missing from the stored record")
        return
    if isinstance(stored, list):
        if not isinstance(fresh, list) or len(fresh) != len(stored):
            out.append(f"{path}: stored {len(stored)} values, re-run "
                       f"{len(fresh) if isinstance(fresh, list) else type(fresh).__name__}")
            return
        for i, (a, b) in enumerate(zip(stored, fresh, strict=True)):
            _walk(a, b, f"{path}[{i}]", out)
        return
    if not _close(stored, fresh):
        out.append(f"{path}: stored {stored!r}, re-run {fresh!r}")


def _array_mismatch(key: str, a: np.ndarray, b: np.ndarray) -> str | None:
    if a.shape != b.shape:
        return f"per_query {key}: stored shape {a.shape}, re-run {b.shape}"
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        try:
            fa, fb = a.astype(np.float64), b.astype(np.float64)
        except (TypeError, ValueError):
            return f"per_query {key}: stored dtype {a.dtype}, re-run {b.dtype}"
        same_nan = np.isnan(fa) == np.isnan(fb)
        diff = np.abs(np.nan_to_num(fa) - np.nan_to_num(fb))
        bad = ~same_nan | (diff > VERIFY_TOLERANCE)
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            return (f"per_query {key}: {int(bad.sum())} value(s) differ (first at flat index {i}: "
                    f"stored {fa.ravel()[i]!r}, re-run {fb.ravel()[i]!r})")
        return None
    if not np.array_equal(a, b):
        return f"per_query {key}: values differ"
    return None


#: Record parts that a re-run legitimately changes (time, machine, paths, speed).
_VOLATILE = ("created", "environment", "timings", "per_query_sha256", "config", "warnings")


def result_mismatches(stored: EvalResult, fresh: EvalResult) -> list[str]:
    """Every number of ``stored`` that ``fresh`` (the re-run) does not reproduce.

    Compared: protocol, headline AP, metrics, metrics by variant, counts, the dataset fingerprint,
    each split's numbers (not its timings or extraction statistics) and every per-query array.
    """
    out: list[str] = []
    a, b = stored.record.to_json(), fresh.record.to_json()  # compared as written
    for key in ("protocol", "headline_ap", "metrics", "metrics_by_variant", "n_queries",
                "n_skipped"):
        _walk(a.get(key), b.get(key), key, out)
    _walk((a.get("dataset") or {}).get("fingerprint"), (b.get("dataset") or {}).get("fingerprint"),
          "dataset.fingerprint", out)
    sa, sb = a.get("splits") or [], b.get("splits") or []
    if len(sa) != len(sb):
        out.append(f"splits: stored {len(sa)}, re-run {len(sb)}")
    for x, y in zip(sa, sb, strict=False):
        name = x.get("split")
        for key in ("split", "n_queries", "n_gallery", "n_skipped", "metrics",
                    "metrics_by_variant", "cmc"):
            _walk(x.get(key), y.get(key), f"splits[{name}].{key}", out)
    keys = sorted(set(stored.per_query) | set(fresh.per_query))
    for key in keys:
        if key not in stored.per_query or key not in fresh.per_query:
            side = "re-run" if key in fresh.per_query else "stored"
            out.append(f"per_query {key}: only in the {side} arrays")
            continue
        found = _array_mismatch(key, np.asarray(stored.per_query[key]),
                                np.asarray(fresh.per_query[key]))
        if found:
            out.append(found)
    return out


def _sha_of_target(target: str, record: dict[str, Any], protocol: Any) -> list[str]:
    """sha256 of every file ``target`` names (one per split for a template)."""
    from reidbench.engine.sources import resolve_split_path
    from reidbench.fileio import sha256_file

    shas = []
    kind = record["source"].get("kind")
    if kind == "model":
        from reidbench.engine.modelfile import _SUFFIXES as suffixes
    else:
        suffixes = (".npz",) if kind == "features" else (".safetensors", ".pt", ".pth")
    for entry in record["splits"]:
        path = resolve_split_path(target, entry["split"], protocol, suffixes)
        if not path.is_file():
            raise DataError(describe("target", str(path), "the file that was evaluated",
                                     "no such file", "pass the features file or checkpoint the "
                                     "record was computed from"), param="target")
        shas.append(sha256_file(path))
    return shas


def _model_source(record: dict[str, Any], target: str, device: str) -> Any:
    """A :class:`~reidbench.engine.modelfile.ModelFileSource` re-running a model-file record.

    A two-network record (``--query-model``) needs its query model too: the path the record's
    config names is used when the file there has the sha256 the record names.

    Raises:
        DataError: The query model the record names is not at that path.
    """
    from reidbench.engine.modelfile import ModelFileSource
    from reidbench.fileio import sha256_file

    config = record.get("config") or {}
    query = config.get("query_model")
    if query:
        want = (((record.get("source") or {}).get("model") or {}).get("query_model") or {}
                ).get("sha256")
        path = Path(str(query))
        if not path.is_file() or sha256_file(path) != want:
            raise DataError(describe("query model", str(path), "the query model the record "
                                     f"evaluated (sha256 {str(want)[:16]})", "no such file"
                                     if not path.is_file() else "another file",
                                     "re-run with the query model at the path the record names"),
                            param="target")
    return ModelFileSource(target, str(query) if query else None, device)


def verify_result(result_dir: str | Path, target: str, data_root: str | Path | None = None, *,
                  device: str = "cpu", progress: Callable[[str, int, int], None] | None = None
                  ) -> dict[str, Any]:
    """Re-run the evaluation a result record describes and check that every number matches.

    Args:
        result_dir: The result directory (``results.json`` + ``per_query.npz``).
        target: The features file, checkpoint or model file (ONNX, TorchScript) that was
            evaluated (``{split}`` template or folder for multi-split protocols).
        data_root: The dataset copy (default: the ``dataset.root`` the record names).
        device: Where an adapter runs (``cpu``, ``cuda``, ``auto``).
        progress: Progress callback, as for :func:`~reidbench.engine.evaluate`.

    Returns:
        What was verified (stored in the submission's ``verification.json``): the kind, the
        sha256 verified, the dataset fingerprint and how many numbers were compared.

    Raises:
        DataError: The record is inconsistent, ``target`` is not what the record evaluated, or
            the re-run differs (the first differences named).
    """
    from reidbench.engine.evaluate import evaluate
    from reidbench.engine.sources import AdapterSource, FeaturesSource
    from reidbench.fileio import sha256_file
    from reidbench.protocols import get_protocol

    folder = Path(result_dir)
    folder = folder.parent if folder.name == "results.json" else folder
    stored = read_result(folder)
    npz = folder / "per_query.npz"
    require_consistent(stored.record, stored.per_query,
                       per_query_sha256=sha256_file(npz) if npz.is_file() else None,
                       where=str(folder / "results.json"))
    record = stored.record.to_json()
    proto = get_protocol(record["protocol"]["id"])
    given = _sha_of_target(target, record, proto)
    named = evaluated_sha256s(record)
    wrong = [s for s in given if s not in named]
    if wrong:
        raise DataError(describe("target", target, "the file the record evaluated (sha256 "
                                 + ", ".join(s[:16] for s in named) + ")",
                                 f"a file with sha256 {wrong[0][:16]}",
                                 "pass the features file or checkpoint the result was "
                                 "computed from"), param="target")
    root = data_root if data_root is not None else (record.get("dataset") or {}).get("root")
    if not root:
        raise DataError(describe("data_root", "verify_result", "the dataset copy to "
                                 "re-run on", "none given and none in the record",
                                 "pass data_root=ROOT"), param="data_root")
    stored_proc = record.get("procedure") or {}
    kind = (record.get("source") or {}).get("kind")
    if kind == "features":
        source: Any = FeaturesSource(target)
        overrides = {k: stored_proc.get(k) for k in _FEATURE_FIELDS}
    elif kind == "model":
        source = _model_source(record, target, device)
        overrides = {k: stored_proc.get(k) for k in _PROCEDURE_FIELDS}
    else:
        config = record.get("config") or {}
        source = AdapterSource(str(config.get("adapter")), target,
                               dict(config.get("adapter_config") or {}), device)
        overrides = {k: stored_proc.get(k) for k in _PROCEDURE_FIELDS}
    bootstrap = record.get("bootstrap", 1000)
    fresh = evaluate(proto, root, source, procedure=overrides,
                     splits=[s["split"] for s in record["splits"]],
                     bootstrap=int(bootstrap) if isinstance(bootstrap, int) else 1000,
                     seed=int(record.get("seed") or 0), progress=progress)
    problems = result_mismatches(stored, fresh)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DataError(describe("result", str(folder), "every number reproduced by re-running "
                                 "the evaluation", "; ".join(problems[:3]) + more,
                                 "the record does not come from this model on this dataset "
                                 "copy; re-run `reidbench evaluate` and submit its output"))
    n_numbers = sum(np.asarray(v).size for v in stored.per_query.values())
    return {"kind": kind, "verified_sha256": given,
            "dataset_fingerprint": (record.get("dataset") or {}).get("fingerprint"),
            "numbers_compared": int(n_numbers), "tolerance": VERIFY_TOLERANCE}
