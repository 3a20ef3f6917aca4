"""Safe checkpoint loading. Checkpoints are untrusted input: never unpickled.

A checkpoint is read with safetensors (``.safetensors``) or with ``torch.load(weights_only=True)``,
which refuses any pickle that would construct arbitrary objects or run code. Every load returns the
file's sha256 so results can name exactly which weights produced them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidbench.errors import CheckpointError, describe

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint", "sha256_file"]

_META_KEY = "reidbench_meta"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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
    ``weights_only=True``.

    Raises:
        CheckpointError: If the file is missing, unreadable, unsafe, or holds no tensors.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(describe("checkpoint", str(p), "an existing file", "nothing there",
                                       "check the path"))
    digest = sha256_file(p)
    if p.suffix == ".safetensors":
        try:
            from safetensors import safe_open

            with safe_open(str(p), framework="pt") as f:
                state = {k: f.get_tensor(k) for k in f.keys()}
                header = f.metadata() or {}
        except Exception as exc:
            raise CheckpointError(describe("checkpoint", str(p), "a valid safetensors file",
                                           f"{type(exc).__name__}: {exc}",
                                           "re-save it with safetensors.torch.save_file")) from exc
        meta = json.loads(header.get(_META_KEY, "{}"))
        return Checkpoint(state, meta, digest, str(p))
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unsafe = "weights_only" in str(exc) or "Unsupported global" in str(exc)
        got = "a pickle that needs arbitrary code to load (refused)" if unsafe else first
        raise CheckpointError(describe("checkpoint", str(p), "tensors loadable with "
                                       "torch.load(weights_only=True) or a .safetensors file", got,
                                       "save only the state_dict (and plain metadata), or convert "
                                       "to safetensors")) from None
    state, meta = _split(obj, p)
    return Checkpoint(state, meta, digest, str(p))


def _split(obj: Any, p: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        state, meta = obj["state_dict"], obj.get("meta", {}) or {}
    elif isinstance(obj, dict):
        state, meta = obj, {}
    else:
        raise CheckpointError(describe("checkpoint", str(p), "a dict of tensors",
                                       type(obj).__name__, "save model.state_dict()"))
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad or not state:
        raise CheckpointError(describe("state_dict", str(p), "a non-empty name -> tensor mapping",
                                       f"non-tensor entries {bad[:3]}" if bad else "no tensors",
                                       "save model.state_dict()"))
    return state, dict(meta)


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
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)
    return sha256_file(p)
