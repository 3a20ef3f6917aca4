"""COSAM: Co-segmentation Inspired Attention Networks (Subramaniam, Nambiar, Mittal; ICCV 2019).

A ResNet-50 or SE-ResNet-50 trunk (layer4 stride 1) sees the ``T = 4`` frames of a clip as a batch
of images; a :class:`~reidbench_baselines.cosam.layer.COSAMLayer` after each chosen stage lets the
frames of one clip attend to what they have in common (default after conv4_x and conv5_x,
"COSAM_{4,5}"); the layer4 maps are globally average-pooled per frame, then averaged over the frames
(TP_avg). The 2048-d pooled feature is the retrieval embedding (no BNNeck) and feeds a classifier
with bias.
Loss: label-smoothed CE (eps 0.1) on the logits + batch-hard triplet (hard margin 0.3) on the
feature, equal weights.

Choices the paper leaves open, and what this implementation does:
- Stage numbering follows the paper: 1 = conv1 (the stem, after max-pooling), 2..5 = conv2_x ..
  conv5_x (``layer1`` .. ``layer4``). The supplement's grid uses 2..5; 1 is accepted as well.
- Train and test clips must both have ``seq_len`` frames at ``input_size`` (the summary conv's
  input width is ``(T-1)*H*W``); anything else is an :class:`~reidbench.errors.InputError`.
- The embedding is the pre-classifier pooled feature (the code compares it with squared Euclidean
  distance); no BN or normalisation is applied to it.
- ``num_classes=0`` builds no classifier (evaluation only); ``logits`` is then absent.
- Defaults follow the COSAM supplementary material (backbone, placement, TP_avg) and the official
  code (T, input size, losses, reduction widths); each is noted next to its field in
  :class:`COSAMConfig`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reidbench.errors import InputError, describe
from reidbench_baselines.common import build_backbone, label_smoothed_ce
from reidbench_baselines.common.losses import batch_hard_triplet
from reidbench_baselines.cosam.layer import ATTENTION_KINDS, COSAMLayer

__all__ = ["COSAMConfig", "COSAM", "cosam_loss"]


@dataclass(frozen=True)
class COSAMConfig:
    """COSAM hyper-parameters, each with its source."""

    backbone: str = "se_resnet50"  # supplement section 1: SE-ResNet50+COSAM_{4,5}+TP_avg is best
    cosam_stages: tuple[int, ...] = (4, 5)  # supplement Table 4 / section 2: de facto COSAM_{4,5}
    seq_len: int = 4  # official code: T = 4 frames per clip, train and test
    input_size: tuple[int, int] = (256, 128)  # official code: H x W
    last_stride: int = 1  # official code, "TP" variant: layer4 stride 1
    reduced_channels: int | None = None  # code: C' = 256, or 64 when C <= 256
    mask_hidden: int = 64  # code: summary conv (T-1)HW -> 64 -> 1
    eps: float = 1e-4  # code: std + 1e-4 in the standardisation
    attention: str = "both"  # supplement Table 3: spatial and channel together are best
    label_smoothing: float = 0.1  # code: CE with label smoothing eps = 0.1
    triplet_margin: float = 0.3  # code: batch-hard triplet, hard margin 0.3
    stem_relu: bool = True  # COSAM's code uses the standard stem (ReLU)
    width: int | None = None  # base width of the "small" CPU backbone (None: its default, 16)
    pretrained: str | None = None  # ImageNet weights file, loaded by the adapter to train

    def __post_init__(self) -> None:
        object.__setattr__(self, "cosam_stages", tuple(int(s) for s in self.cosam_stages))
        object.__setattr__(self, "input_size", tuple(int(s) for s in self.input_size))
        stages = self.cosam_stages
        if any(s not in (1, 2, 3, 4, 5) for s in stages) or len(set(stages)) != len(stages):
            raise InputError(describe("cosam_stages", "COSAMConfig", "distinct stages among 1..5 "
                                      "(conv1, conv2_x .. conv5_x)", stages, ""))
        if self.seq_len < 2:
            raise InputError(describe("seq_len", "COSAMConfig", ">= 2", self.seq_len, ""))
        if self.attention not in ATTENTION_KINDS:
            raise InputError(describe("attention", "COSAMConfig", f"one of {ATTENTION_KINDS}",
                                      repr(self.attention), ""))
        if len(self.input_size) != 2 or min(self.input_size) < 32:
            raise InputError(describe("input_size", "COSAMConfig", "(H, W), both >= 32",
                                      self.input_size, ""))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the options (JSON-ready)."""
        d = asdict(self)
        d["cosam_stages"], d["input_size"] = list(self.cosam_stages), list(self.input_size)
        return d


