"""STAN's heads on per-frame feature maps (Li, Bak, Carr, Wang, CVPR 2018).

Three modules, each one equation block of the paper:

* :class:`SpatialAttention`: ``K`` spatial attention maps per frame, each a softmax over the ``L``
  cells of the frame's feature map, and the attended part features
  ``x_{n,k} = sum_l s_{n,k,l} f_{n,l}``.
* :class:`FeatureEnhancement`: the supplement's section 3.2.1, equations 1-4, applied to each part
  ``k`` over the ``N`` frames of a clip::

      Phi_k = X_k^T X_k                                     (1) feature similarity
      Psi   = W (.) exp(-|i - j| / sigma) + b                (2) temporal similarity
      C_k   = row-softmax(Phi_k + Psi)                       (3)
      Xhat_k = FCN(pool_k) + X_k                             (4) residual, FCN linear

* :class:`TemporalAttention`: ``t_{n,k} = softmax_n(w_k^T xhat_{n,k} + b_k)`` and
  ``x_k = sum_n t_{n,k} xhat_{n,k}``.

Choices the supplement leaves open (also on the adapter's card):

* ``psi_form="elementwise"``: ``W`` (``N x N``) multiplies ``exp(-|i-j|/sigma)`` element-wise
  (``"matmul"``: as a matrix product). ``W`` is initialised to ones, ``b`` to zeros.
* ``b`` (length ``N``) is added to every row, i.e. ``Psi[i, j] += b[j]``: a learned prior on how
  much frame ``j`` contributes.
* ``sigma = 1.0`` frame, fixed (not learned).
* ``orientation="rows"``: the text says row ``i`` of ``C_k`` holds the contributions of all frames
  to frame ``i``, so frame ``i``'s pooled feature is ``sum_j C_k[i, j] x_{j,k}`` (column ``i`` of
  ``X_k C_k^T``). ``"eq4_literal"`` computes ``X_k C_k`` as equation 4 is printed.
* FCN is one ``Linear(D, D)`` with bias, shared by the ``K`` parts, default initialisation.
* Spatial attention has the first author's code form (shared ``1x1 conv C->64 + BN + ReLU``, then
  ``1x1 conv 64->K + BN``, softmax over cells); ``per_model_hidden=True`` gives the paper's form
  (one hidden layer per attention model, as a grouped convolution).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from reidbench.errors import InputError, describe

__all__ = ["SpatialAttention", "FeatureEnhancement", "TemporalAttention", "temporal_similarity"]


class SpatialAttention(nn.Module):
    """``K`` spatial attention maps over a feature map and the ``K`` attended part features.

    Args:
        in_channels: Channels ``C`` of the feature map.
        num_maps: ``K``.
        hidden: Hidden width of the attention MLP (64 in the first author's code).
        per_model_hidden: One hidden layer per map (paper form) instead of a shared one (code form).
    """

    def __init__(self, in_channels: int, num_maps: int = 6, hidden: int = 64,
                 per_model_hidden: bool = False) -> None:
        super().__init__()
        self.num_maps = num_maps
        width = hidden * num_maps if per_model_hidden else hidden
        groups = num_maps if per_model_hidden else 1
        self.hidden = nn.Sequential(nn.Conv2d(in_channels, width, 1, bias=False),
                                    nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.score = nn.Sequential(nn.Conv2d(width, num_maps, 1, bias=False, groups=groups),
                                   nn.BatchNorm2d(num_maps))

    def forward(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(maps (M, K, L), parts (M, K, C))`` for feature maps ``(M, C, H, W)``."""
        m, c, h, w = fmap.shape
        logits = self.score(self.hidden(fmap)).flatten(2)  # (M, K, L)
        maps = logits.softmax(dim=-1)
        parts = torch.einsum("mkl,mcl->mkc", maps, fmap.flatten(2))
        return maps, parts


def temporal_similarity(weight: torch.Tensor, bias: torch.Tensor, sigma: float,
                        form: str = "elementwise") -> torch.Tensor:
    """Equation 2: ``Psi = W exp(-|i-j|/sigma) + b`` for ``N`` frames.

    Args:
        weight: ``W``, ``(N, N)``.
        bias: ``b``, ``(N,)``, added to every row (``Psi[i, j] += b[j]``).
        sigma: Temporal scale in frames.
        form: ``"elementwise"`` (``W (.) E``) or ``"matmul"`` (``W @ E``).

    Returns:
        ``Psi``, ``(N, N)``.
    """
    n = weight.shape[0]
    idx = torch.arange(n, device=weight.device, dtype=weight.dtype)
    decay = torch.exp(-(idx[:, None] - idx[None, :]).abs() / sigma)
    prod = weight * decay if form == "elementwise" else weight @ decay
    return prod + bias[None, :]


class FeatureEnhancement(nn.Module):
    """Feature enhancement across frames (supplement section 3.2.1, equations 1-4).

    Args:
        dim: Feature size ``D`` of each part feature.
        num_frames: ``N`` (``W`` is ``N x N``, so clips must have exactly ``N`` frames).
        sigma: Temporal scale of equation 2.
        psi_form: ``"elementwise"`` or ``"matmul"`` (how ``W`` multiplies the decay matrix).
        orientation: ``"rows"`` (row ``i`` of ``C_k`` weights the frames pooled into frame ``i``)
            or ``"eq4_literal"`` (``X_k C_k`` as printed).
    """

    def __init__(self, dim: int, num_frames: int = 6, sigma: float = 1.0,
                 psi_form: str = "elementwise", orientation: str = "rows") -> None:
        super().__init__()
        if psi_form not in ("elementwise", "matmul"):
            raise InputError(describe("psi_form", "STAN FeatureEnhancement",
                                      "'elementwise' or 'matmul'", repr(psi_form), ""))
        if orientation not in ("rows", "eq4_literal"):
            raise InputError(describe("orientation", "STAN FeatureEnhancement",
                                      "'rows' or 'eq4_literal'", repr(orientation), ""))
        self.num_frames = num_frames
        self.sigma = float(sigma)
        self.psi_form = psi_form
        self.orientation = orientation
        self.weight = nn.Parameter(torch.ones(num_frames, num_frames))
        self.bias = nn.Parameter(torch.zeros(num_frames))
        self.fcn = nn.Linear(dim, dim)

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """Equations 1-3: ``C_k`` ``(B, K, N, N)`` for part features ``x`` ``(B, N, K, D)``."""
        if x.shape[1] != self.num_frames:
            raise InputError(describe("clip length", "STAN feature enhancement",
                                      f"{self.num_frames} frames (W is N x N)", x.shape[1],
                                      f"sample clips of {self.num_frames} frames, or build it "
                                      f"with num_frames={x.shape[1]} (STAN's seq_len option)"))
        xk = x.permute(0, 2, 1, 3)  # (B, K, N, D): row n is x_{n,k}^T
        phi = xk @ xk.transpose(-1, -2)  # (1): Phi_k[i, j] = <x_i, x_j>
        psi = temporal_similarity(self.weight, self.bias, self.sigma, self.psi_form)  # (2)
        return (phi + psi).softmax(dim=-1)  # (3): softmax over each row

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(enhanced (B, N, K, D), C (B, K, N, N))`` for part features ``(B, N, K, D)``."""
        coef = self.coefficients(x)
        xk = x.permute(0, 2, 1, 3)  # (B, K, N, D)
        if self.orientation == "rows":
            pooled = coef @ xk  # pooled_i = sum_j C[i, j] x_j
        else:
            pooled = coef.transpose(-1, -2) @ xk  # columns of X C: sum_j C[j, i] x_j
        enhanced = self.fcn(pooled) + xk  # (4)
        return enhanced.permute(0, 2, 1, 3), coef


class TemporalAttention(nn.Module):
    """Per-part temporal attention: a softmax over frames of a linear response.

    Args:
        dim: Part feature size ``D``.
        num_parts: ``K`` (one linear scorer per part).
    """

    def __init__(self, dim: int, num_parts: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_parts, dim))
        self.bias = nn.Parameter(torch.zeros(num_parts))
        nn.init.normal_(self.weight, std=1.0 / math.sqrt(dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(pooled (B, K, D), weights (B, N, K))`` for features ``(B, N, K, D)``."""
        scores = torch.einsum("bnkd,kd->bnk", x, self.weight) + self.bias
        weights = F.softmax(scores, dim=1)
        return torch.einsum("bnk,bnkd->bkd", weights, x), weights
