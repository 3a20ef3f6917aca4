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

from reidbench.errors import first_line

__all__ = ["atomic_write", "json_problem", "json_depth", "loads_bounded", "MAX_JSON_DEPTH",
           "sha256_file", "write_json_atomic", "write_text_atomic", "JSONBoundError",
           "write_texts_atomic", "umask_mode", "unwritable_reason", "read_npz_bounded",
           "NpzError"]


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


#: Deepest nesting of lists/objects accepted in a JSON document read from disk (reidbench's own
#: records nest fewer than 10 levels; Python's json recurses once per level).
MAX_JSON_DEPTH = 64


def json_depth(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of the lists and objects of a JSON text, scanning no further than ``limit``.

    Brackets inside strings are skipped (escapes honoured). Vectorised, no recursion, so a
    document nested 200,000 levels deep is measured without a RecursionError.

    Returns:
        The depth, or ``limit + 1`` as soon as it is exceeded.

    Example:
        >>> json_depth('{"a": [1, {"b": "[[["}]}')
        3
    """
    import re

    import numpy as np

    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    data = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", data)  # strings hold no structure
    codes = np.frombuffer(data, dtype=np.uint8)
    step = np.zeros(codes.shape, dtype=np.int64)
    step[(codes == 0x5B) | (codes == 0x7B)] = 1  # [ {
    step[(codes == 0x5D) | (codes == 0x7D)] = -1  # ] }
    deepest = int(np.cumsum(step).max()) if step.size else 0
    return min(deepest, limit + 1)


def loads_bounded(text: str, *, max_chars: int = 16 << 20,
                  max_depth: int = MAX_JSON_DEPTH, finite: bool = False) -> Any:
    """``json.loads`` of untrusted text, refusing oversized or too deeply nested documents first.

    Args:
        text: The JSON text.
        max_chars: Largest text accepted.
        max_depth: Deepest nesting accepted.
        finite: Also refuse ``NaN``, ``Infinity`` and numbers that overflow to them (``1e999``),
            which ``json.loads`` accepts although they are not JSON.

    Raises:
        ValueError: Subclass :class:`json.JSONDecodeError` for invalid JSON (as ``json.loads``),
            or :class:`JSONBoundError` for a document over the bounds (its message says which),
            including an integer longer than Python converts (4,300 digits by default).
    """
    if len(text) > max_chars:
        raise JSONBoundError(f"{len(text):,} characters (more than {max_chars:,})")
    depth = json_depth(text, max_depth)
    if depth > max_depth:
        raise JSONBoundError(f"lists/objects nested deeper than {max_depth} levels")
    hooks: dict[str, Any] = {}
    if finite:
        def _no_constant(name: str) -> Any:
            raise JSONBoundError(f"the non-finite number {name} (not JSON)")

        def _finite_float(literal: str) -> float:
            value = float(literal)
            if not math.isfinite(value):
                raise JSONBoundError(f"the number {literal[:40]} (beyond float range)")
            return value

        hooks = {"parse_constant": _no_constant, "parse_float": _finite_float}
    try:
        return json.loads(text, **hooks)
    except (json.JSONDecodeError, JSONBoundError):
        raise
    except ValueError as exc:  # int("9" * 5000): past sys.get_int_max_str_digits()
        reason = first_line(exc, 80)
        raise JSONBoundError(f"a number Python refuses to read ({reason})") from None


class JSONBoundError(ValueError):
    """A JSON document over the size or depth bound (raised before it is parsed)."""


def json_problem(obj: Any, path: str = "", _depth: int = 0) -> str | None:
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
    if _depth > MAX_JSON_DEPTH:
        return f"nesting deeper than {MAX_JSON_DEPTH} levels at {where}"
    if obj is None or isinstance(obj, (str, bool, int)):
        return None
    if isinstance(obj, float):
        return None if math.isfinite(obj) else f"{obj!r} at {where}"
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                return f"the non-string key {key!r} at {where}"
            found = json_problem(value, f"{path}.{key}" if path else key, _depth + 1)
            if found:
                return found
        return None
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            found = json_problem(value, f"{path}[{i}]", _depth + 1)
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


def unwritable_reason(folder: str | Path) -> str | None:
    """Why a folder could not be created or written here, or None when it can.

    Walks up to the nearest existing ancestor: a file there (``--out a.txt/run``) or a folder this
    user cannot write is the reason. Nothing is created. Checked before any computing, so a result
    or checkpoint that cannot be written is never computed.
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        return f"{out} is a file"
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is read-only for this user"
    return None


class NpzError(ValueError):
    """An ``.npz`` that :func:`read_npz_bounded` refuses; the message says why, in words."""


def read_npz_bounded(path: str | Path, *, max_array_bytes: int = 1 << 30,
                     max_total_bytes: int = 2 << 30, max_members: int = 64,
                     check: Callable[[str, tuple[int, ...], Any], None] | None = None
                     ) -> dict[str, Any]:
    """Read every array of an untrusted ``.npz`` without letting it claim unbounded memory.

    numpy's own reader trusts the archive: a member whose ``.npy`` header declares
    ``(28, 2**40)`` makes it ask for 112 TiB, and a member that deflates 778 KB into 800 MB is
    inflated in full. Here, before any array data is read:

    * at most ``max_members`` members, each declaring (zip header ``file_size``) at most
      ``max_array_bytes`` uncompressed, ``max_total_bytes`` together;
    * each member's ``.npy`` header is parsed alone: no object dtype (it would need unpickling),
      and the declared shape times the item size fits ``max_array_bytes`` and the member's
      declared size;
    * ``check(name, shape, dtype)`` (optional) may refuse a shape, e.g. more rows than the
      protocol has items, by raising;
    * the data is then read from the decompressing stream, which stops at the declared size, so
      at most the declared number of bytes is ever inflated.

    Args:
        path: The archive.
        max_array_bytes: Largest array accepted.
        max_total_bytes: Largest sum of arrays accepted.
        max_members: Most members accepted.
        check: Called with each member's name (without ``.npy``), shape and dtype before its data
            is read.

    Returns:
        ``{name: array}`` (writable arrays).

    Raises:
        NpzError: Not a zip, a member that is no ``.npy``, an object array, a size over a bound, a
            truncated or corrupt member (the message says which, in words).
    """
    import zipfile
    import zlib

    import numpy as np
    from numpy.lib import format as npformat

    out: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > max_members:
                raise NpzError(f"{len(infos)} members (more than {max_members})")
            total = sum(i.file_size for i in infos)
            for info in infos:
                if info.file_size > max_array_bytes:
                    raise NpzError(f"member {info.filename!r} inflating to {info.file_size:,} "
                                   f"bytes (more than {max_array_bytes:,})")
            if total > max_total_bytes:
                raise NpzError(f"members inflating to {total:,} bytes together (more than "
                               f"{max_total_bytes:,})")
            for info in infos:
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as stream:
                    try:
                        version = npformat.read_magic(stream)
                        if version == (1, 0):
                            shape, fortran, dtype = npformat.read_array_header_1_0(stream)
                        elif version in ((2, 0), (3, 0)):
                            shape, fortran, dtype = npformat.read_array_header_2_0(stream)
                        else:
                            raise NpzError(f"member {name!r} with .npy format {version}")
                    except NpzError:
                        raise
                    except Exception as exc:  # noqa: BLE001 (numpy's header parser raises
                        # ValueError, SyntaxError, TypeError, tokenize.TokenError, ...)
                        reason = first_line(exc, 120)
                        raise NpzError(f"member {name!r} that is no .npy array ({reason})"
                                       ) from None
                    _check_npy_header(name, shape, dtype, max_array_bytes)
                    count = math.prod(int(d) for d in shape)
                    nbytes = count * dtype.itemsize
                    if nbytes > max_array_bytes or nbytes > info.file_size:
                        raise NpzError(f"member {name!r} declaring shape {tuple(shape)} of "
                                       f"{dtype} ({nbytes:,} bytes) in {info.file_size:,} bytes")
                    if check is not None:
                        check(name, tuple(int(d) for d in shape), dtype)
                    buf = bytearray(nbytes)
                    view = memoryview(buf)
                    got = 0
                    while got < nbytes:
                        n = stream.readinto(view[got:])
                        if not n:
                            raise NpzError(f"member {name!r} truncated ({got:,} of {nbytes:,} "
                                           "bytes)")
                        got += n
                    arr = np.frombuffer(buf, dtype=dtype, count=count)
                    if dtype.kind == "U":
                        _check_unicode(name, arr)
                    out[name] = arr.reshape(shape, order="F" if fortran else "C")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as exc:
        reason = first_line(exc, 160)
        raise NpzError(f"a corrupt or unreadable archive ({reason})") from None
    return out


#: Most dimensions accepted for one ``.npy`` member (numpy itself allows 64; reidbench writes <= 2).
MAX_NPY_NDIM = 32


def _check_npy_header(name: str, shape: Any, dtype: Any, max_array_bytes: int) -> None:
    """Refuse a parsed ``.npy`` header that numpy could not turn into an array of bounded size.

    numpy's header parser accepts negative dimensions, more than 64 of them, a dimension past
    what an index can hold when another is 0, zero-sized string types and structured types;
    building the array from such a header raises deep inside numpy (or asks it for terabytes).
    """
    if dtype.hasobject:
        raise NpzError(f"member {name!r} holding an object array (it would need unpickling)")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise NpzError(f"member {name!r} of the structured type {str(dtype)[:80]} (plain "
                       "numbers or strings expected)")
    if dtype.itemsize == 0:
        raise NpzError(f"member {name!r} of the zero-sized type {dtype}")
    if len(shape) > MAX_NPY_NDIM:
        raise NpzError(f"member {name!r} declaring {len(shape)} dimensions (at most "
                       f"{MAX_NPY_NDIM})")
    bad = [d for d in shape if not 0 <= int(d) <= max_array_bytes]
    if bad:
        raise NpzError(f"member {name!r} declaring the dimension {int(bad[0]):,} in shape "
                       f"{tuple(int(d) for d in shape)}"[:300])
    # the non-zero axes bounded too: (0, 2**31, 2**31) holds nothing, but numpy cannot shape it
    span = math.prod(max(int(d), 1) for d in shape) * dtype.itemsize
    if span > max_array_bytes:
        raise NpzError(f"member {name!r} declaring shape {tuple(int(d) for d in shape)} of "
                       f"{dtype}, whose non-empty axes span {span:,} bytes"[:300])


def _check_unicode(name: str, arr: Any) -> None:
    """Refuse text arrays holding code points Python strings cannot (or should not) hold.

    numpy stores ``U`` arrays as raw UCS-4: a crafted file may hold values above U+10FFFF (turning
    them into ``str`` raises SystemError) or lone surrogates (which cannot be written as UTF-8).
    """
    import numpy as np

    codes = arr.view(np.uint32)
    bad = (codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF))
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise NpzError(f"member {name!r} holding text that is not valid Unicode (code point "
                       f"{int(codes[at]):#x})")
