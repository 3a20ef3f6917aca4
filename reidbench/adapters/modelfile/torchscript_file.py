"""TorchScript model files: the archive is scanned as data before ``torch.jit.load``.

What loading a TorchScript archive (``torch.jit.save``) can and cannot do:

* ``torch.jit.load`` reads the archive's pickles (``data.pkl``, ``constants.pkl``, the
  ``*.debug_pkl`` source maps) with torch's own C++ unpickler, which builds tensors, containers
  and TorchScript objects only: it cannot import a Python module or call a Python function. It
  compiles the archive's ``code/`` (TorchScript, a typed subset of Python) with torch's compiler;
  no Python bytecode runs.
* Archive code runs at load time only through ``__setstate__`` methods of its classes, and at
  forward time in the TorchScript interpreter, which can call any operator registered in the
  process: all of ``aten`` (including ``aten::from_file``, which reads a file of the caller's
  choosing, and ``aten::save``), ``prim``, and those of any extension loaded in the process.

So before loading, reidbench refuses an archive that is too large or malformed, whose pickles
name Python globals outside torch's own (``torch.*``, the archive's ``__torch__.*`` classes and
``collections.OrderedDict``, which torch's pickler writes for parameter dicts; scanned with
``pickletools``, never unpickled), or whose code defines ``__setstate__``. After loading (which
compiles but runs nothing), it refuses a ``forward`` whose inlined graph calls an operator outside
``aten`` and ``prim``, or one of :data:`REFUSED_OPS`.
"""

from __future__ import annotations

import io
import pickletools
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from reidbench.errors import CheckpointError, describe, first_line

__all__ = ["MAX_TORCHSCRIPT_BYTES", "REFUSED_OPS", "TorchScriptModel", "inspect_torchscript",
           "is_torchscript"]

#: Largest archive read (bytes).
MAX_TORCHSCRIPT_BYTES = 4 * 1024**3
#: Largest pickle, code file or metadata entry inside an archive (bytes, uncompressed).
MAX_MEMBER_BYTES = 64 * 1024**2
MAX_MEMBERS = 100_000
#: Operators of the allowed namespaces that touch files.
REFUSED_OPS = frozenset({"aten::from_file", "aten::save"})
ALLOWED_NAMESPACES = frozenset({"aten", "prim"})
_PICKLES = (".pkl", ".debug_pkl")


def is_torchscript(names: list[str]) -> bool:
    """Whether a zip's member names are those of a ``torch.jit.save`` archive."""
    return any(n.endswith("/data.pkl") for n in names) and any("/code/" in n for n in names)


def _safe_global(module: str, name: str) -> bool:
    if module == "collections" and name == "OrderedDict":
        return True
    return module.split(".")[0] in ("torch", "__torch__")


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    if info.file_size > MAX_MEMBER_BYTES:
        raise CheckpointError(describe(f"archive member {info.filename!r}", where,
                                       f"at most {MAX_MEMBER_BYTES} bytes", f"{info.file_size}",
                                       ""))
    with zf.open(info) as f:  # zipfile stops at the declared size and checks the CRC
        data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise CheckpointError(describe(f"archive member {info.filename!r}", where,
                                       f"at most {MAX_MEMBER_BYTES} bytes", "more", ""))
    return data


def _globals(data: bytes) -> list[tuple[str, str]] | None:
    """The ``(module, name)`` globals a pickle names, or None when it does not parse."""
    found: list[tuple[str, str]] = []
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name in ("GLOBAL", "INST"):
                module, _, name = str(arg).partition(" ")
                found.append((module, name))
            elif op.name == "STACK_GLOBAL":
                found.append((strings[-2], strings[-1]) if len(strings) >= 2 else ("?", "?"))
            elif isinstance(arg, str):
                strings.append(arg)
    except (ValueError, EOFError, UnicodeDecodeError, IndexError):
        return None
    return found


