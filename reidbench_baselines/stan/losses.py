"""STAN's losses: the diversity regulariser over attention maps and Online Instance Matching.

Diversity regulariser (Hellinger). For frame ``n`` with stacked attention maps ``S_n`` (``K x L``,
rows summing to one), ``sqrt(S_n) sqrt(S_n)^T`` holds the Bhattacharyya coefficients
``sum_l sqrt(s_i,l s_j,l) = 1 - H^2(s_i, s_j)``. Pushing every pair of maps apart is
``Q_n = || sqrt(S_n) sqrt(S_n)^T - I ||_F^2``: zero when the maps have disjoint support, and
``K (K - 1)`` (its maximum) when they are identical.

* ``"code_batch_norm"`` (default): the first author's code (``trainers.py`` lines 98-105 of
  github.com/ShuangLI59/Diversity-Regularized-Spatiotemporal-Attention), ``sqrt(sum_n Q_n +
  1e-5)``: the square root of the sum of squared entries over all frames of the batch (a
  Frobenius norm over the batch), added to the identity loss with weight 1.
* ``"paper_sq_per_frame"``: the paper's per-frame reading, ``mean_n Q_n``.

OIM (Xiao et al. 2017, the paper's identity loss): cosine logits against a look-up table of
identity centroids, scaled by ``scalar``; after each step the centroids of the batch's identities
move towards the batch features (``lut[y] <- m lut[y] + (1 - m) x``, renormalised). Defaults
(momentum 0.5, scalar 30, no unlabeled queue) are open-reid's.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from reidbench.errors import InputError, describe

__all__ = ["diversity_regularizer", "OIMLoss", "DIVERSITY_VARIANTS"]

DIVERSITY_VARIANTS = ("code_batch_norm", "paper_sq_per_frame")


def diversity_regularizer(maps: torch.Tensor, variant: str = "code_batch_norm") -> torch.Tensor:
    """Hellinger diversity penalty of attention maps ``(M, K, L)`` (each row a distribution).

    Args:
        maps: ``M`` frames, ``K`` maps each, over ``L`` cells.
        variant: One of :data:`DIVERSITY_VARIANTS`.

    Returns:
        A scalar tensor.
    """
    if variant not in DIVERSITY_VARIANTS:
        raise InputError(describe("diversity_variant", "STAN", f"one of {DIVERSITY_VARIANTS}",
                                  repr(variant), ""))
    root = maps.clamp_min(0).sqrt()
    gram = root @ root.transpose(-1, -2)  # (M, K, K)
    eye = torch.eye(maps.shape[1], device=maps.device, dtype=maps.dtype)
    sq = (gram - eye).pow(2)
    if variant == "paper_sq_per_frame":
        return sq.sum(dim=(-1, -2)).mean()
    return (sq.sum() + 1e-5).sqrt()


class OIMLoss(nn.Module):
    """Online Instance Matching with a labelled look-up table (buffer, saved in checkpoints).

    Args:
        dim: Feature size.
        num_classes: Training identities.
        scalar: Inverse temperature of the cosine logits.
        momentum: LUT update momentum.
    """

    def __init__(self, dim: int, num_classes: int, scalar: float = 30.0,
                 momentum: float = 0.5) -> None:
        super().__init__()
        self.scalar = float(scalar)
        self.momentum = float(momentum)
        self.register_buffer("lut", torch.zeros(max(num_classes, 1), dim))

    def forward(self, feats: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of ``scalar * cos(feats, lut)``; updates the LUT in training mode."""
        x = F.normalize(feats, dim=1)
        logits = self.scalar * x @ self.lut.clone().t()  # the LUT is updated in place below
        loss = F.cross_entropy(logits, targets)
        if self.training:
            with torch.no_grad():
                for i, y in enumerate(targets.tolist()):
                    row = self.momentum * self.lut[y] + (1.0 - self.momentum) * x[i]
                    self.lut[y] = F.normalize(row, dim=0)
        return loss
