"""Evaluated submissions: ``reidbench leaderboard add RESULT_DIR`` files a result record.

A submission is a copy of a result directory (``results.json`` and ``per_query.npz``, both required
and checked as ``reidbench validate`` checks them) under ``leaderboards/submissions/<name>/``.
``<name>`` is derived from what makes a submission unique, the protocol fingerprint, the sha256 of
the checkpoint(s) or features file(s) and a digest of the feature procedure (so a re-ranked
evaluation of the same features is an entry of its own):
``<protocol slug>--<fingerprint>--<sha256[:16]>--<procedure digest>``. Filing is atomic and safe
against two concurrent adds: the files are written into a temporary folder beside the target and
renamed onto it; a rename onto an existing submission fails, so exactly one of two identical adds
wins and the other is refused as a duplicate. An exclusive lock file (``O_EXCL``) holding the
adder's pid serialises the duplicate scan; a lock whose process is gone (killed mid-add) is taken
over, and the hidden half-copies such a process left (``.<name>.*``) are removed by the next add.

Verification levels (leaderboards/SCHEMA.md): a submission is *self-reported* unless
``reidbench leaderboard add --verify`` re-ran its evaluation and every number matched; it then
holds ``verification.json`` naming the sha256 of the ``results.json`` and ``per_query.npz`` it
verified, and is *verified* while both files still have those digests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reidbench.errors import DataError, describe
from reidbench.records import ResultRecord, SubmissionInfo, read_result
from reidbench.records.consistency import evaluated_sha256s

__all__ = ["SUBMISSIONS_DIR", "Submission", "submission_identity", "add_submission",
           "load_submissions", "checked_submissions", "VERIFIED", "SELF_REPORTED",
           "VERIFICATION_FILE", "VERIFICATION_SCHEMA", "checked_record"]

SUBMISSIONS_DIR = "submissions"
_LOCK = ".add.lock"
VERIFIED = "verified"
SELF_REPORTED = "self-reported"
VERIFICATION_FILE = "verification.json"
VERIFICATION_SCHEMA = "reidbench.verification/1"
#: How long an add waits for another add's lock (seconds).
LOCK_TIMEOUT_S = 30.0
#: A hidden half-copy older than this (seconds) is removed even if its adder might be alive.
_STALE_COPY_S = 3600.0


@dataclass(frozen=True)
class Submission:
    """One filed submission.

    Attributes:
        name: Folder name under ``leaderboards/submissions/``.
        path: The folder.
        record: Its ``results.json``.
        verification: :data:`VERIFIED` or :data:`SELF_REPORTED`.
    """

    name: str
    path: Path
    record: ResultRecord
    verification: str = SELF_REPORTED


def submission_identity(record: ResultRecord, where: str = "results.json"
                        ) -> tuple[str, str, str]:
    """``(protocol fingerprint, model sha256, procedure digest)``: what makes two the same.

    The model's sha256 is the checkpoint's (or features file's) when there is one, else a
    sha256 over all of them (multi-split). The procedure digest (the first 12 hex digits of the
    sha256 of the record's canonical ``procedure``) tells apart evaluations of the same model
    that rank differently: re-ranked or not, another distance, clip length or sampling. The
    submission's name and description do not count: the same numbers are filed once.

    Raises:
        DataError: If the record names no checkpoint or features sha256.
    """
    import hashlib

    shas = evaluated_sha256s(record)
    if not shas:
        raise DataError(describe("field source.adapter.checkpoint_sha256", where,
                                 "the sha256 of the checkpoint or features file evaluated",
                                 "none", "evaluate a saved checkpoint (--checkpoint) or a "
                                 "features file; a submission must name what it evaluated"))
    sha = shas[0] if len(shas) == 1 else hashlib.sha256("\n".join(shas).encode()).hexdigest()
    procedure = json.dumps(record.to_json()["procedure"], sort_keys=True, separators=(",", ":"))
    return (record.protocol.fingerprint, sha,
            hashlib.sha256(procedure.encode()).hexdigest()[:12])


def checked_record(result_dir: str | Path) -> ResultRecord:
    """The record of a result directory if it passes the check ``reidbench validate`` runs.

    Raises:
        DataError: Its first problem (and how many more there are).
    """
    p = Path(result_dir)
    return _check(p.parent if p.name == "results.json" else p)


def _check(result_dir: Path) -> ResultRecord:
    """The record, if it passes the check ``reidbench validate`` runs; else the first problem."""
    from reidbench.leaderboard.validate import validate_file

    report = validate_file(result_dir, "result")
    if not report.ok:
        more = f" ({len(report.problems) - 1} more problem(s); run `reidbench validate " \
            f"{result_dir}`)" if len(report.problems) > 1 else ""
        raise DataError(report.problems[0] + more)
    record = read_result(result_dir).record
    if record.limit is not None:
        raise DataError(describe("result", str(result_dir), "an evaluation of every query",
                                 f"a quick check on {record.limit} queries per split (limit)",
                                 "evaluate again without the limit to file it"))
    return record


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _lock_owner(path: Path) -> int | None:
    """The pid written in a lock file; None when unreadable or not yet written."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")[:32].strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class _Lock:
    """An ``O_EXCL`` lock file holding the owner's pid; a dead owner's lock is taken over."""

    def __init__(self, path: Path, timeout: float | None = None) -> None:
        self.path = path
        self.timeout = LOCK_TIMEOUT_S if timeout is None else timeout

    def __enter__(self) -> _Lock:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                return self
            except FileExistsError:
                if self._break_stale():
                    continue
                if time.monotonic() > deadline:
                    owner = _lock_owner(self.path)
                    raise DataError(describe("lock file", str(self.path), "no other add running",
                                             f"a lock held for over {self.timeout:.0f} s by "
                                             f"process {owner if owner else '(unknown)'}",
                                             "wait for that add to finish, or delete the lock "
                                             "file if that process is not an add")) from None
                time.sleep(0.05)

    def _break_stale(self) -> bool:
        """Remove the lock when the pid in it is gone; True when it was removed."""
        owner = _lock_owner(self.path)
        if owner is None:  # being written right now, or garbage: judge by its age
            try:
                age = time.time() - self.path.stat().st_mtime
            except OSError:
                return True  # gone already
            if age < 5.0:
                return False
        elif _pid_alive(owner):
            return False
        # rename first so that two adds breaking the same stale lock cannot both proceed
        grave = self.path.with_name(f"{self.path.name}.stale.{os.getpid()}")
        try:
            os.rename(self.path, grave)
        except OSError:
            return True  # someone else broke it first: retry the O_EXCL create
        if _lock_owner(grave) != owner:  # it changed hands meanwhile: put it back if we can
            try:
                os.link(grave, self.path)
            except OSError:
                pass
        grave.unlink(missing_ok=True)
        return True

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def _remove_half_copies(root: Path) -> None:
    """Remove hidden ``.<name>.*`` temporary folders an add killed mid-copy left behind.

    Called while holding the lock: a live add makes its copy only under the lock, so any such
    folder older than the lock was left by a dead process; very old ones are removed regardless.
    """
    for d in root.iterdir():
        if d.name.startswith(".") and d.name != _LOCK and d.is_dir():
            owner = d.name.rsplit(".", 1)[-1]
            pid = int(owner[3:]) if owner.startswith("pid") and owner[3:].isdigit() else None
            try:
                old = time.time() - d.stat().st_mtime > _STALE_COPY_S
            except OSError:
                continue
            if pid is None or not _pid_alive(pid) or old or pid == os.getpid():
                shutil.rmtree(d, ignore_errors=True)


def _check_writable(root: Path, where: str) -> None:
    """Refuse a leaderboard root that is a file or cannot be written, before anything is copied."""
    for p in (root.parent, root):
        if p.exists() and not p.is_dir():
            raise DataError(describe("leaderboards", where, "a folder (the leaderboard root, "
                                     "holding submissions/)", f"{p} is a file",
                                     "pass the leaderboards/ folder"), param="leaderboards")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(describe("leaderboards", where, "a folder reidbench can create",
                                 f"{type(exc).__name__} on {root}: {exc.strerror or exc}",
                                 "pass a writable leaderboards/ folder"),
                        param="leaderboards") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise DataError(describe("leaderboards", where, "a writable folder",
                                 f"{root} is read-only for this user",
                                 "pass a writable leaderboards/ folder, or fix its permissions"),
                        param="leaderboards")


def add_submission(result_dir: str | Path, leaderboards: str | Path = "leaderboards",
                   verification: dict[str, Any] | None = None,
                   submission: SubmissionInfo | None = None) -> Submission:
    """Validate a result directory and file it under ``<leaderboards>/submissions/``.

    Args:
        result_dir: A result directory written by ``reidbench evaluate`` (or its results.json).
        leaderboards: The leaderboard root.
        verification: What ``leaderboard add --verify`` established (every number reproduced);
            stored as ``verification.json`` with the digests of the files it covers. None files a
            self-reported entry.
        submission: Name, description, backbone or url to file the result under; each given
            field replaces the record's own in the filed copy (the numbers are untouched).

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
    if submission is not None:
        merged = (record.submission or SubmissionInfo()).merged(submission)
        record = replace(record, submission=merged)
    fingerprint, sha, proc = submission_identity(record, str(src / "results.json"))
    root = Path(leaderboards) / SUBMISSIONS_DIR
    _check_writable(root, "reidbench leaderboard add")
    name = f"{_slug(record.protocol.id)}--{fingerprint}--{sha[:16]}--{proc}"
    target = root / name
    try:
        with _Lock(root / _LOCK):
            _remove_half_copies(root)
            _refuse_duplicate(src, leaderboards, name, (fingerprint, sha, proc))
            _copy_in(src, root, name, target, verification,
                     record if submission is not None else None)
    except OSError as exc:  # a disk or permission fault found while copying
        raise DataError(describe("submission", str(root), "a folder the copy can be written to",
                                 f"{type(exc).__name__}: {exc.strerror or exc}",
                                 "check the disk and the folder's permissions; nothing was "
                                 "filed")) from None
    level = VERIFIED if verification is not None else SELF_REPORTED
    return Submission(name, target, record, level)


def _refuse_duplicate(src: Path, leaderboards: str | Path, name: str,
                      identity: tuple[str, str, str]) -> None:
    for other in load_submissions(leaderboards):
        if other.name == name or submission_identity(other.record, str(other.path)) == identity:
            raise DataError(describe("submission", str(src), "a new (protocol, model, "
                                     "procedure) triple", f"a duplicate of {other.path}",
                                     "a model is filed once per protocol and procedure; "
                                     "delete the old one to replace it"))


def _copy_in(src: Path, root: Path, name: str, target: Path,
             verification: dict[str, Any] | None, record: ResultRecord | None = None) -> None:
    """Copy the result into a hidden folder, then rename it onto ``target`` (atomic).

    ``record``, when given, is written as the copy's ``results.json`` (the record with the
    submission fields ``leaderboard add`` was given) instead of the source's file.
    """
    from reidbench.fileio import sha256_file, umask_mode

    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=f".pid{os.getpid()}", dir=root))
    try:
        for fname in ("results.json", "per_query.npz"):
            shutil.copyfile(src / fname, tmp / fname)
        if record is not None:
            (tmp / "results.json").write_text(json.dumps(record.to_json(), indent=2,
                                                         allow_nan=False) + "\n",
                                              encoding="utf-8")
        if verification is not None:
            doc = {"schema": VERIFICATION_SCHEMA, "level": VERIFIED,
                   "results_sha256": sha256_file(tmp / "results.json"),
                   "per_query_sha256": sha256_file(tmp / "per_query.npz"), **verification}
            (tmp / VERIFICATION_FILE).write_text(json.dumps(doc, indent=2) + "\n")
        umask_mode(tmp)
        try:
            os.rename(tmp, target)  # atomic; fails if the target exists
        except OSError:
            raise DataError(describe("submission", str(src), "a new (protocol, model) pair",
                                     f"a duplicate of {target}", "")) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _verification_level(folder: Path, record: Any = None) -> str:
    """:data:`VERIFIED` when ``verification.json`` covers the files as they are now.

    It must name the digests of both files as they are, and (given the record) the sha256 it
    verified must be among those the record names and its dataset fingerprint the record's.
    """
    from reidbench.fileio import loads_bounded, sha256_file

    doc_path = folder / VERIFICATION_FILE
    if not doc_path.is_file():
        return SELF_REPORTED
    try:
        doc = loads_bounded(doc_path.read_text(encoding="utf-8")[:100_000])
    except (OSError, ValueError, RecursionError):
        return SELF_REPORTED
    if not isinstance(doc, dict) or doc.get("level") != VERIFIED:
        return SELF_REPORTED
    try:
        same = (doc.get("results_sha256") == sha256_file(folder / "results.json")
                and doc.get("per_query_sha256") == sha256_file(folder / "per_query.npz"))
    except OSError:
        return SELF_REPORTED
    if same and record is not None:
        rec = record.to_json() if hasattr(record, "to_json") else record
        shas = doc.get("verified_sha256")
        named = set(evaluated_sha256s(rec))
        same = (isinstance(shas, list) and bool(shas) and all(s in named for s in shas)
                and doc.get("dataset_fingerprint") == (rec.get("dataset") or {}).get(
                    "fingerprint"))
    return VERIFIED if same else SELF_REPORTED


def load_submissions(leaderboards: str | Path = "leaderboards") -> list[Submission]:
    """Read every filed submission (sorted by name); none when the folder does not exist.

    Raises:
        DataError: If a filed submission cannot be read.
    """
    root = Path(leaderboards) / SUBMISSIONS_DIR
    if not root.is_dir():
        return []
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        record = read_result(d).record
        out.append(Submission(d.name, d, record, _verification_level(d, record)))
    return out


def checked_submissions(leaderboards: str | Path = "leaderboards") -> list[Submission]:
    """Every filed submission, each passing the check ``reidbench validate`` runs.

    ``leaderboard build`` reads submissions through this, so a record edited after filing (a
    summary that disagrees with its own ``per_query.npz``) is refused exactly as ``validate``,
    ``leaderboard add`` and ``compare`` refuse it.

    Raises:
        DataError: The first problem of the first submission that fails the check.
    """
    subs = load_submissions(leaderboards)
    for sub in subs:
        _check(sub.path)
    return subs
