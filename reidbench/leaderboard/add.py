"""Evaluated submissions: ``reidbench leaderboard add RESULT_DIR`` files a result record.

A submission is a copy of a result directory (``results.json`` and ``per_query.npz``, both
required and checked as ``reidbench validate`` checks them) under
``leaderboards/submissions/<name>/``. ``<name>`` is derived from what makes a submission unique,
the protocol fingerprint and the sha256 of the checkpoint(s) or features file(s):
``<protocol slug>--<fingerprint>--<sha256[:16]>``. Filing is atomic and safe against two
concurrent adds: the files are written into a temporary folder beside the target and renamed onto
it; a rename onto an existing submission fails, so exactly one of two identical adds wins and the
other is refused as a duplicate. An exclusive lock file (``O_EXCL``) serialises the duplicate scan.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reidbench.errors import DataError, describe

__all__ = ["SUBMISSIONS_DIR", "Submission", "submission_identity", "add_submission",
           "load_submissions"]

SUBMISSIONS_DIR = "submissions"
_LOCK = ".add.lock"


@dataclass(frozen=True)
class Submission:
    """One filed submission.

    Attributes:
        name: Folder name under ``leaderboards/submissions/``.
        path: The folder.
        record: Its ``results.json``.
    """

    name: str
    path: Path
    record: dict[str, Any]


def _shas(record: dict[str, Any]) -> list[str]:
    found: list[str] = []
    src = record.get("source") or {}
    adapter = src.get("adapter") or {}
    if adapter.get("checkpoint_sha256"):
        found.append(str(adapter["checkpoint_sha256"]))
    for sha in (src.get("features_sha256") or {}).values():
        if sha:
            found.append(str(sha))
    for split in record.get("splits") or []:
        info = split.get("source") or {}
        for key in ("checkpoint_sha256", "sha256"):
            if info.get(key):
                found.append(str(info[key]))
    return sorted(set(found))


def submission_identity(record: dict[str, Any], where: str = "results.json") -> tuple[str, str]:
    """``(protocol fingerprint, sha256 of the model)``: what makes two submissions the same.

    The model's sha256 is the checkpoint's (or features file's) when there is one, else a
    sha256 over all of them (multi-split).

    Raises:
        DataError: If the record names no checkpoint or features sha256.
    """
    import hashlib

    shas = _shas(record)
    if not shas:
        raise DataError(describe("field source.adapter.checkpoint_sha256", where,
                                 "the sha256 of the checkpoint or features file evaluated",
                                 "none", "evaluate a saved checkpoint (--checkpoint) or a "
                                 "features file; a submission must name what it evaluated"))
    sha = shas[0] if len(shas) == 1 else hashlib.sha256("\n".join(shas).encode()).hexdigest()
    return str(record["protocol"]["fingerprint"]), sha


def _check(result_dir: Path) -> dict[str, Any]:
    """The record, if it passes the check ``reidbench validate`` runs; else the first problem."""
    from reidbench.engine.results import read_result
    from reidbench.leaderboard.validate import validate_file

    report = validate_file(result_dir, "result")
    if not report.ok:
        more = f" ({len(report.problems) - 1} more problem(s); run `reidbench validate " \
            f"{result_dir}`)" if len(report.problems) > 1 else ""
        raise DataError(report.problems[0] + more)
    return read_result(result_dir).record


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class _Lock:
    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path, self.timeout = path, timeout

    def __enter__(self) -> _Lock:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                return self
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise DataError(describe("lock file", str(self.path), "no other add running",
                                             "a lock held for over "
                                             f"{self.timeout:.0f} s", "if no add is running, "
                                             "delete the stale lock file")) from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def add_submission(result_dir: str | Path, leaderboards: str | Path = "leaderboards") -> Submission:
    """Validate a result directory and file it under ``<leaderboards>/submissions/``.

    Args:
        result_dir: A result directory written by ``reidbench evaluate`` (or its results.json).
        leaderboards: The leaderboard root.

    Returns:
        The filed submission.

    Raises:
        DataError: Invalid record (file and field named), unknown protocol, a fingerprint that
            differs from the registered protocol, no checkpoint/features sha256, or a duplicate
            (same protocol fingerprint and model sha256).
    """
    src = Path(result_dir)
    if src.name == "results.json":
        src = src.parent
    record = _check(src)
    fingerprint, sha = submission_identity(record, str(src / "results.json"))
    root = Path(leaderboards) / SUBMISSIONS_DIR
    root.mkdir(parents=True, exist_ok=True)
    name = f"{_slug(record['protocol']['id'])}--{fingerprint}--{sha[:16]}"
    target = root / name
    with _Lock(root / _LOCK):
        for other in load_submissions(leaderboards):
            if other.name == name or submission_identity(other.record, str(other.path)) == (
                    fingerprint, sha):
                raise DataError(describe("submission", str(src), "a new (protocol, model) pair",
                                         f"a duplicate of {other.path}", "a model is filed once "
                                         "per protocol; delete the old one to replace it"))
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
        try:
            for fname in ("results.json", "per_query.npz"):
                shutil.copyfile(src / fname, tmp / fname)
            try:
                os.rename(tmp, target)  # atomic; fails if the target exists
            except OSError:
                raise DataError(describe("submission", str(src), "a new (protocol, model) pair",
                                         f"a duplicate of {target}", "")) from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return Submission(name, target, record)


def load_submissions(leaderboards: str | Path = "leaderboards") -> list[Submission]:
    """Read every filed submission (sorted by name); none when the folder does not exist.

    Raises:
        DataError: If a filed submission cannot be read.
    """
    from reidbench.engine.results import read_result

    root = Path(leaderboards) / SUBMISSIONS_DIR
    if not root.is_dir():
        return []
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out.append(Submission(d.name, d, read_result(d).record))
    return out
