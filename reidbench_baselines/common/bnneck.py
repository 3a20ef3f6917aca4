"""BNNeck (Luo et al., "Bag of Tricks", 2019): BN on the pooled feature, a bias-free classifier."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BNNeck"]


class BNNeck(nn.Module):
    """``f_i = BN1d(f_t)`` (bias frozen at 0), ``logits = Linear(f_i)`` without bias.

    The triplet loss uses ``f_t``, the identity loss the logits; retrieval uses ``f_i``.

    Args:
        dim: Feature dimension.
        num_classes: Training identities (0: no classifier, e.g. when only evaluating).
    """

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(dim, max(num_classes, 1), bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, f_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(f_i, logits)``."""
        f_i = self.bn(f_t)
        return f_i, self.classifier(f_i)
