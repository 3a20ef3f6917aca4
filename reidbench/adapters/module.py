"""An adapter around a ``torch.nn.Module``: the common case for trained models and the baselines."""

from __future__ import annotations

from typing import Any

from reidbench.adapters.base import Adapter
from reidbench.errors import CheckpointError, describe

__all__ = ["ModuleAdapter"]


class ModuleAdapter(Adapter):
    """Adapter for a model whose ``forward(clips (B,T,3,H,W))`` returns ``(B, D)`` features.

    Subclasses build ``self.model`` and may override :meth:`forward_features` when the model
    returns a dict or needs another call. ``reidbench export`` writes :meth:`forward_features` as
    an ONNX or TorchScript file. Checkpoints are checked for the adapter's name (when the
    checkpoint metadata names a baseline) and for exactly matching parameter names and shapes.

    Args:
        model: The network.
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward_features(self, clips: Any) -> Any:
        """Run the model on clips and return ``(B, D)`` features."""
        out = self.model(clips)
        return out["features"] if isinstance(out, dict) else out

    def embed_clips(self, clips: Any) -> Any:
        """Embed clips ``(B, T, 3, H, W)``; the engine calls it under inference mode."""
        import torch

        with torch.inference_mode():  # for direct callers; the engine enters it anyway
            return self.forward_features(clips.to(self.device))

    def load_state(self, state_dict: dict[str, Any], meta: dict[str, Any], path: str) -> None:
        """Load weights after checking the baseline name, key set and shapes."""
        owner = meta.get("baseline") or meta.get("adapter")
        if owner and owner != self.card.name:
            raise CheckpointError(describe("checkpoint", path, f"weights of {self.card.name!r}",
                                           f"weights of {owner!r}",
                                           f"use it with adapter {owner}, or give the right "
                                           "checkpoint"))
        own = self.model.state_dict()
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own))
        shapes = [k for k in set(own) & set(state_dict)
                  if tuple(own[k].shape) != tuple(state_dict[k].shape)]
        if missing or unexpected or shapes:
            parts = []
            if missing:
                parts.append(f"{len(missing)} missing keys (e.g. {missing[0]!r})")
            if unexpected:
                parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]!r})")
            if shapes:
                k = sorted(shapes)[0]
                parts.append(f"{len(shapes)} shape mismatches (e.g. {k!r}: "
                             f"{tuple(state_dict[k].shape)} vs {tuple(own[k].shape)})")
            raise CheckpointError(describe("checkpoint", path,
                                           f"the parameters of {self.card.name!r} with this config",
                                           "; ".join(parts),
                                           "pass the config it was trained with, or the matching "
                                           "--adapter"))
        self.model.load_state_dict(state_dict, strict=True)
