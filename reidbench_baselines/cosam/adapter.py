"""The COSAM adapter: the reidbench interface to :class:`reidbench_baselines.cosam.model.COSAM`."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import torch

from reidbench.adapters import AdapterCard, TrainableAdapter, TrainRecipe
from reidbench.protocols import Procedure
from reidbench_baselines.common import load_pretrained, no_imagenet_notice
from reidbench_baselines.cosam.model import COSAM, COSAMConfig, cosam_loss

__all__ = ["COSAMAdapter"]


class COSAMAdapter(TrainableAdapter):
    """COSAM (ICCV 2019) behind the adapter interface; trainable by ``reidbench train cosam``."""

    card = AdapterCard(
        name="cosam",
        modes=("v2v",),
        input_size=(256, 128),
        paper="Co-segmentation Inspired Attention Networks for Video-based Person "
              "Re-identification (Subramaniam, Nambiar, Mittal)",
        venue="ICCV 2019",
        license="code: Apache-2.0 (InnovArul/vidreid_cosegmentation LICENSE); this "
                "re-implementation: MIT",
        defaults={"backbone": "se_resnet50 (supplement section 1)",
                  "cosam_stages": "(4, 5) (supplement Table 4)", "T": "4 (code)",
                  "loss": "label-smoothed CE 0.1 + hard triplet 0.3 (code)",
                  "test": "dense consecutive 4-frame clips, mean; squared Euclidean (code)"},
        notes="docs/baselines/cosam.md compares every point with the official code. Stages "
              "numbered as the paper: 1 = conv1, 2..5 = conv2_x..conv5_x. The COSAM "
              "placement is an ablation axis (cosam_stages). Training clips are 4 consecutive "
              "frames from a random start in [0, F-T-1] (Gao & Nevatia's loader, which the code "
              "uses: the last window is never drawn; reidbench's generic 'consecutive' draws from "
              "[0, F-T]); Random2DTranslation and flip per frame (code). ImageNet weights: pass "
              "pretrained=<Cadene se_resnet50 or torchvision resnet50 file>; without it the "
              "backbone starts from scratch.",
    )
    recipe = TrainRecipe(
        P=8, K=4, seq_len=4, sampling="consecutive_gao", optimizer="adam", lr=3e-4,
        weight_decay=5e-4, epochs=800, step_size=200, gamma=0.1, flip=0.5, flip_per_frame=True,
        translate=0.5,
        sources=(("P,K", "8x4 (code)"), ("lr, wd", "Adam 3e-4, 5e-4 (code)"),
                 ("epochs", "800, StepLR 200 x0.1 (code)"),
                 ("frames", "4 consecutive, start in [0, F-T-1] (code: Gao & Nevatia loader)"),
                 ("augmentation", "Random2DTranslation 0.5 and flip 0.5, per frame (code: "
                  "vidreid_cosegmentation)")),
    )
    official_importer = "reidbench_baselines.cosam.official"

    def __init__(self, num_classes: int = 0, **options: Any) -> None:
        cfg = COSAMConfig(**options)
        config = {"num_classes": num_classes, **asdict(cfg)}
        config["cosam_stages"] = list(cfg.cosam_stages)
        config["input_size"] = list(cfg.input_size)
        super().__init__(COSAM(num_classes, cfg), config)
        self.cfg = cfg
        self.recipe = replace(type(self).recipe, seq_len=cfg.seq_len)
        self._prepared = False

    def prepare_training(self) -> None:
        """Load ``pretrained`` ImageNet weights into the backbone (once, before the first step)."""
        if not self._prepared and self.cfg.pretrained:
            load_pretrained(self.model.backbone, self.cfg.pretrained)
        self._prepared = True

    def procedure(self, default: Procedure) -> Procedure:
        """COSAM's test: every frame in consecutive T-frame clips, mean-pooled, sq. Euclidean."""
        return default.override(sampling="all_clips", seq_len=self.cfg.seq_len, pooling="mean",
                                distance="sqeuclidean", input_size=self.cfg.input_size)

    def training_notices(self) -> list[str]:
        """A line when the backbone would start without ImageNet weights (the official code's)."""
        if self.cfg.pretrained:
            return []
        se = self.cfg.backbone == "se_resnet50"
        return [no_imagenet_notice("cosam", "Cadene se_resnet50" if se else "torchvision resnet50")]

    def training_loss(self, clips: torch.Tensor, pids: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """Label-smoothed CE + batch-hard triplet (hard margin)."""
        self.prepare_training()
        return cosam_loss(self.model(clips), pids, self.cfg)
