"""Load ImageNet weights for a backbone from a local file (never downloaded, never unpickled)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from reidbench.errors import CheckpointError, describe

__all__ = ["load_pretrained", "read_state_dict", "check_state_keys", "no_imagenet_notice"]

#: Keys a file may carry that a re-ID backbone does not have (the ImageNet classifiers).
CLASSIFIER_PREFIXES = ("fc.", "last_linear.")
#: BN buffers that files saved before PyTorch 0.4.1 (e.g. Caffe-converted ones) lack.
OPTIONAL_SUFFIXES = ("num_batches_tracked",)


def no_imagenet_notice(baseline: str, weights: str = "torchvision resnet50") -> str:
    """The one line ``reidbench train`` prints when a baseline trains without ImageNet weights.

    Every official code of the five baselines starts its backbone from ImageNet weights; reidbench
    downloads nothing, so without ``pretrained`` the backbone starts from random weights.

    Example:
        >>> no_imagenet_notice("stmn")[:60]
        'warning: stmn trains without ImageNet weights (its official '
    """
    return (f"warning: {baseline} trains without ImageNet weights (its official code starts from "
            f"ImageNet); the backbone starts random. Pass a local {weights} state dict: "
            f"--config '{{\"pretrained\": \"FILE\"}}'")


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """Read a name -> tensor mapping from a ``.safetensors`` or a weights-only torch file.

    A ``{"state_dict": ...}`` wrapper is unwrapped and a DataParallel ``module.`` prefix removed.

    Raises:
        CheckpointError: If the file is missing, unreadable, would need unpickling, or holds no
            tensors.
    """
    from reidbench.adapters.checkpoint import load_checkpoint

    state = load_checkpoint(path).state_dict
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def check_state_keys(model: nn.Module, state: dict[str, Any], where: str,
                     allowed_extra: tuple[str, ...] = CLASSIFIER_PREFIXES) -> None:
    """Raise one :class:`CheckpointError` if ``state`` does not fit ``model``.

    Missing ``num_batches_tracked`` buffers and unexpected classifier keys (``allowed_extra``
    prefixes) are tolerated; every other missing, unexpected or wrongly shaped key is reported.
    """
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state and not k.endswith(OPTIONAL_SUFFIXES))
    unexpected = sorted(k for k in state if k not in own and not k.startswith(allowed_extra)
                        and not k.endswith(OPTIONAL_SUFFIXES))
    shapes = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
                    for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape))
    if not (missing or unexpected or shapes):
        return
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected),
                        ("shape mismatch (file vs model)", shapes)):
        if keys:
            shown = ", ".join(keys[:6]) + (f", ... ({len(keys)} in all)" if len(keys) > 6 else "")
            parts.append(f"{len(keys)} {label}: {shown}")
    raise CheckpointError(describe(
        "pretrained weights", where, f"the state_dict keys and shapes of {type(model).__name__}",
        "; ".join(parts),
        "use the weights file that matches the backbone (torchvision resnet50 for 'resnet50', "
        "Cadene se_resnet50 for 'se_resnet50')"))


def load_pretrained(model: nn.Module, path: str | Path, *,
                    allowed_extra: tuple[str, ...] = CLASSIFIER_PREFIXES) -> nn.Module:
    """Load a torchvision-style (or Cadene SE-ResNet) state dict from ``path`` into ``model``.

    The file is read with safetensors or ``torch.load(weights_only=True)``; nothing is downloaded.
    Only classifier keys (``fc.*``, ``last_linear.*``) may be extra and only ``num_batches_tracked``
    buffers may be missing; anything else raises one error listing the offending keys.

    Args:
        model: The backbone to fill (its own state is kept where the file has no entry).
        path: Local weights file.
        allowed_extra: Key prefixes in the file that are ignored.

    Returns:
        ``model``, for chaining.

    Raises:
        CheckpointError: If the file cannot be read or its keys or shapes do not match.
    """
    state = read_state_dict(path)
    check_state_keys(model, state, str(path), allowed_extra)
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return model
