"""Atomic file writes (core layer): a temporary file in the same folder, then a rename."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "json_problem", "sha256_file", "write_json_atomic",
           "write_text_atomic", "write_texts_atomic", "umask_mode"]


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; restored at once
    os.umask(mask)
    return mask


def umask_mode(path: str | Path) -> None:
    """Give a temporary file or folder the mode a plain ``open``/``mkdir`` would have given it.

    ``mkstemp`` makes 0600 files and ``mkdtemp`` 0700 folders; under the user's umask a plain
    create gives 0644 / 0755 (umask 022). Temporary files are private while written; once
    renamed into place they are ordinary files.
    """
    p = Path(path)
    os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~_umask())


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` and rename the result onto ``path``; nothing is left on failure."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        umask_mode(tmp_path)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_texts_atomic(files: list[tuple[Path, str]]) -> list[Path]:
    """Write several UTF-8 text files all or nothing: every temporary file first, then renames.

    If rendering or writing any of them fails (disk full, a folder that cannot be created),
    every temporary file is removed and no target is touched. Only the final renames, each atomic,
    run once every file is on disk.

    Returns:
        The targets, in order.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in files:
            target = Path(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                       dir=target.parent)
            os.close(fd)
            staged.append((Path(tmp), target))
            Path(tmp).write_text(text, encoding="utf-8")
            umask_mode(tmp)
        for tmp_path, target in staged:
            os.replace(tmp_path, target)
    finally:
        for tmp_path, _ in staged:
            tmp_path.unlink(missing_ok=True)
    return [Path(t) for t, _ in files]


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    def _write(tmp: Path) -> None:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")

    atomic_write(path, _write)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def json_problem(obj: Any, path: str = "") -> str | None:
    """Say where ``obj`` stops being strict JSON, or return None when it is clean.

    Strict JSON is dicts with string keys, lists and tuples, strings, bools, None, ints and finite
    floats: what ``json.dumps(obj, allow_nan=False)`` writes and reads back unchanged.

    Args:
        obj: The value to check.
        path: Where ``obj`` sits (used in the answer), e.g. ``"meta"``.

    Returns:
        ``"nan at meta.best_loss"`` or ``"a value of type Tensor at meta.t"``, or None.

    Example:
        >>> json_problem({"a": [1, float("nan")]})
        'nan at a[1]'
    """
    where = path or "the top level"
    if obj is None or isinstance(obj, (str, bool, int)):
        return None
    if isinstance(obj, float):
        return None if math.isfinite(obj) else f"{obj!r} at {where}"
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                return f"the non-string key {key!r} at {where}"
            found = json_problem(value, f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            found = json_problem(value, f"{path}[{i}]")
            if found:
                return found
        return None
    return f"a value of type {type(obj).__name__} at {where}"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
