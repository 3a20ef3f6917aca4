"""STMN's losses: the memory spread loss and the full training objective (official code)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reidbench.errors import InputError, describe
from reidbench_baselines.common.losses import batch_hard_triplet

__all__ = ["memory_spread_loss", "stmn_loss"]


def memory_spread_loss(p: torch.Tensor, alpha: float) -> torch.Tensor:
    """``mean_m [alpha - (max_j p_j(m) - min_j p_j(m))]_+`` over the batch's queries ``j``.

    Every memory item must be picked strongly by some query and weakly by another, so no item can
    absorb every query (nor be left unused). The loss is 0 when each item's matching probability
    spreads by at least ``alpha`` across the batch, and ``alpha`` when every query addresses the
    memory uniformly.

    Args:
        p: ``(J, M)`` matching probabilities of ``J`` queries over ``M`` items (rows sum to 1).
        alpha: The margin (0.3 in the supplement's Table 2).

    Raises:
        InputError: If ``p`` is not a non-empty 2-D tensor.
    """
    if p.ndim != 2 or p.shape[0] == 0:
        raise InputError(describe("p", "memory_spread_loss", "a (queries, items) tensor",
                                  tuple(p.shape), ""))
    return F.relu(alpha - (p.max(dim=0).values - p.min(dim=0).values)).mean()


def stmn_loss(out: dict[str, torch.Tensor], pids: torch.Tensor, alpha: float = 0.3
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """The STMN objective, all weights 1 (official code, cvlab-yonsei/STMN).

    ``CE(mean_i cls_s(bn_s(f^s_i))) + CE(cls_t(bn_t(f))) + Tri_soft(mean_i f^s_i) + Tri_soft(f)
    + L^s_spread + L^t_spread``, with plain cross-entropy (no label smoothing) and the batch-hard
    soft-margin triplet on the pre-BN features.

    Args:
        out: :meth:`reidbench_baselines.stmn.STMN.forward` output.
        pids: ``(B,)`` contiguous training labels.
        alpha: Spread-loss margin for both memories.

    Returns:
        ``(loss, parts)`` with the six terms as floats.
    """
    parts = {
        "ce_s": F.cross_entropy(out["logits_s"], pids),
        "ce_t": F.cross_entropy(out["logits_t"], pids),
        "tri_s": batch_hard_triplet(out["frames"].mean(dim=1), pids, margin=None),
        "tri_t": batch_hard_triplet(out["seq"], pids, margin=None),
        "spread_s": memory_spread_loss(out["p_spatial"], alpha),
        "spread_t": memory_spread_loss(out["p_temporal"], alpha),
    }
    loss = torch.stack(list(parts.values())).sum()
    return loss, {k: float(v.detach()) for k, v in parts.items()}
