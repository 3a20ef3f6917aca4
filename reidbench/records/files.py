"""Result directories on disk: ``results.json`` + ``per_query.npz``, read, checked and written.

:func:`read_result` reads and validates a result directory into an :class:`EvalResult`;
:func:`check_result` lists every problem of one (the check ``reidbench validate`` and
``reidbench leaderboard add`` run); :meth:`EvalResult.write` writes one all or nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from reidbench.errors import DataError, InputError, ReidbenchError, describe
from reidbench.fileio import (
    JSONBoundError,
    NpzError,
    json_problem,
    loads_bounded,
    read_npz_bounded,
    sha256_file,
    umask_mode,
    unwritable_reason,
)
from reidbench.records.consistency import consistency_problems
from reidbench.records.result import RESULT_SCHEMA, MetricCell, ResultRecord

__all__ = ["EvalResult", "RESULT_FILES", "check_out_dir", "check_result", "read_result",
           "load_per_query", "read_record_json", "recover_out_dir"]

#: The files a result directory holds; a folder holding only these may be replaced.
RESULT_FILES = frozenset({"results.json", "per_query.npz"})
#: Largest results.json read (a 10-split record is ~100 KB).
MAX_RECORD_BYTES = 16 << 20
#: Largest per-query array read (MARS's 1,980 queries x 20 top-k int64 are 317 KB).
MAX_PER_QUERY_BYTES = 256 << 20


@dataclass
class EvalResult:
    """A complete evaluation: the typed record plus the per-query arrays.

    The record is frozen; :meth:`write` replaces it by the same record with ``per_query_sha256``
    set to the sha256 of the ``per_query.npz`` it writes.

    Attributes:
        record: Everything in ``results.json``.
        per_query: Everything in ``per_query.npz`` (keys prefixed ``<split>/``).
    """

    record: ResultRecord
    per_query: dict[str, np.ndarray]

    @property
    def metrics(self) -> dict[str, MetricCell]:
        """Headline summary metrics."""
        return dict(self.record.metrics)

    @property
    def protocol_fingerprint(self) -> str:
        """Fingerprint of the protocol's evaluation part."""
        return self.record.protocol.fingerprint

    def value(self, key: str) -> float:
        """The headline value of a summary metric as a fraction in [0, 1], e.g. ``value("mAP")``.

        Fractions throughout the library and in ``results.json``; the CLI and the leaderboards
        print percent (``100 * value``): ``0.7961`` is shown as ``79.61``.
        """
        return self.record.value(key)

    def split_arrays(self, split: str | None = None) -> dict[str, np.ndarray]:
        """Per-query arrays of one split (the first one when ``split`` is None)."""
        name = split if split is not None else self.record.splits[0].split
        prefix = f"{name}/"
        return {k[len(prefix):]: v for k, v in self.per_query.items() if k.startswith(prefix)}

    def write(self, out_dir: str | Path) -> Path:
        """Write ``results.json`` and ``per_query.npz`` into ``out_dir``, all or nothing.

        Both files are serialised in memory first (a record that is not strict JSON is refused
        before anything touches the disk), written into a temporary sibling folder, and that folder
        is renamed onto ``out_dir``. A previous result in ``out_dir`` is replaced as a whole, so
        an old ``results.json`` never sits beside a new ``per_query.npz``.

        Raises:
            InputError: The record holds a value JSON cannot carry (NaN, a tensor, ...), or
                ``out_dir`` is a file or a folder holding other files.
        """
        out = Path(out_dir)
        arrays = io.BytesIO()
        np.savez_compressed(arrays, **self.per_query)
        # the record names its arrays: another result's per_query.npz beside it is refused
        self.record = replace(self.record,
                              per_query_sha256=hashlib.sha256(arrays.getvalue()).hexdigest())
        text = _record_json(self.record.to_json())
        check_out_dir(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            (tmp / "per_query.npz").write_bytes(arrays.getvalue())
            (tmp / "results.json").write_text(text)
            umask_mode(tmp)  # mkdtemp makes it 0700; the result folder gets the user's umask
            _swap_in(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out


def check_out_dir(out_dir: str | Path) -> None:
    """Refuse an output path that :meth:`EvalResult.write` could not (or must not) replace.

    A missing path, an empty folder and a previous result directory are fine. What a writer killed
    between its two renames left behind is recovered first (:func:`recover_out_dir`). The parent
    must be a folder this user can write (found here, before anything is computed).

    Raises:
        InputError: ``out_dir`` is an existing file, or a folder holding files other than a
            result's, or it cannot be created (a file on its path, a read-only parent).
    """
    out = Path(out_dir)
    _check_parent_writable(out)
    recover_out_dir(out)
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name not in RESULT_FILES)
        if others:
            raise InputError(describe("out_dir", str(out), "a new folder, an empty one or a "
                                      "previous result directory", f"a folder holding "
                                      f"{others[:3]}", "pass a new folder for the result"),
                             param="out_dir")
    elif out.exists() or out.is_symlink():
        raise InputError(describe("out_dir", str(out), "a folder for results.json and "
                                  "per_query.npz", "an existing file", "pass a folder path"),
                         param="out_dir")


def _check_parent_writable(out: Path) -> None:
    """Refuse ``--out`` that is under a file or in a folder this user cannot write."""
    # the writer makes a sibling folder and renames it onto ``out``: the parent must be writable
    reason = unwritable_reason(out.parent) or (unwritable_reason(out) if out.is_dir() else None)
    if reason:
        raise InputError(describe("out_dir", str(out), "a result folder this user can create "
                                  "and write", reason, "pass a writable location for the result"),
                         param="out_dir")


def _leftovers(out: Path, suffix: str) -> list[Path]:
    if not out.parent.is_dir():
        return []
    return sorted((p for p in out.parent.glob(f".{glob_escape(out.name)}.*{suffix}")
                   if p.is_dir()), key=lambda p: p.stat().st_mtime)


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped (a folder named ``run[1]``)."""
    import glob

    return glob.escape(name)


def recover_out_dir(out_dir: str | Path) -> None:
    """Undo what an :meth:`EvalResult.write` killed between its two renames left behind.

    The writer renames a previous result to ``.<name>.*.old`` and then the finished new one,
    ``.<name>.*.tmp``, onto ``<name>``. Killed between the two, ``<name>`` is missing: the newest
    complete ``.tmp`` (both files written) is renamed into place, else the ``.old`` result is put
    back. Every other ``.old``/``.tmp`` sibling of ``<name>`` is then removed.
    """
    out = Path(out_dir)
    olds, tmps = _leftovers(out, ".old"), _leftovers(out, ".tmp")
    if not olds and not tmps:
        return
    if not out.exists():
        complete = [t for t in tmps if all((t / f).is_file() for f in RESULT_FILES)]
        for candidate in (complete[-1:] or olds[-1:]):
            try:
                os.rename(candidate, out)
            except OSError:
                pass
    for p in _leftovers(out, ".old") + _leftovers(out, ".tmp"):
        shutil.rmtree(p, ignore_errors=True)


def _record_json(record: dict[str, Any]) -> str:
    problem = json_problem(record, "record")
    if problem:
        raise InputError(describe("result record", "EvalResult.write", "strict JSON (finite "
                                  "numbers, strings, lists, dicts)", problem,
                                  "report it: the engine should never produce such a record"))
    return json.dumps(record, indent=2, allow_nan=False) + "\n"


def _swap_in(tmp: Path, out: Path) -> None:
    """Rename the finished folder ``tmp`` onto ``out``, moving a previous result out of the way."""
    if not out.exists():
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old.rmdir()
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _folder(path: str | Path) -> Path:
    p = Path(path)
    return p.parent if p.name == "results.json" else p


def read_record_json(path: str | Path) -> Any:
    """The parsed ``results.json`` of a result directory (or the file itself), unchecked.

    Raises:
        DataError: No such file, invalid JSON, or another schema; one line naming the file.
    """
    folder = _folder(path)
    rj = folder / "results.json"
    if not rj.is_file():
        raise DataError(describe("results.json", str(folder), "a result directory written by "
                                 "`reidbench evaluate`", "no results.json", "check the path"))
    try:
        if rj.stat().st_size > MAX_RECORD_BYTES:
            raise JSONBoundError(f"{rj.stat().st_size:,} bytes (more than {MAX_RECORD_BYTES:,})")
        record = loads_bounded(rj.read_text(encoding="utf-8"), max_chars=MAX_RECORD_BYTES)
    except json.JSONDecodeError as exc:
        raise DataError(describe("results.json", str(rj), "valid JSON", f"{exc.msg} at line "
                                 f"{exc.lineno}", "re-run the evaluation")) from None
    except JSONBoundError as exc:
        raise DataError(describe("results.json", str(rj), "a result record as `reidbench "
                                 "evaluate` writes it", str(exc), "re-run the evaluation"
                                 )) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(describe("results.json", str(rj), "a readable UTF-8 file",
                                 f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}",
                                 "check the file's permissions, or copy it again")) from None
    if not isinstance(record, dict) or record.get("schema") != RESULT_SCHEMA:
        got = record.get("schema") if isinstance(record, dict) else type(record).__name__
        raise DataError(describe("schema", str(rj), repr(RESULT_SCHEMA), repr(got),
                                 "re-run the evaluation with this reidbench version"))
    return record


def read_result(path: str | Path) -> EvalResult:
    """Read and validate a result directory (or its ``results.json``).

    Raises:
        DataError: If the files are missing, malformed or of another schema.
        RecordError: (a DataError) If the record breaks its schema: the first problem, with the
            number of others (``reidbench validate DIR`` lists them all).
    """
    folder = _folder(path)
    data = read_record_json(folder)
    record = ResultRecord.from_json(data, str(folder / "results.json"),
                                    hint=f"run `reidbench validate {folder}`")
    npz = folder / "per_query.npz"
    per_query = load_per_query(npz) if npz.is_file() else {}
    return EvalResult(record, per_query)


def load_per_query(npz: str | Path) -> dict[str, np.ndarray]:
    """Read every array of a ``per_query.npz`` (no pickled objects, sizes bounded first).

    Each member's declared size and ``.npy`` header are checked before its data is read
    (:func:`reidbench.fileio.read_npz_bounded`; at most :data:`MAX_PER_QUERY_BYTES` per array).

    Raises:
        DataError: If the file is not a readable NumPy archive (truncated, corrupt, not an .npz, or
            holding pickled objects), in one line naming the file.
    """
    try:
        return read_npz_bounded(npz, max_array_bytes=MAX_PER_QUERY_BYTES,
                                max_total_bytes=4 * MAX_PER_QUERY_BYTES, max_members=4096)
    except NpzError as exc:
        raise DataError(describe("per_query.npz", str(npz), "a NumPy .npz archive of per-query "
                                 "arrays written by `reidbench evaluate`", str(exc),
                                 "re-run the evaluation, or copy the file again")) from None


def _split_names(data: Any) -> list[str]:
    """The split names of a (possibly invalid) record that name a split of its protocol, once."""
    from reidbench.protocols import PROTOCOLS

    proto = data.get("protocol") if isinstance(data, dict) else None
    pid = proto.get("id") if isinstance(proto, dict) else None
    allowed = PROTOCOLS.get(pid).evaluation.splits if isinstance(pid, str) and \
        pid in PROTOCOLS else None
    names: list[str] = []
    splits = data.get("splits") if isinstance(data, dict) else None
    for entry in splits if isinstance(splits, list) else []:
        name = entry.get("split") if isinstance(entry, dict) else None
        if isinstance(name, str) and name not in names and (allowed is None or name in allowed):
            names.append(name)
    return names


def check_result(data: Any, folder: str | Path) -> list[str]:
    """Every problem of a result directory (empty when it is valid).

    The record's own validator (:meth:`ResultRecord.from_json`) first, then its
    ``per_query.npz`` (present, readable, arrays for every split), then, once both hold, the
    record's consistency with those arrays (:mod:`reidbench.records.consistency`).

    Args:
        data: The parsed ``results.json``.
        folder: The result directory (``per_query.npz`` is read from it).

    Returns:
        One-line messages, each naming the file and the field.
    """
    folder = Path(folder)
    _, problems = ResultRecord.validate(data, str(folder / "results.json"))
    npz = folder / "per_query.npz"
    if not npz.is_file():
        return problems + [describe("per_query.npz", str(folder), "the per-query arrays beside "
                                    "results.json", "no such file", "copy the whole result "
                                    "directory written by `reidbench evaluate`")]
    try:
        arrays = load_per_query(npz)
    except ReidbenchError as exc:
        return problems + [str(exc)]
    for name in _split_names(data):
        if not any(k.startswith(f"{name}/") for k in arrays):
            problems.append(describe("per_query.npz", str(npz), f"arrays of split {name!r} "
                                     f"({name}/ap, {name}/topk_index, ...)", "none",
                                     "re-run the evaluation"))
    if not problems:  # the numbers are compared once the structure holds
        problems += consistency_problems(data, arrays, per_query_sha256=sha256_file(npz),
                                         where=str(folder / "results.json"))
    return problems