class COSAM(nn.Module):
    """The COSAM network; ``forward(clips (B, T, 3, H, W)) -> dict``.

    Args:
        num_classes: Training identities (0: no classifier).
        cfg: Hyper-parameters.
        pretrained: Local ImageNet weights for the backbone (torchvision file for ``resnet50``,
            Cadene file for ``se_resnet50``).

    The output dict holds ``features`` (B, C) for retrieval, ``frames`` (B, T, C) per-frame pooled
    features, ``logits`` (B, num_classes) when a classifier exists, and ``mask_s<k>`` (B, T, H, W)
    the spatial mask of the COSAM layer after stage k (when it has a spatial half).
    """

    def __init__(self, num_classes: int, cfg: COSAMConfig | None = None,
                 pretrained: str | Path | None = None) -> None:
        super().__init__()
        cfg = cfg or COSAMConfig()
        self.cfg, self.num_classes = cfg, num_classes
        self.backbone = build_backbone(cfg.backbone, last_stride=cfg.last_stride,
                                       pretrained=pretrained, stem_relu=cfg.stem_relu,
                                       width=cfg.width)
        sizes = self.backbone.feature_hw(*cfg.input_size)
        channels = self.backbone.stage_channels
        self.cosam = nn.ModuleDict({
            f"stage{s}": COSAMLayer(channels[s - 1], cfg.seq_len, sizes[s - 1],
                                    cfg.reduced_channels, cfg.mask_hidden, cfg.eps, cfg.attention)
            for s in sorted(cfg.cosam_stages)})
        self.dim = channels[-1]
        self.classifier = nn.Linear(self.dim, num_classes) if num_classes > 0 else None

    def _check(self, clips: torch.Tensor) -> None:
        want = f"(B, T={self.cfg.seq_len}, 3, {self.cfg.input_size[0]}, {self.cfg.input_size[1]})"
        if clips.ndim != 5 or clips.shape[2] != 3:
            raise InputError(describe("clips", "COSAM", want, tuple(clips.shape),
                                      "pass RGB clips shaped (batch, frames, 3, H, W)"))
        if clips.shape[1] != self.cfg.seq_len:
            raise InputError(describe(
                "clip length T", "COSAM", f"{self.cfg.seq_len} frames (the cost volume's width "
                "is fixed by T)", clips.shape[1],
                f"sample clips of {self.cfg.seq_len} frames (dense consecutive clips at test)"))
        if tuple(clips.shape[3:]) != self.cfg.input_size:
            raise InputError(describe(
                "frame size", "COSAM", f"{self.cfg.input_size[0]}x{self.cfg.input_size[1]} "
                "(the cost volume's width is fixed by H x W)",
                f"{clips.shape[3]}x{clips.shape[4]}", "resize frames to the configured input_size"))

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embed clips; see the class docstring for the keys."""
        self._check(clips)
        b, t = clips.shape[:2]
        out: dict[str, torch.Tensor] = {}

        def attend(x: torch.Tensor, stage: int) -> torch.Tensor:
            layer = self.cosam[f"stage{stage}"] if f"stage{stage}" in self.cosam else None
            if layer is None:
                return x
            y, mask = layer(x.view(b, t, *x.shape[1:]))
            if mask is not None:
                out[f"mask_s{stage}"] = mask[:, :, 0]
            return y.flatten(0, 1)

        x = attend(self.backbone.stem(clips.flatten(0, 1)), 1)
        for stage, block in enumerate(self.backbone.stages(), start=2):
            x = attend(block(x), stage)
        frames = x.mean(dim=(2, 3)).view(b, t, -1)
        out["frames"] = frames
        out["features"] = frames.mean(dim=1)  # TP_avg
        if self.classifier is not None:
            out["logits"] = self.classifier(out["features"])
        return out


def cosam_loss(out: dict[str, torch.Tensor], pids: torch.Tensor, cfg: COSAMConfig
               ) -> tuple[torch.Tensor, dict[str, float]]:
    """``CE_LS(eps)(logits) + Tri_hard(m)(features)`` with equal weights (official code).

    Args:
        out: :meth:`COSAM.forward` output (needs ``logits``: build the model with classes).
        pids: ``(B,)`` contiguous training labels.
        cfg: Gives ``label_smoothing`` and ``triplet_margin``.

    Returns:
        ``(loss, {"ce": float, "tri": float})``.
    """
    if "logits" not in out:
        raise InputError(describe("logits", "cosam_loss", "a model built with num_classes > 0",
                                  "no classifier output", "build COSAM(num_classes=...)"))
    ce = label_smoothed_ce(out["logits"], pids, cfg.label_smoothing)
    tri = batch_hard_triplet(out["features"], pids, margin=cfg.triplet_margin)
    return ce + tri, {"ce": float(ce.detach()), "tri": float(tri.detach())}
