"""STAN / DRSA: Diversity Regularized Spatiotemporal Attention (Li, Bak, Carr, Wang; CVPR 2018).

Pipeline for a clip ``(B, N, 3, H, W)`` (``N = 6`` frames by restricted random sampling):

1. ResNet-50 with its original stride (no last-stride trick): an ``8 x 4`` grid of 2048-d cells per
   frame at 256 x 128, ``L = 32``.
2. ``K = 6`` spatial attention maps per frame (softmax over the ``L`` cells) and the attended part
   features ``x_{n,k}``; each goes through ``Linear(C -> 128)`` and an L2 normalisation (the first
   author's code), giving 128-d part features.
3. Feature enhancement across frames, supplement section 3.2.1 equations 1-4
   (:class:`reidbench_baselines.stan.attention.FeatureEnhancement`).
4. Per-part temporal attention over the ``N`` frames.
5. The video feature is the concatenation of the ``K`` part features (``K * 128 = 768``).

Losses: the Hellinger diversity regulariser on the attention maps, and an identity loss: OIM (the
paper's) on the L2-normalised video feature by default, or label-smoothed CE + batch-hard triplet
(``id_loss="ce_triplet"``; a BNNeck classifier then sits on the video feature).

Choices left open by the paper and supplement (also on the adapter card):

* ``part_dim=128`` embedding shared by the ``K`` parts (one ``Linear``), as in the first author's
  code; enhancement and temporal attention act on these 128-d features.
* The enhancement choices of :mod:`reidbench_baselines.stan.attention` (``psi_form``, ``sigma``,
  ``orientation``, a shared linear FCN).
* ``diversity_weight=1.0`` with ``diversity_variant="code_batch_norm"`` (the first author's code;
  ``"paper_sq_per_frame"`` is the per-frame reading of the paper).
* Last stride 2 (the paper's 8 x 4 grid); ``last_stride=1`` gives 16 x 8.
* ``K = 6`` whatever the grid. At small inputs the grid has fewer cells than maps (64 x 32 frames,
  as in the CPU tests: 2 x 1 cells, ``L = 2``), and ``K`` maps over ``L < K`` cells cannot have
  disjoint supports: the regulariser's minimum is then ``sum_l g_l (g_l - 1)`` for the maps split
  as evenly as possible into ``L`` groups ``g_l`` of identical one-cell maps (12 of its maximum 30
  for ``K = 6, L = 2``; 0 from ``L >= 6``, e.g. 128 x 64 frames give 4 x 2). We keep the paper's
  ``K`` (``L`` depends on the frame size, not on the backbone; ``num_maps`` sets ``K``); the
  regulariser then keeps a constant floor and still pushes the maps into ``L`` groups.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from reidbench.errors import InputError, describe
from reidbench_baselines.common import BNNeck, build_backbone
from reidbench_baselines.stan.attention import (
    FeatureEnhancement,
    SpatialAttention,
    TemporalAttention,
)
from reidbench_baselines.stan.losses import DIVERSITY_VARIANTS, OIMLoss

__all__ = ["STANConfig", "STAN", "clip_length_message"]


def clip_length_message(built_for: int, got: int, where: str) -> str:
    """The error for clips of ``got`` frames given to a STAN built for ``built_for``.

    Example:
        >>> clip_length_message(6, 4, "STAN")[:60]
        'clip length in STAN: expected 6 frames (the model option seq'
    """
    return describe("clip length", where, f"{built_for} frames (the model option seq_len="
                    f"{built_for}; the temporal similarity W is N x N)", got,
                    f"sample {built_for} frames (--seq-len {built_for}, or leave --seq-len out), "
                    f"or build STAN for {got} with the model option seq_len={got} "
                    f"(--config '{{\"seq_len\": {got}}}'), which also sets its clip length")


@dataclass(frozen=True)
class STANConfig:
    """STAN hyper-parameters (sources inline; [D] = our choice where the paper is silent)."""

    backbone: str = "resnet50"  # paper: ResNet-50; "small" for CPU runs
    last_stride: int = 2  # paper: original stride, 8 x 4 grid (code atn_height/width 8, 4)
    num_maps: int = 6  # K (supplement Fig. 1: K = 6; code default 3)
    seq_len: int = 6  # N frames by RRS (code seqlen = 6)
    attention_hidden: int = 64  # code: 1x1 conv C -> 64
    per_model_hidden: bool = False  # [D] code form (shared hidden layer)
    part_dim: int = 128  # code: Linear(2048 -> 128) + L2 norm
    sigma: float = 1.0  # [D] eq. 2 temporal scale, in frames
    psi_form: str = "elementwise"  # [D] how W multiplies exp(-|i-j|/sigma)
    orientation: str = "rows"  # [D] row i of C_k pools into frame i (supplement text)
    diversity_weight: float = 1.0  # [D] lambda
    diversity_variant: str = "code_batch_norm"  # code trainers.py ("paper_sq_per_frame": paper)
    id_loss: str = "oim"  # paper: OIM; "ce_triplet" = LSCE + batch-hard triplet
    oim_scalar: float = 30.0  # open-reid default
    oim_momentum: float = 0.5  # open-reid default
    triplet_margin: float = 0.3  # only for id_loss="ce_triplet"
    pretrained: str | None = None  # torchvision ResNet-50 file, loaded before training

    def __post_init__(self) -> None:
        if self.id_loss not in ("oim", "ce_triplet"):
            raise InputError(describe("id_loss", "STAN config", "'oim' or 'ce_triplet'",
                                      repr(self.id_loss), ""))
        if self.diversity_variant not in DIVERSITY_VARIANTS:
            raise InputError(describe("diversity_variant", "STAN config",
                                      f"one of {DIVERSITY_VARIANTS}", repr(self.diversity_variant),
                                      ""))
        if self.num_maps < 1 or self.seq_len < 1:
            raise InputError(describe("num_maps / seq_len", "STAN config", "positive integers",
                                      (self.num_maps, self.seq_len), ""))

    def to_dict(self) -> dict:
        """Plain dict of the options."""
        return asdict(self)


class STAN(nn.Module):
    """The STAN network; ``forward(clips (B, N, 3, H, W)) -> dict``.

    Args:
        num_classes: Training identities (0 when only evaluating).
        cfg: Hyper-parameters.
    """

    def __init__(self, num_classes: int, cfg: STANConfig = STANConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = build_backbone(cfg.backbone, last_stride=cfg.last_stride)
        channels = self.backbone.spec.channels[3]
        self.spatial = SpatialAttention(channels, cfg.num_maps, cfg.attention_hidden,
                                        cfg.per_model_hidden)
        self.embed = nn.Linear(channels, cfg.part_dim)
        self.enhance = FeatureEnhancement(cfg.part_dim, cfg.seq_len, cfg.sigma, cfg.psi_form,
                                          cfg.orientation)
        self.temporal = TemporalAttention(cfg.part_dim, cfg.num_maps)
        self.dim = cfg.num_maps * cfg.part_dim
        if cfg.id_loss == "oim":
            self.oim = OIMLoss(self.dim, num_classes, cfg.oim_scalar, cfg.oim_momentum)
        else:
            self.neck = BNNeck(self.dim, num_classes)

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the video feature and every intermediate the losses and tests need.

        Keys: ``features`` (B, K*part_dim), ``maps`` (B*N, K, L), ``parts`` (B, N, K, part_dim),
        ``enhanced`` (B, N, K, part_dim), ``coefficients`` (B, K, N, N), ``temporal`` (B, N, K),
        and ``logits`` (B, classes) with the CE head.
        """
        if clips.ndim != 5 or clips.shape[2] != 3:
            raise InputError(describe("clips", "STAN", "(B, N, 3, H, W)", tuple(clips.shape), ""))
        if clips.shape[1] != self.cfg.seq_len:
            raise InputError(clip_length_message(self.cfg.seq_len, clips.shape[1], "STAN"))
        b, n = clips.shape[:2]
        fmap = self.backbone(clips.flatten(0, 1))
        maps, parts = self.spatial(fmap)
        parts = F.normalize(self.embed(parts), dim=-1).view(b, n, self.cfg.num_maps, -1)
        enhanced, coef = self.enhance(parts)
        pooled, weights = self.temporal(enhanced)
        feats = pooled.flatten(1)
        out = {"features": feats, "maps": maps, "parts": parts, "enhanced": enhanced,
               "coefficients": coef, "temporal": weights}
        if self.cfg.id_loss == "ce_triplet":
            out["features"], out["logits"] = self.neck(feats)
            out["pre_bn"] = feats
        return out
