"""DenseIL: Dense Interaction Learning for video re-ID (He, Jin, Shen, Huang, Chen, Hua; ICCV 2021).

No code for DenseIL exists anywhere; this is built from the supplement (section 2.1, Fig. 1c/1d):

* **CNN encoder**: ResNet-50 with last stride 1, run per frame; the outputs of conv3_x (layer2),
  conv4_x (layer3) and conv5_x (layer4) are tapped. "The CNN encoder is first pretrained and then
  fixed during training the DI decoder": ``freeze_encoder=True`` keeps it frozen (no gradients,
  BatchNorm in eval mode) and ``encoder_init`` names a stage-1 checkpoint to start from.
  Stage 1 is this same adapter with ``stage="encoder"``: a temporal-pooling baseline (GAP, temporal
  mean, BNNeck, label-smoothed CE + triplet) that trains only the encoder.
* **PPool, STEP-Emb, DI decoder**: :mod:`reidbench_baselines.denseil.decoder`. ``X_0`` is PPool
  of conv5_x; the Dense Attention of every block also reads PPool of conv4_x and conv3_x.
* **Outputs**: spatio-temporal average of the decoder tokens, a BatchNorm layer and a linear
  classifier. The batch triplet loss is on the post-BatchNorm feature and the cross-entropy on the
  classifier output (supplement); retrieval uses the post-BatchNorm feature with cosine distance.

Choices the supplement leaves open (also on the adapter card): the decoder width ``d`` and the head
count (see :func:`decoder_width`: by default ``d`` = the encoder's conv5_x width, 2048 for ResNet-50
and 128 for the CPU ``small`` backbone; 8 heads, fewer when a head would be narrower than 32), 2 DI
blocks, pyramid ``(1, 2, 4, 8)``, dropout 0.1, FFN ``4d`` with GELU, post-LN; STEP-Emb learned and
added to the tokens; triplet margin 0.3 (hard), label smoothing 0.1, weights 1:1; the BatchNorm's
bias is frozen at zero and the classifier has no bias (the shared BNNeck); at test time RRS-test
clips of 8 frames (the frames the temporal embedding was trained on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from reidbench.errors import InputError, describe
from reidbench.registry import suggest
from reidbench_baselines.common import BACKBONE_INFO, BNNeck, backbone_names, build_backbone
from reidbench_baselines.denseil.decoder import DIDecoder

__all__ = ["DenseILConfig", "DenseIL", "decoder_width"]

MAX_HEADS = 8  # [D] the paper-size default head count
MIN_HEAD_WIDTH = 32  # reidbench choice: fewer heads rather than heads narrower than this


def decoder_width(backbone: str, dim: int | None = None, heads: int | None = None
                  ) -> tuple[int, int]:
    """Resolve the decoder width ``d`` and head count; explicit values win.

    ``d`` defaults to the encoder's conv5_x width (our placeholder ``d = 2048`` "keeps the
    CNN width" of ResNet-50): 2048 for ``resnet50``/``se_resnet50``, 512 for ``resnet18`` and 128
    for ``small``. ``heads`` defaults to the largest of 8, 4, 2, 1 that divides ``d`` and leaves
    each head at least 32 wide (8 for ``d >= 256``; 4 for the small backbone's 128).

    Args:
        backbone: Encoder name (see :func:`reidbench_baselines.common.backbone_names`).
        dim: Explicit decoder width, or None for the default.
        heads: Explicit head count, or None for the default.

    Returns:
        ``(dim, heads)``.

    Raises:
        InputError: For an unknown backbone, a non-positive ``dim``/``heads`` or ``heads`` that
            does not divide ``dim``.

    Example:
        >>> decoder_width("small"), decoder_width("resnet50"), decoder_width("small", dim=96)
        ((128, 4), (2048, 8), (96, 2))
    """
    if backbone not in BACKBONE_INFO:
        raise InputError(describe("backbone", "DenseIL config", f"one of {backbone_names()}",
                                  repr(backbone), suggest(str(backbone), backbone_names())))
    for name, value in (("dim", dim), ("heads", heads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise InputError(describe(name, "DenseIL config", "a positive integer or None "
                                      "(default from the backbone)", repr(value), ""))
    d = BACKBONE_INFO[backbone].stage_channels[4] if dim is None else dim
    if heads is None:
        heads = next(h for h in (MAX_HEADS, 4, 2, 1)
                     if h == 1 or (d % h == 0 and d // h >= MIN_HEAD_WIDTH))
    if d % heads:
        raise InputError(describe("heads", "DenseIL config", f"a divisor of dim={d}", heads,
                                  "choose heads that divide dim, or leave heads unset"))
    return d, heads


@dataclass(frozen=True)
class DenseILConfig:
    """DenseIL hyper-parameters (sources inline; [D] = our choice, the paper is silent).

    ``dim`` and ``heads`` left as None are resolved by :func:`decoder_width` when the config is
    built, so :meth:`to_dict` (what checkpoints store) always holds the actual values.
    """

    backbone: str = "resnet50"  # supplement Table 2: Res50; "small" for CPU runs
    seq_len: int = 8  # supplement 2.1: 8 frames by RRS
    dim: int | None = None  # [D] decoder width d; None: the encoder's conv5_x width (decoder_width)
    heads: int | None = None  # [D] 8; None: 8, fewer if a head would be < 32 wide (decoder_width)
    layers: int = 2  # [D] DI blocks
    granularities: tuple[int, ...] = (1, 2, 4, 8)  # [D] PPool horizontal pyramid
    taps: tuple[int, ...] = (4, 3, 2)  # [D] layer4, layer3, layer2 (deepest first)
    dropout: float = 0.1  # [D]
    step_mode: str = "input"  # supplement: STEP-Emb added "by summation"
    freeze_encoder: bool = True  # supplement 2.1: encoder fixed while the decoder trains
    stage: str = "decoder"  # "encoder": stage-1 temporal-pooling pre-training of the encoder
    encoder_init: str | None = None  # stage-1 checkpoint (reidbench train denseil stage=encoder)
    pretrained: str | None = None  # torchvision ResNet-50 file for the encoder
    triplet_margin: float = 0.3  # [D]
    label_smoothing: float = 0.1  # [D]

    def __post_init__(self) -> None:
        dim, heads = decoder_width(self.backbone, self.dim, self.heads)
        object.__setattr__(self, "dim", dim)  # resolved: checkpoints store the actual width
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "granularities", tuple(int(g) for g in self.granularities))
        object.__setattr__(self, "taps", tuple(int(t) for t in self.taps))
        if self.stage not in ("decoder", "encoder"):
            raise InputError(describe("stage", "DenseIL config", "'decoder' or 'encoder'",
                                      repr(self.stage), ""))
        if not self.taps or any(t not in (1, 2, 3, 4) for t in self.taps):
            raise InputError(describe("taps", "DenseIL config", "stage numbers in 1..4 "
                                      "(deepest first)", self.taps, ""))

    def to_dict(self) -> dict:
        """Plain dict of the options."""
        return asdict(self)


class DenseIL(nn.Module):
    """CNN encoder + DI decoder + BatchNorm/classifier head.

    Args:
        num_classes: Training identities (0 when only evaluating).
        cfg: Hyper-parameters.
    """

    def __init__(self, num_classes: int, cfg: DenseILConfig = DenseILConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = build_backbone(cfg.backbone, last_stride=1)
        channels = self.encoder.stage_channels
        self.encoder_neck = BNNeck(channels[4], num_classes)  # stage-1 temporal-pooling head
        self.decoder = DIDecoder([channels[t] for t in cfg.taps], cfg.dim, cfg.heads, cfg.layers,
                                 cfg.granularities, cfg.seq_len, cfg.dropout, cfg.step_mode)
        self.neck = BNNeck(cfg.dim, num_classes)
        if cfg.stage == "decoder" and cfg.freeze_encoder:
            for p in self.encoder.parameters():
                p.requires_grad_(False)
        if cfg.stage == "encoder":
            for p in [*self.decoder.parameters(), *self.neck.parameters()]:
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> DenseIL:
        """Training mode, except that a frozen encoder stays in eval mode (fixed BN statistics)."""
        super().train(mode)
        if mode and self.cfg.stage == "decoder" and self.cfg.freeze_encoder:
            self.encoder.eval()
        return self

    def _maps(self, frames: torch.Tensor) -> list[torch.Tensor]:
        x = self.encoder.stem(frames)
        out = []
        for stage in self.encoder.stages():
            x = stage(x)
            out.append(x)
        return [out[t - 1] for t in self.cfg.taps]

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor | list]:
        """Return features (post-BN), pre-BN descriptor, logits and the decoder's attention."""
        if clips.ndim != 5 or clips.shape[2] != 3:
            raise InputError(describe("clips", "DenseIL", "(B, T, 3, H, W)", tuple(clips.shape),
                                      ""))
        b, t = clips.shape[:2]
        if self.cfg.stage == "encoder":
            fmap = self.encoder(clips.flatten(0, 1))
            pooled = fmap.mean(dim=(2, 3)).view(b, t, -1).mean(dim=1)
            feats, logits = self.encoder_neck(pooled)
            return {"features": feats, "pre_bn": pooled, "logits": logits}
        frozen = self.cfg.freeze_encoder
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            maps = self._maps(clips.flatten(0, 1))
        dec = self.decoder(maps, t)
        pooled = dec["tokens"].mean(dim=1)  # spatio-temporal average over T*S tokens
        feats, logits = self.neck(pooled)
        return {"features": feats, "pre_bn": pooled, "logits": logits,
                "attention": dec["attention"], "memory_sources": dec["memory_sources"]}
