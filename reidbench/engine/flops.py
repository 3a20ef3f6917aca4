"""Forward cost of a model adapter: FLOPs of one clip (and one query image for I2V).

Counted with ``torch.utils.flop_counter.FlopCounterMode`` on one forward pass at batch 1, with the
clip shape the procedure extracts (``seq_len`` frames at ``input_size``). The counter counts the
matrix products and convolutions (a multiply-add is 2 FLOPs) and ignores element-wise operations,
normalisation and pooling, as the usual "GFLOPs" columns of re-ID papers do. A pairwise scorer
(READ) is counted for its embedding of one clip; the per-pair scoring cost is not included.
The figure is one forward: a procedure with ``flip`` runs two per clip at extraction.
"""

from __future__ import annotations

from typing import Any

from reidbench.protocols import Procedure

__all__ = ["FLOPS_COUNTER", "SCORER_NOTE", "forward_gflops"]

#: Recorded beside the numbers (provenance: what counted them).
FLOPS_COUNTER = "torch.utils.flop_counter.FlopCounterMode"
#: Recorded for pairwise scorers (READ): what the figures leave out.
SCORER_NOTE = "embedding only: the pairwise scorer's cost per (query, gallery) pair is not counted"


def forward_gflops(adapter: Any, procedure: Procedure, mode: str = "v2v") -> dict[str, Any]:
    """GFLOPs of one forward pass at batch 1; ``{}`` when they cannot be counted.

    Args:
        adapter: A model adapter (one with a torch ``model``; others give ``{}``).
        procedure: The feature procedure used (clip length and frame size).
        mode: ``"v2v"`` or ``"i2v"`` (I2V also counts one query image).

    Returns:
        ``{"gflops_per_clip": float, "clip_shape": [1, T, 3, H, W], "flops_counter": ...}``, plus
        ``"gflops_per_image"`` for I2V and, for a pairwise scorer, a ``"note"`` that the scorer is
        not counted; ``{}`` if the adapter has no torch model or the count fails (it never
        raises: a cost figure must not stop an evaluation). The model's train/eval flags (of
        every submodule) and torch's random state are as they were afterwards.
    """
    model = getattr(adapter, "model", None)
    if model is None:
        return {}
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        height, width = procedure.input_size
        shape = (1, procedure.seq_len, 3, height, width)
        out: dict[str, Any] = {"clip_shape": list(shape), "flops_counter": FLOPS_COUNTER}
        if getattr(adapter, "uses_scorer", False):
            out["note"] = SCORER_NOTE
        modes = [(m, m.training) for m in model.modules()]
        rng_devices = [device] if device.type == "cuda" else []
        model.eval()
        try:
            with torch.inference_mode(), torch.random.fork_rng(devices=rng_devices):
                clip = torch.zeros(shape, device=device, dtype=dtype)
                with FlopCounterMode(display=False) as counter:
                    adapter.embed_clips(clip)
                out["gflops_per_clip"] = counter.get_total_flops() / 1e9
                if mode == "i2v":
                    with FlopCounterMode(display=False) as counter:
                        adapter.embed_images(clip[:, 0])
                    out["gflops_per_image"] = counter.get_total_flops() / 1e9
        finally:
            for module, training in modes:
                module.training = training
        return out
    except Exception:  # noqa: BLE001 - any failure of the optional count leaves it out
        return {}