def inspect_torchscript(data: bytes, path: Path) -> dict[str, str]:
    """Scan a TorchScript archive's bytes; return its ``extra/`` metadata entries.

    Raises:
        CheckpointError: An archive this module refuses (see the module docstring).
    """
    where = str(path)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CheckpointError(describe("TorchScript archive", where, "a readable zip archive",
                                       "a damaged zip", "save it again with torch.jit.save")
                              ) from None
    if len(infos) > MAX_MEMBERS:
        raise CheckpointError(describe("TorchScript archive", where, f"at most {MAX_MEMBERS} "
                                       "members", f"{len(infos)}", ""))
    extra: dict[str, str] = {}
    for info in infos:
        name = info.filename
        if name.endswith(_PICKLES):
            found = _globals(_read(zf, info, where))
            if found is None:
                raise CheckpointError(describe(f"pickle {name!r}", where, "a pickle stream",
                                               "one that does not parse", "save it again"))
            bad = [f"{m}.{n}" for m, n in found if not _safe_global(m, n)]
            if bad:
                raise CheckpointError(describe(f"pickle {name!r}", where, "only torch's own "
                                               "globals (torch.*, __torch__.*)",
                                               f"the Python global {bad[0]} (refused, never "
                                               "unpickled)", "save a torch.jit.script or "
                                               "torch.jit.trace module with torch.jit.save"))
        elif "/code/" in name and name.endswith(".py"):
            text = _read(zf, info, where).decode("utf-8", errors="replace")
            if re.search(r"\bdef\s+__setstate__\b", text):
                raise CheckpointError(describe(f"code {name!r}", where, "TorchScript that runs "
                                               "nothing while it is loaded",
                                               "a __setstate__ method (it would run at load)",
                                               "script the module without __setstate__"))
        elif "/extra/" in name:
            key = name.split("/extra/", 1)[1]
            if key.startswith("reidbench."):
                extra[key] = _read(zf, info, where).decode("utf-8", errors="replace")
    return extra


class TorchScriptModel:
    """A TorchScript module loaded from a scanned archive.

    Args:
        data: The archive's bytes (already scanned by :func:`inspect_torchscript`).
        path: The file, for messages.
        device: Where the module runs.

    Raises:
        CheckpointError: torch cannot load the archive, or its ``forward`` calls a refused
            operator.
    """

    runtime = "torch.jit"
    format = "torchscript"

    def __init__(self, data: bytes, path: Path, device: str = "cpu") -> None:
        import torch

        self.version = torch.__version__
        self.providers = [device]
        try:
            with warnings.catch_warnings():  # torch 2.9+ deprecates TorchScript, still loads it
                warnings.simplefilter("ignore")
                module = torch.jit.load(io.BytesIO(data), map_location=device)
        except Exception as exc:  # noqa: BLE001 - torch raises many types here
            first = first_line(exc)
            raise CheckpointError(describe("TorchScript archive", str(path), "an archive torch "
                                           f"{torch.__version__} can load", first.strip()[:160],
                                           "save it again with torch.jit.save")) from None
        _check_ops(module, str(path))
        self.module = module.eval()

    def __call__(self, x: Any) -> Any:
        """Run on a tensor; return the output tensor."""
        return self.module(x)


def _check_ops(module: Any, where: str) -> None:
    try:
        graph = module.inlined_graph
    except (AttributeError, RuntimeError):
        raise CheckpointError(describe("TorchScript archive", where, "a module with forward",
                                       "none", "save the module itself")) from None
    stack = list(graph.nodes())
    while stack:
        node = stack.pop()
        kind = node.kind()
        if kind.split("::")[0] not in ALLOWED_NAMESPACES or kind in REFUSED_OPS:
            raise CheckpointError(describe(f"operator {kind}", where, "tensor operators of "
                                           f"{sorted(ALLOWED_NAMESPACES)} (not "
                                           f"{sorted(REFUSED_OPS)})", kind, "keep file access "
                                           "and custom operators out of forward"))
        for block in node.blocks():
            stack.extend(block.nodes())
