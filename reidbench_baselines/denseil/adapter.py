"""The DenseIL adapter: the reidbench interface to the DenseIL model.

See :class:`reidbench_baselines.denseil.model.DenseIL`.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from reidbench.adapters import AdapterCard, TrainableAdapter, TrainRecipe, load_checkpoint
from reidbench.errors import CheckpointError, describe
from reidbench.protocols import Procedure
from reidbench_baselines.common import (
    batch_hard_triplet,
    label_smoothed_ce,
    load_pretrained,
    no_imagenet_notice,
)
from reidbench_baselines.denseil.model import DenseIL, DenseILConfig

__all__ = ["DenseILAdapter", "RANDOM_ENCODER_WARNING", "random_frozen_encoder"]

RANDOM_ENCODER_WARNING = (
    "DenseIL: the DI decoder will train on a frozen, randomly initialised CNN encoder (no "
    "encoder_init or pretrained given). Train stage 1 first (--config '{\"stage\": \"encoder\"}') "
    "and pass its checkpoint as encoder_init, give pretrained=<ImageNet ResNet-50 file>, or set "
    "freeze_encoder=false to train both together.")


def random_frozen_encoder(cfg: DenseILConfig) -> bool:
    """Whether a run of ``cfg`` trains the decoder on a frozen encoder that nothing initialises."""
    return (cfg.stage == "decoder" and cfg.freeze_encoder and not cfg.encoder_init
            and not cfg.pretrained)


class DenseILAdapter(TrainableAdapter):
    """DenseIL (ICCV 2021) behind the adapter interface; trainable by ``reidbench train denseil``.

    Two-stage training as in the supplement: first ``stage="encoder"`` (the CNN encoder as a
    temporal-pooling baseline), then the default ``stage="decoder"`` with
    ``encoder_init=<stage-1 checkpoint>`` (the encoder frozen while the DI decoder trains). The
    default config alone trains the decoder on a random frozen encoder; :meth:`prepare_training`
    (which ``reidbench train`` calls before the first step) warns about that.

    Args:
        num_classes: Training identities (0 when only evaluating).
        backbone: ``"resnet50"`` (paper) or ``"small"`` (CPU).
        **options: Any field of :class:`~reidbench_baselines.denseil.model.DenseILConfig`.

    Decoder width and heads: unless ``dim``/``heads`` are given, ``dim`` is the encoder's conv5_x
    width and ``heads`` is 8, fewer when a head would be narrower than 32
    (:func:`~reidbench_baselines.denseil.model.decoder_width`). ResNet-50 keeps our placeholder
    ``d = 2048``, 8 heads ([D], "keeps the CNN width"); the CPU ``small`` backbone gets ``d = 128``,
    4 heads (reidbench choice, by the same rule), ``resnet18`` 512 and 8. Explicit values win. The
    resolved values are in :attr:`config`, so a checkpoint rebuilds the same architecture.
    """

    card = AdapterCard(
        name="denseil",
        modes=("v2v",),
        input_size=(256, 128),
        paper="Dense Interaction Learning for Video-based Person Re-identification (He, Jin, "
              "Shen, Huang, Chen, Hua)",
        venue="ICCV 2021",
        license="no code released by the authors; this re-implementation from the supplement: MIT",
        defaults={
            "backbone": "ResNet-50, last stride 1 (supplement Table 2: Res50)",
            "frames": "8 by restricted random sampling (supplement 2.1)",
            "encoder": "pre-trained, then fixed while the DI decoder trains (supplement 2.1)",
            "decoder": "self-attention + Dense Attention per block (supplement Fig. 1c)",
            "decoder width": "d = the encoder's conv5_x width unless set: 2048 for ResNet-50 "
                             "(placeholder [D], keeps the CNN width), 128 for the CPU "
                             "'small' backbone (reidbench choice, same rule)",
            "heads": "8 unless set ([D]); fewer (4, 2, 1) when a head would be narrower than 32 "
                     "(reidbench choice: 4 for d = 128)",
            "STEP-Emb": "added to each partitioned input feature by summation (supplement 2.1)",
            "head": "spatio-temporal average, BatchNorm, linear classifier (supplement 2.1)",
            "losses": "triplet on post-BN features, CE on classifier output (supplement 2.1)",
            "test": "post-BN features, cosine distance (supplement 2.1)",
            "augmentation": "per-frame flip, one erasing rectangle shared by the clip's frames "
                            "(supplement 2.1); probabilities 0.5 [D]",
        },
        notes="docs/baselines/denseil.md separates the supplement's choices from ours. Every "
              "structural number is ours ([D]): taps conv3_x/conv4_x/conv5_x (layer2-4), "
              "X_0 = PPool(conv5_x); PPool = horizontal pyramid of 1, 2, 4, 8 average-pooled "
              "strips per map, Linear(C->d) + LayerNorm per scale; d = conv5_x width (2048 "
              "for ResNet-50, 128 for 'small') and 8 heads (4 for d = 128) unless set; 2 DI "
              "blocks; Dense Attention keys/values = [X_0 .. X_{l-1}, PPool(conv4_x), "
              "PPool(conv3_x)]; post-LN residuals, FFN 4d GELU, dropout 0.1; STEP-Emb = learned "
              "(scale, strip) table + learned frame table, summed and added to tokens "
              "(step_mode='qk' adds it to queries/keys only); BatchNorm with frozen zero bias and "
              "a bias-free classifier (shared BNNeck); triplet hard margin 0.3 and CE with label "
              "smoothing 0.1, weights 1:1; stage-1 encoder recipe = temporal-pooling baseline "
              "(GAP, mean over frames, BNNeck, LSCE + triplet on pre-BN); test clips: RRS-test 8 "
              "frames, one clip (the test clip policy is not stated); Adam 3.5e-4. Training "
              "takes two runs: stage='encoder' trains the encoder, then the default "
              "stage='decoder' with encoder_init=<that model.safetensors> trains the decoder on "
              "it, frozen (or pretrained=<ImageNet file> for the encoder); without either, the "
              "decoder trains on a random frozen encoder and reidbench train warns "
              "(freeze_encoder=false trains both at once).",
    )
    recipe = TrainRecipe(
        P=8, K=4, seq_len=8, sampling="rrs", optimizer="adam", lr=3.5e-4, weight_decay=5e-4,
        epochs=120, step_size=40, gamma=0.1, flip=0.5, flip_per_frame=True, erasing=0.5,
        erasing_per_clip=True,
        sources=(("seq_len", "8 by RRS (supplement 2.1)"), ("P,K", "8x4 [D]"),
                 ("flip", "per frame (supplement 2.1); p = 0.5 [D]"),
                 ("erasing", "one rectangle shared by the whole clip (supplement 2.1); p = 0.5, "
                  "area 2-40 %, aspect 0.3-3.3, filled with 0 after normalisation [D] (Zhong "
                  "et al.'s defaults)"),
                 ("lr, wd, epochs", "Adam 3.5e-4, 5e-4, 120 epochs [D] (strong-baseline "
                                    "defaults; no warm-up in reidbench's loop)"),
                 ("step", "x0.1 every 40 epochs [D]")),
    )

    def __init__(self, num_classes: int = 0, backbone: str = "resnet50", **options: Any) -> None:
        cfg = DenseILConfig(backbone=backbone, **options)
        super().__init__(DenseIL(num_classes, cfg), {"num_classes": num_classes, **cfg.to_dict()})
        self.cfg = cfg
        self._prepared = False

    def procedure(self, default: Procedure) -> Procedure:
        """RRS-test clip of 8 frames; post-BN features; cosine distance."""
        return default.override(sampling="rrs", seq_len=self.cfg.seq_len, flip=False,
                                pooling="mean", distance="cosine")

    def prepare_training(self) -> None:
        """Load ImageNet weights and the stage-1 encoder (once, before the first step).

        Warns (:class:`UserWarning`) when the decoder is about to train on a frozen encoder that
        nothing initialises: neither ``encoder_init`` nor ``pretrained`` is given.
        """
        if self._prepared:
            return
        if random_frozen_encoder(self.cfg):
            warnings.warn(RANDOM_ENCODER_WARNING, UserWarning, stacklevel=2)
        if self.cfg.pretrained:
            load_pretrained(self.model.encoder, self.cfg.pretrained)
        if self.cfg.encoder_init:
            ckpt = load_checkpoint(self.cfg.encoder_init)
            keep = {k: v for k, v in ckpt.state_dict.items()
                    if k.startswith(("encoder.", "encoder_neck."))}
            own = {k for k in self.model.state_dict() if k.startswith(("encoder.",
                                                                       "encoder_neck."))}
            if set(keep) != own:
                raise CheckpointError(describe("encoder_init", self.cfg.encoder_init,
                                               "a DenseIL stage-1 checkpoint of this backbone",
                                               f"{len(own ^ set(keep))} mismatching encoder keys",
                                               "train stage 1 with the same backbone"))
            self.model.load_state_dict(keep, strict=False)
        self._prepared = True

    def training_notices(self) -> list[str]:
        """A line when the backbone would start without ImageNet weights (the official code's)."""
        if self.cfg.pretrained or self.cfg.encoder_init:
            return []
        return [no_imagenet_notice("denseil")]

    def training_loss(self, clips: torch.Tensor, pids: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """Stage 2: triplet on post-BN features + LSCE on logits (stage 1: triplet on pre-BN)."""
        self.prepare_training()
        out = self.model(clips)
        tri_feats = out["pre_bn"] if self.cfg.stage == "encoder" else out["features"]
        parts = {
            "ce": label_smoothed_ce(out["logits"], pids, self.cfg.label_smoothing),
            "triplet": batch_hard_triplet(tri_feats, pids, self.cfg.triplet_margin),
        }
        loss = sum(parts.values())
        return loss, {k: float(v.detach()) for k, v in parts.items()}
