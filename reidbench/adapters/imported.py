"""Import checkpoints that a method's official code saved into reidbench checkpoints.

``reidbench import-weights BASELINE FILE --out OUT.safetensors`` reads ``FILE`` safely
(``torch.load(weights_only=True)``: a pickle that would import code is refused, never unpickled),
strips the ``module.`` prefixes that ``nn.DataParallel`` adds, and hands the result to the
adapter's :meth:`~reidbench.adapters.Adapter.import_official` hook. The hook (in the baseline's
own package, found through the adapter registry) renames every tensor to the reidbench model's
parameter names with :func:`rename_tensors` and derives the constructor options (e.g.
``num_classes`` from the classifier). This module then checks that every tensor was used and that
every shape matches the model those options build, and writes a safetensors checkpoint whose
metadata names the baseline, the config and the provenance (source repository, original file
name and sha256). Nothing is written when any check fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidbench.errors import CheckpointError, InputError, describe

__all__ = ["ImportedWeights", "import_weights", "rename_tensors", "strip_module_prefix"]

#: The ``num_batches_tracked`` counters of BatchNorm may be absent from old checkpoints; they are
#: not used in inference and are filled with 0.
_OPTIONAL_SUFFIX = ".num_batches_tracked"


@dataclass(frozen=True)
class ImportedWeights:
    """What a baseline's importer makes of an official checkpoint.

    Attributes:
        state_dict: reidbench parameter name -> tensor, every source tensor accounted for.
        config: Constructor options that build the matching reidbench model.
        source: The repository whose code saved the checkpoint (a URL).
        origin: reidbench name -> the official name it came from (for error messages).
        dropped: Official names deliberately left out, with the reason (kept in the metadata).
    """

    state_dict: dict[str, Any]
    config: dict[str, Any]
    source: str
    origin: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)


def strip_module_prefix(state: dict[str, Any]) -> dict[str, Any]:
    """Remove one leading ``module.`` (``nn.DataParallel``) from every key that has it."""
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def rename_tensors(state: dict[str, Any], rules: Sequence[tuple[str, str]], where: str,
                   drop: Sequence[tuple[str, str]] = ()) -> ImportedWeights:
    r"""Rename every tensor of an official state dict by the first rule whose pattern matches.

    Args:
        state: Official name -> tensor (``module.`` already stripped).
        rules: ``(regex, replacement)`` pairs tried in order with :func:`re.fullmatch`; the
            replacement may use groups (``\1``) as in :func:`re.sub`.
        where: The file, for error messages.
        drop: ``(regex, reason)`` pairs for official tensors the reidbench model deliberately does
            not hold (e.g. an ImageNet classifier the official forward never uses).

    Returns:
        An :class:`ImportedWeights` with ``config`` empty and ``source`` unset (the caller fills
        them in with :func:`dataclasses.replace`).

    Raises:
        CheckpointError: A tensor no rule maps (the first few are named), or two tensors that map
            to one name.
    """
    compiled = [(re.compile(p), r) for p, r in rules]
    dropping = [(re.compile(p), why) for p, why in drop]
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    dropped: dict[str, str] = {}
    unmapped: list[str] = []
    for key, tensor in state.items():
        why = next((w for p, w in dropping if p.fullmatch(key)), None)
        if why is not None:
            dropped[key] = why
            continue
        new = next((m.expand(r) for p, r in compiled if (m := p.fullmatch(key))), None)
        if new is None:
            unmapped.append(key)
            continue
        if new in out:
            raise CheckpointError(describe("official checkpoint", where, "one tensor per "
                                           "parameter", f"{origin[new]!r} and {key!r} both map "
                                           f"to {new!r}", "check that the file is this "
                                           "baseline's checkpoint"))
        out[new], origin[new] = tensor, key
    if unmapped:
        raise CheckpointError(describe("official checkpoint", where, "only tensors of the "
                                       "official model", f"{len(unmapped)} unmapped key(s): "
                                       f"{unmapped[:3]}", "check that the file is this "
                                       "baseline's checkpoint (and the baseline's variant)"))
    return ImportedWeights(out, {}, "", origin, dropped)


def import_weights(baseline: str, path: str | Path, out: str | Path,
                   train_dataset: str | None = None) -> dict[str, Any]:
    """Convert an official checkpoint of ``baseline`` into a reidbench safetensors checkpoint.

    Args:
        baseline: Registered adapter name (``"stmn"``, ``"cosam"``, ``"read"``).
        path: The checkpoint the official code saved or its authors released.
        out: Where to write the ``.safetensors`` checkpoint.
        train_dataset: The dataset the weights were trained on, stored as ``train_dataset``
            (cross-dataset protocols check it); None leaves it undeclared.

    Returns:
        The metadata written (``baseline``, ``config``, ``imported`` provenance).

    Raises:
        InputError: ``out`` is not a ``.safetensors`` path, or the adapter has no importer.
        CheckpointError: The file is missing or unsafe, or a tensor is unmapped, missing or of
            the wrong shape (one line naming the first).
    """
    from reidbench.adapters import adapter_class, get_adapter
    from reidbench.adapters.checkpoint import read_torch_file, save_checkpoint
    from reidbench.fileio import sha256_file

    out_p, src = Path(out), Path(path)
    if out_p.suffix != ".safetensors":
        fix = f"pass e.g. out={out_p.with_suffix('.safetensors')}"
        raise InputError(describe("out", "import_weights", "a .safetensors path", str(out_p),
                                  fix), param="out")
    cls = adapter_class(baseline)
    obj = _strip_all(read_torch_file(src))
    imported = cls.import_official(obj, str(src))
    adapter = get_adapter(baseline, **imported.config)
    state = _complete(adapter.model.state_dict(), imported, str(src))
    adapter.model.load_state_dict(state, strict=True)
    meta: dict[str, Any] = {
        "baseline": adapter.card.name,
        "config": adapter.config,
        "input_size": list(adapter.card.input_size),
        "imported": {"source": imported.source, "original_file": src.name,
                     "original_sha256": sha256_file(src), "tensors": len(imported.state_dict),
                     "dropped": dict(imported.dropped)},
    }
    input_size = imported.config.get("input_size")
    if input_size is not None:
        meta["input_size"] = [int(v) for v in input_size]
    if train_dataset:
        meta["train_dataset"] = train_dataset
    save_checkpoint(out_p, state, meta)
    return meta


def _strip_all(obj: Any) -> Any:
    """Strip ``module.`` from a state dict, or from every state dict one level down."""
    if not isinstance(obj, dict):
        return obj
    if obj and all(_is_tensor(v) for v in obj.values()):
        return strip_module_prefix(obj)
    return {k: (strip_module_prefix(v) if isinstance(v, dict) and v
                and all(_is_tensor(x) for x in v.values()) else v) for k, v in obj.items()}


def _is_tensor(x: Any) -> bool:
    import torch

    return isinstance(x, torch.Tensor)


def _complete(own: dict[str, Any], imported: ImportedWeights, where: str) -> dict[str, Any]:
    """Check names and shapes against the model; fill absent BN counters with 0."""
    import torch

    state = dict(imported.state_dict)
    extra = sorted(set(state) - set(own))
    if extra:
        raise CheckpointError(describe("official checkpoint", where, "tensors the reidbench model "
                                       "holds", f"{len(extra)} mapped to no parameter, e.g. "
                                       f"{imported.origin.get(extra[0], extra[0])!r} -> "
                                       f"{extra[0]!r}", "check the baseline and its variant"))
    for key in sorted(own):
        if key not in state and key.endswith(_OPTIONAL_SUFFIX):
            state[key] = torch.zeros_like(own[key])
    missing = sorted(set(own) - set(state))
    if missing:
        raise CheckpointError(describe("official checkpoint", where, "every parameter of the "
                                       "model", f"{len(missing)} missing, e.g. {missing[0]!r}",
                                       "check that the file is complete and of this baseline"))
    for key in sorted(own):
        got, want = tuple(state[key].shape), tuple(own[key].shape)
        if got != want:
            raise CheckpointError(describe("official checkpoint", where, f"shape {want} for "
                                           f"{key!r}", f"{got} in "
                                           f"{imported.origin.get(key, key)!r}",
                                           "check the baseline's variant (backbone, memory "
                                           "sizes, clip length)"))
        state[key] = state[key].to(own[key].dtype)
    return state
