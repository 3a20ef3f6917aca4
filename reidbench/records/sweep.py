"""Sweep records: ``sweep.json`` (schema ``reidbench.sweep/1``), written by ``reidbench sweep``.

One row per (cell, trial) of a hyper-parameter grid with its axes, seed, headline metrics and the
path of its result directory, plus the settings that determine every run and their hash
(:func:`reidbench.engine.sweep.run_sweep` writes it; the report layer reads it with
:func:`read_sweep`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reidbench.errors import DataError, describe
from reidbench.fileio import loads_bounded

__all__ = ["SWEEP_SCHEMA", "read_sweep"]

SWEEP_SCHEMA = "reidbench.sweep/1"


def read_sweep(path: str | Path) -> dict[str, Any]:
    """Read a ``sweep.json`` written by ``reidbench sweep`` (or a folder holding one).

    Raises:
        DataError: A missing or unreadable file, another schema, or a record without
            ``baseline``, ``grid`` or ``rows``; one line naming the file.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "sweep.json"
    if not p.is_file():
        raise DataError(describe("sweep record", str(p), "a sweep.json written by `reidbench "
                                 "sweep`", "no such file", "check the path (--sweep "
                                 "OUT/sweep.json)"))
    try:
        record = loads_bounded(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # invalid, oversized or too deep JSON
        reason = (exc.msg if isinstance(exc, json.JSONDecodeError) else
                  "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc))
        raise DataError(describe("sweep record", str(p), "valid JSON", reason,
                                 "re-run `reidbench sweep`")) from None
    schema = record.get("schema") if isinstance(record, dict) else type(record).__name__
    if schema != SWEEP_SCHEMA:
        raise DataError(describe("field schema", str(p), repr(SWEEP_SCHEMA), repr(schema),
                                 "give the sweep.json of a `reidbench sweep` folder"))
    for key, kind in (("baseline", str), ("grid", dict), ("rows", list)):
        if not isinstance(record.get(key), kind) or (kind is dict and not record[key]):
            raise DataError(describe(f"field {key}", str(p), f"a {kind.__name__}",
                                     repr(record.get(key)), "re-run `reidbench sweep`"))
    return record
