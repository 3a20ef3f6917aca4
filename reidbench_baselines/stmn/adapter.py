"""The STMN adapter: the reidbench interface to :class:`reidbench_baselines.stmn.model.STMN`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from reidbench.adapters import AdapterCard, TrainableAdapter, TrainRecipe
from reidbench.protocols import Procedure
from reidbench_baselines.common import no_imagenet_notice
from reidbench_baselines.stmn.losses import stmn_loss
from reidbench_baselines.stmn.model import STMN, STMNConfig

__all__ = ["STMNAdapter"]


class STMNAdapter(TrainableAdapter):
    """STMN (ICCV 2021) behind the adapter interface; trainable by ``reidbench train stmn``."""

    card = AdapterCard(
        name="stmn",
        modes=("v2v",),
        input_size=(256, 128),
        paper="Video-based Person Re-identification with Spatial and Temporal Memory Networks "
              "(Eom, Lee, Lee, Ham)",
        venue="ICCV 2021",
        license="code: scientific or personal use only (cvlab-yonsei/STMN README); this "
                "re-implementation: MIT",
        defaults={"M": "10 (supplement Table 1)", "N": "5 (supplement Table 1)",
                  "alpha": "0.3 (supplement Table 2)", "L": "6 (supplement Table 3)",
                  "test": "all frames, interleaved clips of 6, flip-averaged, tracklets under 6 "
                          "frames padded as the code pads them, cosine distance (code test_all, "
                          "util/cmc.py)"},
        notes="Defaults compute what the official code computes (docs/baselines/stmn.md): "
              "memory keys normalised per channel across the items (addressing='channel_norm'; "
              "'cosine' is the paper's plain cosine), query heads without their last ReLU "
              "(query_norm='none'; 'l2' is the supplement's L2 normalisation), the code's "
              "query reshape without a channel permute (smem_reshape_quirk=True; False gives "
              "per-position queries), no ReLU after the stem's bn1 (stem_relu=False). Spread "
              "loss over the whole batch. Checkpoint selection on a validation split of "
              "training identities, never the test set. ImageNet weights: pass "
              "pretrained=<torchvision resnet50 file> (loaded into the trunk and all three "
              "layer4 heads before training), as the official code starts from them; without "
              "it the backbone starts from scratch. Released weights: reidbench import-weights "
              "stmn FILE --out OUT.safetensors.",
    )
    recipe = TrainRecipe(
        P=8, K=4, seq_len=6, sampling="rrs", optimizer="adam", lr=1e-4, weight_decay=1e-5,
        epochs=200, step_size=50, gamma=0.1, flip=0.5, erasing=0.5,
        sources=(("P,K", "8x4 (code)"), ("lr, wd", "Adam 1e-4, 1e-5 (code)"),
                 ("epochs", "200 (train.sh)"), ("step", "StepLR 50, 0.1 (code)"),
                 ("flip", "whole tracklet, 0.5 (code)"),
                 ("erasing", "RandomErasing per frame, 0.5, filled with 0 (code)")),
    )
    official_importer = "reidbench_baselines.stmn.official"
    #: A checkpoint from before `addressing` keeps its plain cosine.
    legacy_options = {"addressing": "cosine"}

    def __init__(self, num_classes: int = 0, **options: Any) -> None:
        cfg = STMNConfig(**options)
        super().__init__(STMN(num_classes, cfg), {"num_classes": num_classes, **cfg.to_dict()})
        self.cfg = cfg
        # The temporal memory fixes the clip length: train with the configured L.
        self.recipe = replace(type(self).recipe, seq_len=cfg.seq_len)
        self._prepared = False

    def prepare_training(self) -> None:
        """Load ``pretrained`` ImageNet weights (once, before the first step)."""
        if not self._prepared and self.cfg.pretrained:
            self.model.load_imagenet(self.cfg.pretrained)
        self._prepared = True

    def procedure(self, default: Procedure) -> Procedure:
        """STMN's test_all, ranked by cosine distance as its ``util/cmc.py`` does.

        Interleaved clips of L frames, each averaged with its flip; tracklets shorter than L are
        padded as the code pads them (the ``interleaved`` sampler).
        """
        return default.override(sampling="interleaved", seq_len=self.cfg.seq_len, flip=True,
                                pooling="mean", distance="cosine")

    def training_notices(self) -> list[str]:
        """A line when the backbone would start without ImageNet weights (the official code's)."""
        return [] if self.cfg.pretrained else [no_imagenet_notice("stmn")]

    def training_loss(self, clips: torch.Tensor, pids: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """CE (frames) + CE (sequence) + soft triplets + spatial and temporal spread losses."""
        self.prepare_training()
        return stmn_loss(self.model(clips), pids, self.cfg.alpha)
