"""Load ImageNet weights for a backbone from a local file (never downloaded, never unpickled)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

__all__ = ["load_pretrained"]


def load_pretrained(model: nn.Module, path: str | Path, *, allowed_extra: tuple[str, ...] = (
        "fc.", "last_linear.")) -> None:
    """Load a torchvision-style (or Cadene SE-ResNet) state dict from ``path`` into ``model``.

    Only classifier keys (``fc.*``, ``last_linear.*``) and ``num_batches_tracked`` buffers may be
    missing or unexpected; anything else raises one CheckpointError listing the first offenders.
    """
    from reidbench.adapters.checkpoint import load_checkpoint
    from reidbench.errors import CheckpointError, describe

    ckpt = load_checkpoint(path)
    result = model.load_state_dict(ckpt.state_dict, strict=False)
    ignorable = ("num_batches_tracked",)
    bad_missing = [k for k in result.missing_keys if not k.endswith(ignorable)]
    bad_extra = [k for k in result.unexpected_keys
                 if not k.startswith(allowed_extra) and not k.endswith(ignorable)]
    if bad_missing or bad_extra:
        raise CheckpointError(describe("pretrained weights", str(path),
                                       f"the keys of {type(model).__name__}",
                                       f"{len(bad_missing)} missing (e.g. {bad_missing[:2]}), "
                                       f"{len(bad_extra)} unexpected (e.g. {bad_extra[:2]})",
                                       "use the torchvision ResNet-50 V1 file"))
