"""The READ adapter: a pairwise scorer for image-to-video re-ID.

``embed_images`` gives each query image's key/value maps and ``embed_clips`` each gallery
tracklet's (one RRS-test clip of 4 frames), both flattened into rows; ``score`` runs the reciprocal
attention discriminator on every (query, gallery) pair and returns the "same identity" logit. The
engine calls ``score`` in query chunks (``reidbench.engine.extract.score_pairs``); inside, the
gallery is cut into chunks so that the attention tensor of one chunk holds at most
``score_budget`` numbers (default 2**25, 128 MiB in float32), and only that chunk's key/value
maps are moved to the model's device.

Memory: a gallery row is ``T P (Ck + Cv)`` floats, 1.25 MiB with ResNet-50 at 256 x 128, so
MARS's 11,310 gallery tracklets take 14.8 GB of host memory; ``score`` keeps one chunk of them on
the device at a time when it is handed the gallery on the host.
"""

from __future__ import annotations

from typing import Any

import torch

from reidbench.adapters import AdapterCard, TrainableAdapter, TrainRecipe
from reidbench.protocols import Procedure
from reidbench_baselines.common import load_pretrained, no_imagenet_notice
from reidbench_baselines.read.discriminator import attend
from reidbench_baselines.read.losses import pair_loss, ratl_feature, ratl_logit
from reidbench_baselines.read.model import READ, READConfig

__all__ = ["READAdapter"]


