"""``reidbench validate FILE``: find out what kind of file it is, then run that kind's validator.

Kinds:

* ``leaderboard``: a JSON file with ``"schema": "reidbench.leaderboard/1"`` (every problem listed);
* ``result``: a result directory or its ``results.json`` (``"schema": "reidbench.result/1"``),
  checked by :func:`reidbench.records.check_result` (the check ``leaderboard add`` runs: the
  record's own validator, ``ResultRecord.from_json``, then its ``per_query.npz`` and the
  record's consistency with it);
* ``features``: an ``.npz`` features file, read with
  :func:`reidbench.adapters.features.load_features_file`.

A new file kind adds one entry to :data:`_VALIDATORS` and one rule to :func:`detect_kind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidbench.errors import DataError, ReidbenchError, describe
from reidbench.leaderboard.io import read_json
from reidbench.leaderboard.schema import SCHEMA_ID, check_leaderboard
from reidbench.records import RESULT_SCHEMA as _RESULT_SCHEMA

__all__ = ["ValidationReport", "detect_kind", "validate_file", "FILE_KINDS"]


@dataclass(frozen=True)
class ValidationReport:
    """What :func:`validate_file` found.

    Attributes:
        path: The file checked.
        kind: ``leaderboard``, ``result`` or ``features``.
        problems: One message per problem (empty when valid), each naming the file and field.
        summary: A one-line description of a valid file (e.g. ``"54 published_results records"``).
    """

    path: str
    kind: str
    problems: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json``)."""
        return {"path": self.path, "kind": self.kind, "ok": self.ok, "problems": self.problems,
                "summary": self.summary}


def detect_kind(path: str | Path) -> str:
    """Tell the file kind from its name and, for JSON, its ``schema`` field.

    Raises:
        DataError: If the path does not exist or is no known kind.
    """
    p = Path(path)
    if p.is_dir():
        if (p / "results.json").is_file():
            return "result"
        raise DataError(describe("folder", str(p), "a result directory holding results.json",
                                 "no results.json", "give a leaderboard .json, a result "
                                 "directory or a features .npz"))
    if not p.exists():
        raise DataError(describe("file", str(p), "an existing file", "nothing there",
                                 "check the path"))
    if p.suffix == ".npz":
        return "features"
    if p.suffix == ".json":
        obj = read_json(p)
        schema = obj.get("schema") if isinstance(obj, dict) else None
        if schema == SCHEMA_ID or (isinstance(schema, str) and schema.startswith(
                "reidbench.leaderboard/")):
            return "leaderboard"
        if schema == _RESULT_SCHEMA or (isinstance(schema, str) and schema.startswith(
                "reidbench.result/")):
            return "result"
        raise DataError(describe("field schema", str(p), f"{SCHEMA_ID!r} (leaderboard) or "
                                 f"{_RESULT_SCHEMA!r} (result record)", repr(schema),
                                 "see leaderboards/SCHEMA.md and docs/results-schema.md"))
    raise DataError(describe("file", str(p), "a .json leaderboard or result file, a result "
                             "directory or an .npz features file", f"suffix {p.suffix!r}", ""))


def _leaderboard(p: Path) -> ValidationReport:
    obj = read_json(p)
    problems = check_leaderboard(obj, str(p))
    summary = "" if problems else f"{len(obj['records'])} {obj['kind']} records, table " \
        f"{obj['table']['number']} of {obj['paper']['key']}"
    return ValidationReport(str(p), "leaderboard", problems, summary)


def _result(p: Path) -> ValidationReport:
    """A result record: the shared check of :func:`reidbench.records.check_result`."""
    from reidbench.records import check_result, read_record_json

    folder = p.parent if p.name == "results.json" else p
    data = read_record_json(folder)  # missing or unreadable files raise DataError (one line)
    problems = check_result(data, folder)
    summary = "" if problems else f"result record under protocol {data['protocol']['id']}"
    return ValidationReport(str(p), "result", problems, summary)


def _features(p: Path) -> ValidationReport:
    from reidbench.adapters.features import load_features_file

    ff = load_features_file(p)
    shape = getattr(getattr(ff, "features", None), "shape", None)
    summary = f"{shape[0]} ids x {shape[1]} dims" if shape is not None else "features file"
    return ValidationReport(str(p), "features", [], summary)


_VALIDATORS: dict[str, Callable[[Path], ValidationReport]] = {
    "leaderboard": _leaderboard,
    "result": _result,
    "features": _features,
}
FILE_KINDS = tuple(_VALIDATORS)


def validate_file(path: str | Path, kind: str | None = None) -> ValidationReport:
    """Validate a leaderboard file, result record or features file.

    Args:
        path: The file (or result directory).
        kind: Force a kind instead of detecting it (one of :data:`FILE_KINDS`).

    Returns:
        A report; ``report.ok`` is False when the file breaks its schema. Problems the kind's reader
        raises (missing file, bad JSON, a malformed features file) are reported, not raised.

    Raises:
        DataError: If the kind cannot be detected or is unknown.
    """
    p = Path(path)
    if kind is None:
        kind = detect_kind(p)
    if kind not in _VALIDATORS:
        raise DataError(describe("kind", "validate", "one of " + ", ".join(FILE_KINDS),
                                 repr(kind), ""))
    try:
        return _VALIDATORS[kind](p)
    except ReidbenchError as exc:
        return ValidationReport(str(p), kind, [str(exc)], "")
