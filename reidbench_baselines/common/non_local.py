"""Non-local block, embedded-Gaussian form (Wang, Girshick, Gupta, He; CVPR 2018).

The module is named ``non_local`` because ``nonlocal`` is a Python keyword (a module of that name
could not be imported with an ``import`` statement).

For ``X`` of shape ``(B, C, T, H, W)``, ``N = T*H*W`` and ``C' = C // 2``:
``theta, phi, g = Conv3d_1x1x1(X)`` (C -> C', with bias), ``A = softmax_row(theta^T phi)``
(``N x N``, no ``1/sqrt(d)`` scaling), ``Y = A g^T`` and ``Z = X + BN3d(W_z Y)``. The BN's weight
and bias start at zero, so the block is the identity at initialisation. Attention runs jointly
over space and time: the whole clip interacts. ``sub_sample=True`` max-pools ``phi`` and ``g`` by
(1, 2, 2), the paper's cheaper variant.
"""

from __future__ import annotations

import torch
from torch import nn

from reidbench.errors import InputError, describe

__all__ = ["NonLocalBlock"]


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block over ``(B, C, T, H, W)`` clips.

    Args:
        in_channels: C.
        inter_channels: C' (default ``C // 2``, at least 1).
        sub_sample: Max-pool ``phi`` and ``g`` spatially by 2.
    """

    def __init__(self, in_channels: int, inter_channels: int | None = None,
                 sub_sample: bool = False) -> None:
        super().__init__()
        inter = inter_channels or max(in_channels // 2, 1)
        self.in_channels, self.inter_channels = in_channels, inter
        self.theta = nn.Conv3d(in_channels, inter, 1)
        self.phi = nn.Conv3d(in_channels, inter, 1)
        self.g = nn.Conv3d(in_channels, inter, 1)
        self.pool = nn.MaxPool3d((1, 2, 2)) if sub_sample else nn.Identity()
        self.W = nn.Sequential(nn.Conv3d(inter, in_channels, 1), nn.BatchNorm3d(in_channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The ``(B, N, N')`` affinity ``softmax_row(theta^T phi)`` (rows sum to 1)."""
        theta = self.theta(x).flatten(2)  # (B, C', N)
        phi = self.pool(self.phi(x)).flatten(2)  # (B, C', N')
        return torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``X + BN(W_z (A g^T))``, the same shape as ``x``."""
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise InputError(describe("x", "NonLocalBlock", f"(B, {self.in_channels}, T, H, W)",
                                      tuple(x.shape), "reshape (B*T, C, H, W) frames to "
                                      "(B, C, T, H, W) clips first"))
        b, _, t, h, w = x.shape
        g = self.pool(self.g(x)).flatten(2)  # (B, C', N')
        y = self.attention(x) @ g.transpose(1, 2)  # (B, N, C')
        y = y.transpose(1, 2).reshape(b, self.inter_channels, t, h, w)
        return x + self.W(y)
