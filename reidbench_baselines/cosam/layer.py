"""The COSAM layer: co-segmentation spatial attention (NCC cost volume) and channel attention.

For the T frame maps ``X_1..X_T`` (C x H x W) of one tracklet (COSAM supplement, Algorithm 1;
official code, InnovArul/vidreid_cosegmentation):

1. reduction ``D_t = ReLU(BN(Conv1x1_{C->C'}(X_t)))``, ``C' = 256`` (64 when ``C <= 256``);
2. per-position standardisation across channels ``D^_t(p) = (D_t(p) - mean_c) / (std_c + 1e-4)``
   (unbiased std), so the dot product of two positions divided by C' is their normalised
   cross-correlation (NCC);
3. cost volume ``V_t[(u, q), p] = <D^_t(p), D^_u(q)> / C'`` for every other frame ``u != t`` in
   increasing order and every position ``q`` in row-major order: ``(T-1)*H*W`` channels;
4. spatial mask ``M_t = sigmoid(Conv1x1_{64->1}(ReLU(BN(Conv1x1_{(T-1)HW->64}(V_t)))))`` and
   ``X'_t = X_t * M_t``;
5. channel attention ``c_t = sigmoid(W2 tanh(W1 GAP(X'_t) + b1) + b2)`` averaged over the frames,
   ``c = mean_t c_t`` (one channel mask per tracklet: the co-segmentation consensus);
6. output ``Y_t = X'_t + X'_t * c``.

Choices left open by the paper and what this module does: the reduction conv has no bias (a BN
follows); the summary BN sits before the ReLU and the sigmoid (code: conv-BN-ReLU-conv-sigmoid);
the channel MLP's hidden width is the reduction width C'. ``attention="spatial"`` or ``"channel"``
keeps one half only (the supplement's Table 3 ablation): with ``"spatial"`` the output is ``X'_t``,
with ``"channel"`` the mask ``M_t`` is 1.
"""

from __future__ import annotations

import torch
from torch import nn

from reidbench.errors import InputError, describe

__all__ = ["COSAMLayer", "standardize_channels", "ncc_cost_volume", "ATTENTION_KINDS"]

ATTENTION_KINDS = ("both", "spatial", "channel")


def standardize_channels(d: torch.Tensor, eps: float = 1e-4, dim: int = -3) -> torch.Tensor:
    """``(d - mean) / (std + eps)`` over the channel axis ``dim`` (unbiased std)."""
    mean = d.mean(dim=dim, keepdim=True)
    std = d.std(dim=dim, keepdim=True, unbiased=True)
    return (d - mean) / (std + eps)


def ncc_cost_volume(d_hat: torch.Tensor) -> torch.Tensor:
    """Cost volume of standardised maps ``(B, T, C, H, W) -> (B, T, (T-1)*H*W, H, W)``.

    Channel ``j * H*W + q`` of frame ``t`` at position ``p`` holds ``<d_t(p), d_u(q)> / C`` where
    ``u`` is the ``j``-th frame other than ``t`` (ascending) and ``q`` a row-major position.
    """
    if d_hat.ndim != 5 or d_hat.shape[1] < 2:
        raise InputError(describe("d_hat", "ncc_cost_volume", "(B, T >= 2, C, H, W)",
                                  tuple(d_hat.shape), ""))
    b, t, c, h, w = d_hat.shape
    flat = d_hat.flatten(3)  # (B, T, C, P)
    corr = torch.einsum("btcp,bucq->btuqp", flat, flat) / c  # (B, T, U, Q, P)
    others = torch.tensor([[u for u in range(t) if u != s] for s in range(t)],
                          device=d_hat.device)  # (T, T-1)
    index = others.view(1, t, t - 1, 1, 1).expand(b, t, t - 1, h * w, h * w)
    picked = torch.gather(corr, 2, index)  # (B, T, T-1, Q, P)
    return picked.reshape(b, t, (t - 1) * h * w, h, w)


class COSAMLayer(nn.Module):
    """One COSAM layer for ``T``-frame clips of ``C x H x W`` maps (T and H, W are fixed).

    Args:
        in_channels: C.
        seq_len: T, the frames of a clip (fixes the summary conv's input width).
        feat_hw: ``(H, W)`` of the maps it will see.
        reduced_channels: C' (default 256, or 64 when ``C <= 256``).
        mask_hidden: Width of the summary conv (64).
        eps: Added to the std in the standardisation (1e-4).
        attention: ``"both"``, ``"spatial"`` or ``"channel"``.
    """

    def __init__(self, in_channels: int, seq_len: int, feat_hw: tuple[int, int],
                 reduced_channels: int | None = None, mask_hidden: int = 64, eps: float = 1e-4,
                 attention: str = "both") -> None:
        super().__init__()
        if attention not in ATTENTION_KINDS:
            raise InputError(describe("attention", "COSAMLayer", f"one of {ATTENTION_KINDS}",
                                      repr(attention), ""))
        if seq_len < 2:
            raise InputError(describe("seq_len", "COSAMLayer", ">= 2 (the cost volume needs "
                                      "other frames)", seq_len, ""))
        cr = reduced_channels or (256 if in_channels > 256 else 64)
        h, w = feat_hw
        self.in_channels, self.seq_len, self.feat_hw = in_channels, seq_len, (h, w)
        self.reduced_channels, self.eps, self.attention = cr, eps, attention
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, cr, 1, bias=False),
                                    nn.BatchNorm2d(cr), nn.ReLU(inplace=True))
        self.summary = nn.Sequential(nn.Conv2d((seq_len - 1) * h * w, mask_hidden, 1),
                                     nn.BatchNorm2d(mask_hidden), nn.ReLU(inplace=True),
                                     nn.Conv2d(mask_hidden, 1, 1))
        self.channel_mlp = nn.Sequential(nn.Linear(in_channels, cr), nn.Tanh(),
                                         nn.Linear(cr, in_channels))

    def spatial_mask(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, H, W) -> (B, T, 1, H, W)`` masks in (0, 1)."""
        b, t, c, h, w = x.shape
        d = self.reduce(x.flatten(0, 1)).view(b, t, self.reduced_channels, h, w)
        volume = ncc_cost_volume(standardize_channels(d, self.eps))
        logits = self.summary(volume.flatten(0, 1))  # (BT, 1, H, W)
        return torch.sigmoid(logits).view(b, t, 1, h, w)

    def channel_mask(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, H, W) -> (B, 1, C, 1, 1)``: the frames' channel masks, averaged."""
        per_frame = torch.sigmoid(self.channel_mlp(x.mean(dim=(3, 4))))  # (B, T, C)
        return per_frame.mean(dim=1)[:, None, :, None, None]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend ``(B, T, C, H, W)`` clips; return ``(Y, spatial mask or None)``."""
        if x.ndim != 5 or tuple(x.shape[1:3]) != (self.seq_len, self.in_channels) or \
                tuple(x.shape[3:]) != self.feat_hw:
            raise InputError(describe(
                "feature maps", "COSAMLayer",
                f"(B, T={self.seq_len}, C={self.in_channels}, {self.feat_hw[0]}, "
                f"{self.feat_hw[1]})", tuple(x.shape),
                "COSAM is built for a fixed clip length and input size; use the configured ones"))
        mask = None
        if self.attention != "channel":
            mask = self.spatial_mask(x)
            x = x * mask
        if self.attention != "spatial":
            x = x + x * self.channel_mask(x)
        return x, mask
