"""Reading and writing leaderboard files: JSON with clear errors, validated, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reidbench.errors import DataError, describe
from reidbench.fileio import JSONBoundError, atomic_write, loads_bounded
from reidbench.leaderboard.schema import validate_leaderboard

__all__ = ["read_json", "read_leaderboard", "write_leaderboard", "leaderboard_files",
           "PUBLISHED_DIR", "SHIPPED_PUBLISHED", "published_dir"]

PUBLISHED_DIR = "published"
_MAX_BYTES = 16 << 20

#: The published records shipped with reidbench (package data, in the wheel too): one JSON file
#: per paper table, the single source of truth for the published numbers.
SHIPPED_PUBLISHED = Path(__file__).resolve().parent / PUBLISHED_DIR


def published_dir(leaderboards: str | Path | None = None,
                  published: str | Path | None = None) -> Path:
    """Where the published records are read from.

    ``published`` (``--published DIR``) when given; else ``<leaderboards>/published`` when that
    folder exists (a leaderboard root of one's own); else the records shipped with reidbench
    (:data:`SHIPPED_PUBLISHED`), so ``leaderboard build`` works from any folder.

    Raises:
        DataError: If ``published`` is given but is not a folder or file.
    """
    if published is not None:
        p = Path(published)
        if not p.exists():
            raise DataError(describe("published", str(p), "a folder of published leaderboard "
                                     "files (*.json)", "nothing there", "check the path, or "
                                     "leave it out to use the records shipped with reidbench"),
                            param="published")
        return p
    if leaderboards is not None and (Path(leaderboards) / PUBLISHED_DIR).is_dir():
        return Path(leaderboards) / PUBLISHED_DIR
    return SHIPPED_PUBLISHED


def read_json(path: str | Path) -> Any:
    """Parse a JSON file, turning every failure into one :class:`DataError` naming the file.

    Raises:
        DataError: If the file is missing, unreadable, not UTF-8 or not valid JSON.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(describe("file", str(p), "an existing JSON file", "nothing there",
                                 "check the path"))
    try:
        if p.stat().st_size > _MAX_BYTES:
            raise DataError(describe("file", str(p), f"a JSON file under {_MAX_BYTES:,} bytes",
                                     f"{p.stat().st_size:,} bytes", "this is no leaderboard or "
                                     "result file"))
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(describe("file", str(p), "a readable UTF-8 text file",
                                 f"{type(exc).__name__}: {exc}", "")) from None
    try:
        return loads_bounded(text)
    except json.JSONDecodeError as exc:
        raise DataError(describe("file", str(p), "valid JSON",
                                 f"{exc.msg} at line {exc.lineno} column {exc.colno}",
                                 "fix the JSON syntax")) from None
    except JSONBoundError as exc:
        raise DataError(describe("file", str(p), "a JSON document of sane size and nesting",
                                 str(exc), "this is no leaderboard or result file")) from None


def read_leaderboard(path: str | Path) -> dict[str, Any]:
    """Read and validate one leaderboard file.

    Raises:
        DataError: If the file cannot be parsed or breaks the schema (file and field named).
    """
    obj = read_json(path)
    validate_leaderboard(obj, str(path))
    return obj


def write_leaderboard(path: str | Path, obj: dict[str, Any]) -> Path:
    """Validate ``obj`` and write it as indented UTF-8 JSON, atomically.

    Nothing is written when validation fails, and a crash mid-write leaves the old file intact.

    Raises:
        DataError: If ``obj`` breaks the schema.
    """
    target = Path(path)
    validate_leaderboard(obj, str(target))
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


def leaderboard_files(root: str | Path) -> list[Path]:
    """List the leaderboard files under ``root`` (``root/published/*.json``), sorted by name.

    ``root`` may also be the ``published`` folder itself or a single file.

    Raises:
        DataError: If ``root`` does not exist or holds no leaderboard file.
    """
    r = Path(root)
    if r.is_file():
        return [r]
    folder = r / PUBLISHED_DIR if (r / PUBLISHED_DIR).is_dir() else r
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise DataError(describe("leaderboard folder", str(r), f"JSON files in {PUBLISHED_DIR}/",
                                 "none", "point --published at a folder of leaderboard files, "
                                 "or leave it out to use the records shipped with reidbench"))
    return files
