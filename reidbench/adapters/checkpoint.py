"""Safe checkpoint loading. Checkpoints are untrusted input: never unpickled.

A checkpoint is read with safetensors (``.safetensors``) or with ``torch.load(weights_only=True)``,
which refuses any pickle that would construct arbitrary objects or run code. Every load returns the
file's sha256 so results can name exactly which weights produced them.
"""

from __future__ import annotations

import io
import json
import pickletools
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidbench.errors import CheckpointError, describe, first_line
from reidbench.fileio import (
    JSONBoundError,
    json_problem,
    loads_bounded,
    sha256_file,
    umask_mode,
)

__all__ = ["Checkpoint", "load_checkpoint", "read_checkpoint_meta", "read_torch_file",
           "save_checkpoint", "sha256_file"]

_META_KEY = "reidbench_meta"
_MAX_META_CHARS = 1 << 20


@dataclass(frozen=True)
class Checkpoint:
    """Weights and metadata read from a checkpoint file.

    Attributes:
        state_dict: Parameter name -> tensor.
        meta: Metadata the writer stored (baseline name, config, training dataset, versions).
        sha256: Hex sha256 of the file.
        path: Where it was read from.
    """

    state_dict: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    path: str = ""


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint without ever unpickling code.

    Accepts ``.safetensors`` (metadata in the header's ``reidbench_meta`` JSON string) and torch
    files saved as ``{"state_dict": ..., "meta": ...}`` or as a bare state dict, read with
    ``weights_only=True``. The metadata must be a JSON object (a dict of strings, finite numbers,
    lists and dicts), as :func:`save_checkpoint` writes it.

    Raises:
        CheckpointError: If the file is missing, unreadable, not a checkpoint, unsafe (its pickle
            would import code), holds no tensors, or carries metadata that is not a JSON object.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(describe("checkpoint", str(p), "an existing file", "nothing there",
                                       "check the path"))
    digest = sha256_file(p)
    if p.suffix == ".safetensors":
        state, header = _read_safetensors(p)
        meta = _meta_from_json(header.get(_META_KEY, "{}"), p)
        return Checkpoint(state, meta, digest, str(p))
    state, meta = _split(_torch_load(p), p)
    return Checkpoint(state, _check_meta(meta, p), digest, str(p))


def read_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """Read only a checkpoint's metadata, with the checks of :func:`load_checkpoint`.

    A ``.safetensors`` header is read without its tensors; a torch file is loaded in full (safely).
    The engine uses it to check every split's checkpoint before it evaluates any.

    Raises:
        CheckpointError: As :func:`load_checkpoint`.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(describe("checkpoint", str(p), "an existing file", "nothing there",
                                       "check the path"))
    if p.suffix == ".safetensors":
        try:
            from safetensors import safe_open

            with safe_open(str(p), framework="pt") as f:
                header = f.metadata() or {}
        except Exception as exc:
            raise _not_safetensors(p, exc) from None
        return _meta_from_json(header.get(_META_KEY, "{}"), p)
    return _check_meta(_split(_torch_load(p), p)[1], p)


def read_torch_file(path: str | Path) -> Any:
    """Read any torch-saved file with ``weights_only=True`` (tensors, dicts, lists, numbers).

    For checkpoints in other codebases' layouts (``reidbench import-weights``): the object is
    returned as saved, without the state-dict checks of :func:`load_checkpoint`. A file whose
    only non-torch globals are numpy scalars (a ``rank1`` saved as ``numpy.float64``, as COSAM's
    training script does) is read with those admitted; any other global is refused.

    Raises:
        CheckpointError: As :func:`load_checkpoint` (missing, empty, unsafe or foreign file).
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(describe("checkpoint", str(p), "an existing file", "nothing there",
                                       "check the path"))
    try:
        return _torch_load(p)
    except CheckpointError:
        found, parsed = _pickle_globals(p)
        extra = {g for g in found if g.split(".")[0] not in _SAFE_MODULES}
        if not (parsed and extra) or not extra <= _NUMPY_SCALAR_GLOBALS:
            raise
    return _torch_load(p, numpy_scalars=True)


#: The globals a pickled numpy scalar needs (e.g. a ``rank1`` float saved beside the weights):
#: the scalar is rebuilt from a dtype and its bytes, no other code runs.
_NUMPY_SCALAR_GLOBALS = frozenset({
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
    *(f"numpy.dtypes.{n}DType" for n in ("Float64", "Float32", "Float16", "Int64", "Int32",
                                         "Int16", "Int8", "UInt8", "Bool")),
})


def _numpy_scalar_globals() -> list[Any]:
    import numpy as np

    found: list[Any] = [np.dtype]
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            found.append(__import__(module, fromlist=["scalar"]).scalar)
        except (ImportError, AttributeError):
            continue
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        found += [getattr(dtypes, f"{n}DType") for n in ("Float64", "Float32", "Float16", "Int64",
                                                        "Int32", "Int16", "Int8", "UInt8", "Bool")
                  if hasattr(dtypes, f"{n}DType")]
    return found


def _read_safetensors(p: Path) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        from safetensors import safe_open

        with safe_open(str(p), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
            header = f.metadata() or {}
    except Exception as exc:
        raise _not_safetensors(p, exc) from None
    if not state:
        raise CheckpointError(describe("checkpoint", str(p), "at least one tensor", "none",
                                       "save model.state_dict()"))
    return state, header


def _not_safetensors(p: Path, exc: Exception) -> CheckpointError:
    reason = first_line(exc)
    return CheckpointError(describe("checkpoint", str(p), "a valid safetensors file",
                                    f"{type(exc).__name__}: {reason}",
                                    "re-save it with safetensors.torch.save_file"))


def _meta_from_json(text: str, p: Path) -> dict[str, Any]:
    try:
        meta = loads_bounded(text, max_chars=_MAX_META_CHARS)
    except JSONBoundError as exc:
        raise CheckpointError(describe(f"metadata {_META_KEY!r}", str(p), "a JSON object of "
                                       "sane size and nesting", str(exc),
                                       "re-save it with reidbench.adapters.save_checkpoint"
                                       )) from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(describe(f"metadata {_META_KEY!r}", str(p), "a JSON object",
                                       f"invalid JSON ({exc.msg} at character {exc.pos})",
                                       "re-save it with reidbench.adapters.save_checkpoint"
                                       )) from None
    return _check_meta(meta, p)


def _check_meta(meta: Any, p: Path) -> dict[str, Any]:
    """Require checkpoint metadata to be a JSON object (it goes into every result record)."""
    if not isinstance(meta, dict):
        raise CheckpointError(describe("metadata", str(p), "a JSON object (dict)",
                                       f"a {type(meta).__name__}",
                                       "store a dict of plain values as 'meta', or none"))
    problem = json_problem(meta, "meta")
    if problem:
        raise CheckpointError(describe("metadata", str(p), "plain JSON values (strings, finite "
                                       "numbers, lists, dicts)", problem,
                                       "store only plain values in 'meta'"))
    from reidbench.adapters.meta import check_meta_fields

    return check_meta_fields(meta, str(p))


def _torch_load(p: Path, numpy_scalars: bool = False) -> Any:
    """``torch.load(weights_only=True)``, its warnings silenced and its errors made one line.

    ``numpy_scalars`` also admits pickled numpy scalars (:func:`read_torch_file` only).
    """
    import contextlib

    import torch

    if p.stat().st_size == 0:
        raise CheckpointError(describe("checkpoint", str(p), "a torch or safetensors checkpoint",
                                       "an empty file", "copy the file again"))
    _check_torch_zip(p)
    try:
        allowed = (torch.serialization.safe_globals(_numpy_scalar_globals()) if numpy_scalars
                   else contextlib.nullcontext())
        with warnings.catch_warnings(), allowed:
            warnings.simplefilter("ignore")
            return torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        got, fix = _why_refused(p, exc)
        raise CheckpointError(describe("checkpoint", str(p), "tensors loadable with "
                                       "torch.load(weights_only=True) or a .safetensors file",
                                       got, fix)) from None


#: Largest pickle member of a torch zip (a ResNet-50 state dict's data.pkl is ~50 KB).
MAX_PICKLE_BYTES = 64 << 20


def _check_torch_zip(p: Path) -> None:
    """Refuse a torch zip whose members would inflate beyond bounds, before torch reads it.

    ``torch.save`` stores its members uncompressed; a pickle member declaring more than
    :data:`MAX_PICKLE_BYTES`, or any compressed member inflating beyond it, is built to exhaust
    memory (a 1 MB file whose pickle inflates to 1 GiB).
    """
    try:  # is_zipfile itself raises BadZipFile on a damaged zip64 end record
        if not zipfile.is_zipfile(p):
            return
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        return  # torch's own reader reports it as corrupt
    for info in infos:
        big = info.file_size > MAX_PICKLE_BYTES
        if big and (info.filename.endswith(".pkl") or info.compress_type != zipfile.ZIP_STORED):
            raise CheckpointError(describe(
                "checkpoint", str(p), "a torch.save archive (pickle member at most "
                f"{MAX_PICKLE_BYTES:,} bytes, tensors stored uncompressed)",
                f"member {info.filename[-60:]!r} inflating to {info.file_size:,} bytes from "
                f"{info.compress_size:,}", "re-save the state_dict with torch.save, or convert "
                "to safetensors"))


#: Modules whose globals a torch.save state dict legitimately names.
_SAFE_MODULES = ("torch", "collections", "_codecs")


def _why_refused(p: Path, exc: Exception) -> tuple[str, str]:
    """Say why torch refused a file: ``(got, fix)`` for the error message.

    An unsafe pickle (it would import code), a file that is no checkpoint, or another refusal.
    """
    found, parsed = _pickle_globals(p)
    # only a stream that parses is a pickle: text (a .py, a .json) scans as opcodes for a while
    unsafe = [g for g in found if g.split(".")[0] not in _SAFE_MODULES] if parsed else []
    if unsafe:
        return (f"a pickle that needs arbitrary code to load (it imports {unsafe[0]}); refused, "
                "never unpickled", "save only the state_dict (and plain metadata), or convert "
                "to safetensors")
    if not parsed and _looks_like_safetensors(p):
        return ("a safetensors file under another suffix",
                f"rename it to {p.with_suffix('.safetensors').name} (the suffix picks the reader)")
    if not parsed:
        return ("not a torch checkpoint (a corrupt, truncated or foreign file)",
                "copy the file again, or pass the checkpoint itself")
    reason = first_line(exc)
    return (f"a file torch cannot read safely ({reason[:160]})",
            "re-save the state_dict with torch.save, or convert to safetensors")


def _looks_like_safetensors(p: Path) -> bool:
    """A safetensors file: an 8-byte little-endian header length, then a JSON header."""
    try:
        with p.open("rb") as fh:
            head = fh.read(9)
    except OSError:
        return False
    size = p.stat().st_size
    return len(head) == 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < size


def _pickle_globals(p: Path) -> tuple[list[str], bool]:
    """``(globals the pickle imports, whether it parsed)``, read with pickletools: nothing runs.

    A torch.save zip archive is read through its ``data.pkl`` member; any other file as a raw
    pickle stream.
    """
    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as zf:
                name = next((n for n in zf.namelist() if n.endswith("data.pkl")), None)
                if name is None:
                    return [], False
                with zf.open(name) as member:  # bounded: never more than the scan needs
                    return _scan_pickle(io.BytesIO(member.read(MAX_PICKLE_BYTES)))
        with open(p, "rb") as f:
            return _scan_pickle(f)
    except (OSError, zipfile.BadZipFile, EOFError, NotImplementedError, ValueError,
            RuntimeError, zlib.error):  # a damaged zip (unknown version, bad zip64 record)
        return [], False


def _scan_pickle(stream: Any) -> tuple[list[str], bool]:
    found: list[str] = []
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(stream):
            if op.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL":
                found.append(".".join(strings[-2:]) if len(strings) >= 2 else "an unnamed global")
            elif isinstance(arg, str):
                strings.append(arg)
    except (ValueError, EOFError, UnicodeDecodeError):
        return found, False
    return found, True


def _split(obj: Any, p: Path) -> tuple[dict[str, Any], Any]:
    import torch

    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        state, meta = obj["state_dict"], obj.get("meta", {})
        meta = {} if meta is None else meta
    elif isinstance(obj, dict):
        state, meta = obj, {}
    else:
        raise CheckpointError(describe("checkpoint", str(p), "a dict of tensors",
                                       f"a {type(obj).__name__}", "save model.state_dict()"))
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad or not state:
        raise CheckpointError(describe("state_dict", str(p), "a non-empty name -> tensor mapping",
                                       f"non-tensor entries {bad[:3]}" if bad else "no tensors",
                                       "save model.state_dict()"))
    return state, meta


def save_checkpoint(path: str | Path, state_dict: dict[str, Any], meta: dict[str, Any]) -> str:
    """Write a safetensors checkpoint atomically; return its sha256.

    ``meta`` must be JSON-serialisable (baseline name, config, training dataset, versions).
    """
    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    try:
        save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(meta, sort_keys=True)})
        umask_mode(tmp)  # safetensors creates 0600 files; a checkpoint follows the user's umask
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)
    return sha256_file(p)
