"""What a model file declares about itself: the ``reidbench.*`` metadata keys.

A model file (ONNX ``metadata_props``, TorchScript ``_extra_files``) carries these keys, all
strings:

========================  =========================================================================
``reidbench.input``       ``clip`` (the network maps ``(B, T, 3, H, W) -> (B, D)``) or ``frame``
                          (``(N, 3, H, W) -> (N, D)``, applied to every frame and pooled)
``reidbench.input_size``  ``"H,W"``: the frame size the network takes, in pixels
``reidbench.normalize``   ``imagenet`` (ImageNet mean and std), ``none`` (pixels in [0, 1]) or
                          ``"m0,m1,m2;s0,s1,s2"`` (per-channel mean and std on [0, 1] pixels)
``reidbench.seq_len``     frames per clip (required for clip models)
``reidbench.name``        the model's name, shown in results and leaderboards
``reidbench.train_dataset``  optional: the dataset it was trained on (cross-dataset protocols)
========================  =========================================================================

A sidecar ``FILE.json`` (the model's path plus ``.json``) holding a JSON object with the same keys
supplies missing keys or overrides the file's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reidbench.errors import CheckpointError, describe
from reidbench.fileio import loads_bounded

__all__ = ["KEYS", "REQUIRED", "ModelMeta", "parse_metadata", "read_sidecar"]

PREFIX = "reidbench."
#: Every key, in the order shown in records.
KEYS = ("reidbench.input", "reidbench.input_size", "reidbench.normalize", "reidbench.seq_len",
        "reidbench.name", "reidbench.train_dataset")
#: Keys every model file must declare (``seq_len`` too for clip models).
REQUIRED = ("reidbench.input", "reidbench.input_size", "reidbench.normalize", "reidbench.name")
#: Longest value accepted for one key, and largest sidecar file (bytes).
MAX_VALUE_CHARS = 256
MAX_SIDECAR_BYTES = 64 * 1024
_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class ModelMeta:
    """A model file's parsed declarations.

    Attributes:
        input: ``"clip"`` or ``"frame"``.
        input_size: ``(height, width)``.
        mean: Per-channel mean on [0, 1] pixels (zeros for ``none``).
        std: Per-channel std (ones for ``none``).
        seq_len: Frames per clip (clip models), else None.
        name: The model's name.
        train_dataset: Declared training dataset, or None.
        raw: The ``reidbench.*`` keys as given (strings), for the record.
    """

    input: str
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    seq_len: int | None
    name: str
    train_dataset: str | None
    raw: dict[str, str]

    @property
    def is_imagenet(self) -> bool:
        """Whether the network takes ImageNet-normalised frames (what the decoder produces)."""
        return (self.mean, self.std) == _IMAGENET


def read_sidecar(path: Path) -> dict[str, str]:
    """The ``reidbench.*`` keys of ``path``'s sidecar ``<path>.json`` ({} when there is none).

    Raises:
        CheckpointError: A sidecar that is too large, not a JSON object of scalars, or that
            names keys other than the ``reidbench.*`` ones.
    """
    side = path.with_name(path.name + ".json")
    if not side.is_file():
        return {}
    size = side.stat().st_size
    if size > MAX_SIDECAR_BYTES:
        raise CheckpointError(describe("sidecar", str(side), f"at most {MAX_SIDECAR_BYTES} bytes",
                                       f"{size} bytes", "keep only the reidbench.* keys"))
    try:
        obj = loads_bounded(side.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # invalid or too deeply nested JSON
        raise CheckpointError(describe("sidecar", str(side), "a JSON object of reidbench.* keys",
                                       f"invalid JSON ({type(exc).__name__})",
                                       'write e.g. {"reidbench.input": "frame"}')) from None
    if not isinstance(obj, dict):
        raise CheckpointError(describe("sidecar", str(side), "a JSON object of reidbench.* keys",
                                       f"a JSON {type(obj).__name__}", ""))
    unknown = sorted(k for k in obj if k not in KEYS)
    if unknown:
        raise CheckpointError(describe(f"key {unknown[0]!r}", str(side), f"one of {list(KEYS)}",
                                       repr(unknown[0]), "drop it or fix its spelling"))
    out = {}
    for key, value in obj.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise CheckpointError(describe(f"key {key!r}", str(side), "a string (or an integer "
                                           "for reidbench.seq_len)", repr(value)[:80], ""))
        out[key] = str(value)
    return out


def parse_metadata(found: dict[str, str], where: str, sidecar: dict[str, str] | None = None
                   ) -> ModelMeta:
    """Check and parse a model file's ``reidbench.*`` keys (the sidecar's win).

    Args:
        found: The file's own metadata (other keys are ignored).
        where: The model file, for messages.
        sidecar: Keys from the sidecar JSON.

    Raises:
        CheckpointError: A missing key or a value of the wrong form, named with how to fix it.
    """
    raw = {k: v for k, v in found.items() if k in KEYS}
    raw.update(sidecar or {})
    for key, value in raw.items():
        if len(value) > MAX_VALUE_CHARS:
            raise CheckpointError(describe(f"metadata {key!r}", where,
                                           f"at most {MAX_VALUE_CHARS} characters",
                                           f"{len(value)}", ""))
    missing = [k for k in REQUIRED if k not in raw]
    if raw.get("reidbench.input") == "clip" and "reidbench.seq_len" not in raw:
        missing.append("reidbench.seq_len")
    if missing:
        raise CheckpointError(describe(f"metadata {missing[0]!r}", where, "the reidbench.* keys "
                                       f"{list(REQUIRED)} (and reidbench.seq_len for clip models)",
                                       f"no {missing[0]}", _how_to_declare(missing[0], where)))
    kind = raw["reidbench.input"]
    if kind not in ("clip", "frame"):
        raise CheckpointError(describe("metadata 'reidbench.input'", where, "'clip' (B,T,3,H,W) "
                                       "or 'frame' (N,3,H,W)", repr(kind), ""))
    size = _ints(raw["reidbench.input_size"], 2, "reidbench.input_size", where, '"256,128"')
    mean, std = _normalize(raw["reidbench.normalize"], where)
    seq = None
    if kind == "clip":
        seq = _ints(raw["reidbench.seq_len"], 1, "reidbench.seq_len", where, '"8"')[0]
    name = raw["reidbench.name"].strip()
    if not name or not name.isprintable():
        raise CheckpointError(describe("metadata 'reidbench.name'", where, "a printable name",
                                       repr(raw["reidbench.name"]), ""))
    train = raw.get("reidbench.train_dataset") or None
    return ModelMeta(kind, (size[0], size[1]), mean, std, seq, name, train,
                     {k: raw[k] for k in KEYS if k in raw})


def _how_to_declare(key: str, where: str) -> str:
    return (f"declare it in the file (ONNX: onnx.helper.set_model_props(model, {{'{key}': ...}}); "
            f"TorchScript: torch.jit.save(m, f, _extra_files={{'{key}': ...}})), or in a sidecar "
            f"{Path(where).name}.json, or export with `reidbench export`")


def _ints(text: str, n: int, key: str, where: str, example: str) -> list[int]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == n and all(p.isdigit() and 0 < int(p) <= 4096 for p in parts):
        return [int(p) for p in parts]
    raise CheckpointError(describe(f"metadata {key!r}", where, f"{n} positive integer(s) "
                                   f"(at most 4096), e.g. {example}", repr(text[:40]), ""))


def _normalize(text: str, where: str) -> tuple[tuple[float, float, float],
                                                tuple[float, float, float]]:
    if text == "imagenet":
        return _IMAGENET
    if text == "none":
        return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    try:
        mean_s, std_s = text.split(";")
        mean = tuple(float(v) for v in mean_s.split(","))
        std = tuple(float(v) for v in std_s.split(","))
    except ValueError:
        mean = std = ()
    if (len(mean) == 3 and len(std) == 3 and all(math.isfinite(v) for v in mean + std)
            and all(v > 0 for v in std)):
        return mean, std  # type: ignore[return-value]
    raise CheckpointError(describe("metadata 'reidbench.normalize'", where, "'imagenet', 'none' "
                                   "or 'm0,m1,m2;s0,s1,s2' (finite, std > 0, on [0, 1] pixels)",
                                   repr(text[:60]), ""))


def meta_dict(meta: ModelMeta) -> dict[str, Any]:
    """The declarations as recorded in results (the raw strings, sorted by :data:`KEYS`)."""
    return dict(meta.raw)