class READAdapter(TrainableAdapter):
    """READ (ECCV 2020) behind the adapter interface; ranks by its discriminator's score.

    Args:
        num_classes: Unused by READ's losses (kept for the trainable interface).
        backbone: ``"resnet50"`` (paper) or ``"small"`` (CPU).
        score_budget: Largest attention tensor (numbers) per scoring chunk; not architecture.
        **options: Any field of :class:`~reidbench_baselines.read.model.READConfig`.
    """

    uses_scorer = True
    card = AdapterCard(
        name="read",
        modes=("i2v",),
        input_size=(256, 128),
        paper="READ: Reciprocal Attention Discriminator for Image-to-Video Re-Identification "
              "(Shim, Ho, Kim, Wee)",
        venue="ECCV 2020",
        license="official demo code: non-commercial use only, no LICENSE file "
                "(minostauros/READ README); this re-implementation: MIT",
        defaults={
            "image net": "ResNet-50 to layer3, BN affine frozen, 1x1 key 128 / value 512 (code)",
            "video net": "non-local ResNet-50 to layer3, 2 NL in layer2, 3 in layer3 (code "
                         "non_layers); non_local=False: supplement Table S1 variant",
            "discriminator": "dot-product attention over T*P memory locations, [v_I; r] -> "
                             "Linear(1024) -> ReLU -> Linear(2) (code)",
            "T": "4 gallery frames by RRS-test (code max_sample_length)",
            "query": "first frame of the query tracklet (code)",
            "RATL": "triplet on attention-block features, each gallery video of the batch as "
                    "the basis (supplement S2)",
            "mAP": "sklearn < 0.19 (supplement S3): reidbench's 'sklearn_legacy' AP variant",
        },
        notes="docs/baselines/read.md compares every point with the official code. RATL [D] "
              "(the supplement gives no distance, margin or weight): Euclidean distance "
              "between L2-normalised attended read-outs r (ratl_normalize; raw read-outs are "
              "~27 apart at initialisation and a hard margin is met by shrinking them all), "
              "margin 0.3, weight 1, batch-hard mining; ratl_feature='concat' uses [v_I; r], "
              "'hidden' the post-ReLU feature the released code returns next to its logits. "
              "ratl_variant='logit' is a logit-space alternative of ours, margin 1.0 in logit "
              "units; ratl_margin=None means the variant's default and checkpoints store the "
              "resolved margin. Video net initialised as a copy of the image net (video_init="
              "'image' [D]; non-local blocks start as identities): both start as one function, "
              "as with the paper's shared ImageNet start; independent random draws do not learn "
              "to compare in short runs from scratch. Pair loss: 2-way CE over all (query frame, "
              "other clip) pairs of the P x K batch, 4 query frames per clip; a clip is never its "
              "own memory. Video-net stem keeps its ReLU and frames are RGB (video_stem_relu="
              "False for the code's form; the released weights also expect BGR). The "
              "bidirectional reading of 'reciprocal' is not implemented. V2V use (not in the "
              "paper): a T-frame query row scores as T image queries from the same key/value "
              "maps, logits averaged. Optimiser and schedule are not in the sources: Adam 1e-4, "
              "wd 5e-4, 60 epochs, x0.1 at 40 [D]; above ~5e-4 the first Adam steps shift every "
              "unit of the discriminator's 2 Cv P-input Linear together (pair loss 0.65 -> 2.4).",
    )
    recipe = TrainRecipe(
        P=8, K=4, seq_len=4, sampling="rrs", optimizer="adam", lr=1e-4, weight_decay=5e-4,
        epochs=60, step_size=40, gamma=0.1, flip=0.5,
        sources=(("seq_len", "4 (code max_sample_length)"), ("flip", "whole clip, 0.5 (code)"),
                 ("P,K", "8x4 [D]; code batch 32"),
                 ("lr, wd, epochs, step", "Adam 1e-4, 5e-4, 60, x0.1 at 40 [D]: not in sources")),
    )
    official_importer = "reidbench_baselines.read.official"
    #: A checkpoint from before `memory_layout` keeps per-frame slots.
    legacy_options = {"memory_layout": "frames"}

    def __init__(self, num_classes: int = 0, backbone: str = "resnet50",
                 score_budget: int = 1 << 25, **options: Any) -> None:
        cfg = READConfig(backbone=backbone, **options)
        super().__init__(READ(cfg), {"num_classes": num_classes, **cfg.to_dict()})
        self.cfg = cfg
        self.score_budget = int(score_budget)
        self._prepared = False

    def procedure(self, default: Procedure) -> Procedure:
        """Gallery: one RRS-test clip of T frames at the model's ``input_size``.

        The discriminator's MLP is sized for that input; the query side is the protocol's image.
        """
        return default.override(sampling="rrs", seq_len=self.cfg.seq_len, flip=False,
                                pooling="mean", input_size=self.cfg.input_size)

    def forward_features(self, clips: torch.Tensor) -> torch.Tensor:
        """Gallery representation: flattened video keys and values ``(B, T P (Ck + Cv))``."""
        return self.model.pack(*self.model.encode_videos(clips))

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """Query representation: flattened image keys and values ``(B, P (Ck + Cv))``."""
        with torch.inference_mode():
            return self.model.pack(*self.model.encode_images(images.to(self.device)))

    def score(self, query_repr: torch.Tensor, gallery_repr: torch.Tensor) -> torch.Tensor:
        """``(Q, G)`` "same identity" logits (higher = more similar).

        The representations may live on the host: the queries are moved to the model's device
        once, the gallery one chunk at a time (a MARS gallery is 14.8 GB with ResNet-50), so the
        device holds one chunk's maps and attention, never the whole gallery. A query row of
        ``Tq`` frames (V2V use) scores as ``Tq`` image queries, logits averaged.
        """
        disc = self.model.discriminator
        device = disc.fc1.weight.device
        k_q, v_q = self.model.unpack(query_repr.to(device), "query_repr")
        k_g, v_g = self.model.unpack(gallery_repr, "gallery_repr")
        n_q, p = query_repr.shape[0], self.model.positions
        tq = k_q.shape[1] // p
        k_q = k_q.reshape(n_q * tq, p, -1)
        v_q = v_q.reshape(n_q * tq, p, -1)
        with torch.inference_mode():
            img_term = disc.image_term(v_q)
            step = self.gallery_chunk(n_q * tq, k_g.shape[1])
            cols = []
            for s in range(0, k_g.shape[0], step):
                k_c, v_c = disc.memory(k_g[s:s + step].to(device), v_g[s:s + step].to(device))
                readout, _ = attend(k_q, k_c, v_c)
                hidden = img_term[:, None, :] + disc.readout_term(readout)
                cols.append(disc.same_logit(disc.fc2(disc.relu(hidden))))
            logits = torch.cat(cols, dim=1) if cols else k_q.new_zeros(n_q * tq, 0)
        return logits.view(n_q, tq, -1).mean(dim=1)

    def gallery_chunk(self, n_queries: int, memory: int) -> int:
        """Gallery items per scoring chunk (at least one).

        The attention of one chunk holds at most ``score_budget`` numbers, ``n_queries x P x
        memory`` per gallery item.
        """
        per_item = n_queries * self.model.positions * memory
        return max(1, self.score_budget // max(per_item, 1))

    def prepare_training(self) -> None:
        """Load ImageNet weights into both networks (once, before the first step)."""
        if self._prepared:
            return
        if self.cfg.pretrained:
            extra = ("fc.", "layer4.", "last_linear.")
            load_pretrained(self.model.image_net.trunk, self.cfg.pretrained, allowed_extra=extra)
            if self.model.video_net is not None:
                load_pretrained(self.model.video_net.trunk, self.cfg.pretrained,
                                allowed_extra=extra)
        self._prepared = True

    def training_notices(self) -> list[str]:
        """A line when the backbone would start without ImageNet weights (the official code's)."""
        return [] if self.cfg.pretrained else [no_imagenet_notice("read")]

    def training_loss(self, clips: torch.Tensor, pids: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """Pair classification over all (query frame, other clip) pairs + weight * RATL."""
        self.prepare_training()
        b, t = clips.shape[:2]
        tq = min(self.cfg.train_query_frames, t)
        k_i, v_i = self.model.encode_images(clips[:, :tq].flatten(0, 1))
        k_v, v_v = self.model.encode_videos(clips)
        out = self.model.discriminator(k_i, v_i, k_v, v_v)
        owner = torch.arange(b, device=clips.device).repeat_interleave(tq)
        labels = pids.repeat_interleave(tq)
        same = labels[:, None] == pids[None, :]
        valid = torch.ones_like(same)
        if not self.cfg.self_pairs:
            valid &= owner[:, None] != torch.arange(b, device=clips.device)[None, :]
        parts = {"pair": pair_loss(out["logits"], same, valid)}
        if self.cfg.ratl_variant == "feature":
            feats = out["readout"].flatten(2)
            if self.cfg.ratl_feature == "hidden":
                feats = out["hidden"]
            elif self.cfg.ratl_feature == "concat":
                img = v_i.flatten(1)[:, None, :].expand(-1, b, -1)
                feats = torch.cat([img, feats], dim=2)
            parts["ratl"] = self.cfg.ratl_weight * ratl_feature(
                feats, labels, valid, self.cfg.ratl_margin, normalize=self.cfg.ratl_normalize)
        elif self.cfg.ratl_variant == "logit":
            same_logit = self.model.discriminator.same_logit(out["logits"])
            parts["ratl"] = self.cfg.ratl_weight * ratl_logit(same_logit, same, valid,
                                                              self.cfg.ratl_margin)
        loss = sum(parts.values())
        return loss, {k: float(v.detach()) for k, v in parts.items()}
