"""The STAN adapter: the reidbench interface to :class:`reidbench_baselines.stan.model.STAN`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from reidbench.adapters import AdapterCard, TrainableAdapter, TrainRecipe
from reidbench.protocols import Procedure
from reidbench_baselines.common import (
    batch_hard_triplet,
    label_smoothed_ce,
    load_pretrained,
    no_imagenet_notice,
)
from reidbench_baselines.stan.losses import diversity_regularizer
from reidbench_baselines.stan.model import STAN, STANConfig

__all__ = ["STANAdapter"]


class STANAdapter(TrainableAdapter):
    """Li et al. (CVPR 2018) behind the adapter interface; trainable by ``reidbench train stan``.

    Args:
        num_classes: Training identities (0 when only evaluating).
        backbone: ``"resnet50"`` (paper) or ``"small"`` (CPU).
        **options: Any field of :class:`~reidbench_baselines.stan.model.STANConfig`.
    """

    card = AdapterCard(
        name="stan",
        modes=("v2v",),
        input_size=(256, 128),
        paper="Diversity Regularized Spatiotemporal Attention for Video-based Person "
              "Re-identification (Li, Bak, Carr, Wang)",
        venue="CVPR 2018",
        license="first author's partial code has no licence (all rights reserved); this "
                "re-implementation from the paper and supplement: MIT",
        defaults={
            "K": "6 (supplement Fig. 1; the code's default is 3)",
            "N": "6 frames by RRS (code seqlen = 6)",
            "grid": "8 x 4 cells, ResNet-50 with its original stride (code atn_height/width)",
            "part_dim": "128 + L2 norm (first author's code)",
            "attention MLP": "shared 1x1 conv C->64 + BN + ReLU, 1x1 conv 64->K + BN (code)",
            "enhancement": "eqs. 1-4 of supplement section 3.2.1",
            "id_loss": "OIM, scalar 30, momentum 0.5 (paper: OIM; open-reid defaults)",
            "diversity": "Hellinger, sqrt(sum over the batch's frames of ||sqrt(S)sqrt(S)^T - "
                         "I||_F^2 + 1e-5), weight 1 (first author's trainers.py)",
            "test": "RRS-test, 6 frames, one clip, cosine ([D]; the paper's test rule unverified)",
        },
        notes="docs/baselines/stan.md compares every point with the author's code. Eq. 2: W "
              "multiplies exp(-|i-j|/sigma) element-wise (W init 1), b[j] is added to "
              "every row, sigma = 1 frame, fixed. Eq. 3/4: row i of C_k pools the frames into "
              "frame i (sum_j C[i,j] x_j, the supplement's text), not the literal X_k C_k "
              "(orientation='eq4_literal'). FCN: one Linear(128,128) with bias shared by the K "
              "parts. Temporal attention: one linear scorer per part, softmax over frames. "
              "Diversity: the author's code, a Frobenius norm over the batch (the paper's "
              "per-frame squared form is diversity_variant='paper_sq_per_frame'). Optimiser and "
              "schedule are not in the "
              "sources: Adam in reidbench's loop (open-reid's SGD is not offered by the shared "
              "loop). ImageNet weights: pass pretrained=<torchvision file>; without it the "
              "backbone starts random. N: the model option seq_len sizes W (N x N) and sets the "
              "training clip length; --seq-len must agree with it. K stays 6 whatever the grid: "
              "with fewer cells than maps (64 x 32 frames give 2 x 1 cells) the maps cannot be "
              "disjoint and the regulariser's floor is sum_l g_l (g_l - 1) over the most even "
              "split of the K maps into L groups (12 of 30 for K = 6, L = 2).",
    )
    recipe = TrainRecipe(
        P=8, K=4, seq_len=6, sampling="rrs", optimizer="adam", lr=3e-4, weight_decay=5e-4,
        epochs=60, step_size=40, gamma=0.1, flip=0.5,
        sources=(("P,K", "8x4 [D] (as COSAM and STMN)"), ("seq_len", "6 (code)"),
                 ("epochs, step", "60, x0.1 at 40 [D] (open-reid OIM defaults)"),
                 ("optimizer", "Adam 3e-4, wd 5e-4 [D]: the paper's is unknown")),
    )

    def __init__(self, num_classes: int = 0, backbone: str = "resnet50", **options: Any) -> None:
        cfg = STANConfig(backbone=backbone, **options)
        super().__init__(STAN(num_classes, cfg), {"num_classes": num_classes, **cfg.to_dict()})
        self.cfg = cfg
        self.recipe = replace(type(self).recipe, seq_len=cfg.seq_len)  # clips the model takes
        self._prepared = False

    def procedure(self, default: Procedure) -> Procedure:
        """RRS-test: one clip of N frames (the first of each chunk), cosine distance."""
        return default.override(sampling="rrs", seq_len=self.cfg.seq_len, flip=False,
                                pooling="mean", distance="cosine")

    def prepare_training(self) -> None:
        """Load ``pretrained`` ImageNet weights (once, before the first step).

        The training loop calls this before it restores a resumed run's state, so a resumed trunk
        is never overwritten by the ImageNet weights.
        """
        if not self._prepared and self.cfg.pretrained:
            load_pretrained(self.model.backbone, self.cfg.pretrained)
        self._prepared = True

    def training_notices(self) -> list[str]:
        """A line when the backbone would start without ImageNet weights (the official code's)."""
        return [] if self.cfg.pretrained else [no_imagenet_notice("stan")]

    def training_loss(self, clips: torch.Tensor, pids: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """Identity loss (OIM, or LSCE + triplet) + lambda * diversity regulariser."""
        self.prepare_training()
        out = self.model(clips)
        parts: dict[str, torch.Tensor] = {}
        if self.cfg.id_loss == "oim":
            parts["oim"] = self.model.oim(out["features"], pids)
        else:
            parts["ce"] = label_smoothed_ce(out["logits"], pids)
            parts["triplet"] = batch_hard_triplet(out["pre_bn"], pids, self.cfg.triplet_margin)
        div = diversity_regularizer(out["maps"], self.cfg.diversity_variant)
        parts["diversity"] = self.cfg.diversity_weight * div
        loss = sum(parts.values())
        return loss, {k: float(v.detach()) for k, v in parts.items()}
