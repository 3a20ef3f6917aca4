"""STMN: Spatial and Temporal Memory Networks (Eom, Lee, Lee, Ham; ICCV 2021).

A shared ResNet trunk (stem, layer1-3) feeds three independent stride-1 copies of layer4 (seed
supplement, section 2): the value head (frame feature maps f^o), the spatial-query head
(per-position queries) and the temporal-query head (GAP, then an LSTM over the L frames). The
spatial memory (M key/value items) is read per position by a softmax over cosine similarities and
its BN'd read-out is *subtracted* from the value map (the BN starts at gamma = beta = 0, so the
memory starts as a no-op); the temporal memory (N items whose values are attention logits over the
L frames) gives the frame weights of the sequence feature. BNNeck heads on every frame feature and
on the sequence feature; the retrieval embedding is ``bn_t(f)``.

Defaults follow the official code (github.com/cvlab-yonsei/STMN, HEAD 298e2a8); where the paper's
text reads differently, that reading is a named option (docs/baselines/stmn.md has the table):
- Memory addressing (``addressing``): the code's memory modules (``smem_tmem/model/memory.py``,
  lines 24-26 and 57-59) compute ``softmax_m(q_hat . K~_m)`` with the query L2-normalised and the
  key matrix normalised per *channel* across the memory items (``F.normalize(key.t(), dim=1)``),
  not per key (``"channel_norm"``, default). Each key column then has a norm of about
  ``sqrt(D / M)``, which acts as a learned temperature (about 14 for M = 10 and 20 for N = 5 at
  D = 2048). ``"cosine"`` is the paper's wording, a plain cosine without temperature.
- Query heads: the released code only removes their last ReLU (``query_norm="none"``, default,
  ``model/resnet.py`` ``Bottleneck_key``); the supplement (section 2) replaces it with an L2
  normalisation over channels at each position (``query_norm="l2"``).
- Spatial queries: the released code reshapes the ``(BL, D, h, w)`` query map straight to
  ``(-1, D)`` without a channel permute (``memory.py`` line 22; GitHub issue #1), so each query row
  mixes channels and positions (``smem_reshape_quirk=True``, default); ``False`` forms the paper's
  per-position queries.
- Stem: the released STE-NVAN-derived ResNet has no ReLU after ``bn1`` (``resnet.py`` lines
  127-129; ``stem_relu=False``, default); ``True`` is the standard ResNet-50 the paper names.
- Keys and spatial values start from N(0, 1), temporal values from U(0, 1) (code).
- The LSTM has one layer, hidden size = feature size, zero initial state; its last output is the
  temporal query (code).
- The spread loss is computed over the whole batch (the official run split it over 3 GPUs).
- Layer4 clones: all three heads start from the same layer4 weights (ImageNet when given).
- Clips must have exactly ``seq_len`` frames: the temporal values have length L.

Checkpoints written before ``addressing`` existed were trained with the plain cosine:
:meth:`reidbench_baselines.stmn.STMNAdapter.checkpoint_config` keeps them on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reidbench.errors import InputError, describe
from reidbench_baselines.common import BNNeck, build_backbone
from reidbench_baselines.stmn.losses import memory_spread_loss

__all__ = ["ADDRESSING", "STMNConfig", "STMN", "memory_spread_loss", "channel_norm_addressing",
           "cosine_addressing"]


@dataclass(frozen=True)
class STMNConfig:
    """STMN hyper-parameters, each with its source."""

    M: int = 10  # spatial memory items (supplement Table 1; train.sh)
    N: int = 5  # temporal memory items (supplement Table 1; train.sh)
    alpha: float = 0.3  # spread-loss margin, both memories (supplement Table 2; train.sh)
    seq_len: int = 6  # L, frames per clip (supplement Table 3; train.sh --seq_len 6)
    backbone: str = "resnet50"  # paper: ResNet-50; "small" for CPU runs
    stem_relu: bool = False  # code: no ReLU after bn1 (True: the standard ResNet-50 stem)
    query_norm: str = "none"  # code: last ReLU removed ("l2": supplement section 2)
    smem_reshape_quirk: bool = True  # code: reshape without permute (False: per-position queries)
    addressing: str = "channel_norm"  # code memory.py ("cosine": the paper's plain cosine)
    width: int | None = None  # base width of the "small" CPU backbone (None: its default)
    pretrained: str | None = None  # ImageNet weights file (torchvision resnet50), loaded to train

    def __post_init__(self) -> None:
        for name in ("M", "N", "seq_len"):
            if int(getattr(self, name)) < 1:
                raise InputError(describe(name, "STMNConfig", ">= 1", getattr(self, name), ""))
        if self.query_norm not in ("l2", "none"):
            raise InputError(describe("query_norm", "STMNConfig", "'l2' or 'none'",
                                      repr(self.query_norm), ""))
        if self.addressing not in ADDRESSING:
            raise InputError(describe("addressing", "STMNConfig", f"one of {sorted(ADDRESSING)}",
                                      repr(self.addressing), ""))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the options."""
        return asdict(self)


def cosine_addressing(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """``softmax_m(cos(q, k_m))`` without temperature: ``(J, D) x (M, D) -> (J, M)``.

    The paper's wording (``addressing="cosine"``).
    """
    sim = F.normalize(queries, dim=1) @ F.normalize(keys, dim=1).t()
    return sim.softmax(dim=1)


def channel_norm_addressing(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """The official code's addressing: ``(J, D) x (M, D) -> (J, M)``.

    ``softmax_m(sum_d q_hat[j, d] K[m, d] / ||K[:, d]||)``: the query is L2-normalised over its
    ``D`` channels, the key matrix over the ``M`` items of each channel
    (``F.normalize(key.t(), dim=1)`` in ``smem_tmem/model/memory.py``), so the similarity is not
    bounded by 1 and the keys' scale acts as a learned temperature.
    """
    return (F.normalize(queries, dim=1) @ F.normalize(keys.t(), dim=1)).softmax(dim=1)


#: Memory addressing functions by :attr:`STMNConfig.addressing`.
ADDRESSING = {"channel_norm": channel_norm_addressing, "cosine": cosine_addressing}


class STMN(nn.Module):
    """The STMN network; ``forward(clips (B, L, 3, H, W)) -> dict``.

    Args:
        num_classes: Training identities (0 when only evaluating: a 1-way dummy classifier).
        cfg: Hyper-parameters.
        pretrained: Local ImageNet weights for the backbone, loaded now (:meth:`load_imagenet`);
            ``cfg.pretrained`` is not read here: the adapter loads it before training, so that
            rebuilding a trained model from its checkpoint config does not need the file.

    The output dict holds ``features`` (B, D) = ``bn_t(f)`` for retrieval; ``seq`` (B, D) = ``f``;
    ``frames`` (B, L, D) the refined frame features ``f^s_i``; ``logits_t`` (B, K) and
    ``logits_s`` (B, K) (frame logits averaged over the L frames); ``p_spatial`` (B*L*h*w, M) and
    ``p_temporal`` (B, N) the memory addressing; ``attention`` (B, L) the frame weights.
    """

    def __init__(self, num_classes: int, cfg: STMNConfig | None = None,
                 pretrained: str | Path | None = None) -> None:
        super().__init__()
        cfg = cfg or STMNConfig()
        self.cfg = cfg
        trunk = build_backbone(cfg.backbone, last_stride=1, stem_relu=cfg.stem_relu,
                               width=cfg.width)
        c3, dim = trunk.stage_channels[3], trunk.stage_channels[4]
        planes, blocks = trunk.layer4[0].conv1.out_channels, len(trunk.layer4)
        self.trunk = trunk
        self.value_head = trunk.layer4
        del trunk.layer4
        self.spatial_head = trunk.make_layer(planes, blocks, 1, inplanes=c3, final_relu=False)
        self.temporal_head = trunk.make_layer(planes, blocks, 1, inplanes=c3, final_relu=False)
        for head in (self.spatial_head, self.temporal_head):
            head.load_state_dict(self.value_head.state_dict())
            head[-1].final_relu = False
        self.spatial_keys = nn.Parameter(torch.randn(cfg.M, dim))
        self.spatial_values = nn.Parameter(torch.randn(cfg.M, dim))
        self.spatial_bn = nn.BatchNorm1d(dim)
        nn.init.zeros_(self.spatial_bn.weight)
        nn.init.zeros_(self.spatial_bn.bias)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.temporal_keys = nn.Parameter(torch.randn(cfg.N, dim))
        self.temporal_values = nn.Parameter(torch.rand(cfg.N, cfg.seq_len))
        self.neck_s = BNNeck(dim, num_classes)
        self.neck_t = BNNeck(dim, num_classes)
        self.dim = dim
        if pretrained is not None:
            self.load_imagenet(pretrained)

    def load_imagenet(self, path: str | Path) -> None:
        """Load ImageNet weights: stem and layer1-3 into the trunk, layer4 into all three heads.

        Raises:
            CheckpointError: The file cannot be read or does not match the backbone's keys.
        """
        cfg = self.cfg
        src = build_backbone(cfg.backbone, last_stride=1, pretrained=path,
                             stem_relu=cfg.stem_relu, width=cfg.width)
        layer4 = src.layer4.state_dict()
        del src.layer4
        self.trunk.load_state_dict(src.state_dict())
        for head in (self.value_head, self.spatial_head, self.temporal_head):
            head.load_state_dict(layer4)

    def _queries(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) if self.cfg.query_norm == "l2" else x

    def _check(self, clips: torch.Tensor) -> None:
        L = self.cfg.seq_len
        if clips.ndim != 5 or clips.shape[2] != 3:
            raise InputError(describe("clips", "STMN", f"(B, L={L}, 3, H, W)", tuple(clips.shape),
                                      "pass RGB clips shaped (batch, frames, 3, H, W)"))
        if clips.shape[1] != L:
            raise InputError(describe("clip length L", "STMN", f"{L} frames (the temporal "
                                      "memory values have length L)", clips.shape[1],
                                      f"sample {L} frames per clip"))
        if min(clips.shape[3:]) < 32:
            raise InputError(describe("frame size", "STMN", "H and W >= 32 (256x128 in the "
                                      "paper)", f"{clips.shape[3]}x{clips.shape[4]}",
                                      "resize the frames"))

    def read_spatial(self, queries: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Address the spatial memory: ``(J, D)`` queries -> (``p`` (J, M), read-out (J, D)).

        The read-out is the convex combination ``sum_m p(m) V^s_m`` (before the memory BN).
        """
        p = ADDRESSING[self.cfg.addressing](queries, self.spatial_keys)
        return p, p @ self.spatial_values

    def read_temporal(self, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Address the temporal memory: ``(B, D)`` -> (``p`` (B, N), frame weights ``a`` (B, L))."""
        p = ADDRESSING[self.cfg.addressing](query, self.temporal_keys)
        return p, (p @ self.temporal_values).softmax(dim=1)

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embed clips; see the class docstring for the keys."""
        self._check(clips)
        b, t = clips.shape[:2]
        x = self.trunk.stem(clips.flatten(0, 1))
        x = self.trunk.layer3(self.trunk.layer2(self.trunk.layer1(x)))
        values = self.value_head(x)  # f^o: (BL, D, h, w)
        q_s = self._queries(self.spatial_head(x))
        q_t = self._queries(self.temporal_head(x)).mean(dim=(2, 3)).view(b, t, -1)
        bl, d, h, w = values.shape
        if self.cfg.smem_reshape_quirk:
            p_s, read = self.read_spatial(q_s.reshape(-1, d))
            read = self.spatial_bn(read).view(bl, d, h, w)
        else:
            p_s, read = self.read_spatial(q_s.permute(0, 2, 3, 1).reshape(-1, d))
            read = self.spatial_bn(read).view(bl, h, w, d).permute(0, 3, 1, 2)
        frames = (values - read).mean(dim=(2, 3)).view(b, t, d)  # f^s_i
        p_t, attn = self.read_temporal(self.lstm(q_t)[0][:, -1])
        seq = (attn.unsqueeze(-1) * frames).sum(dim=1)  # f
        feat, logits_t = self.neck_t(seq)
        _, logits_s = self.neck_s(frames.flatten(0, 1))
        return {"features": feat, "seq": seq, "frames": frames, "logits_t": logits_t,
                "logits_s": logits_s.view(b, t, -1).mean(dim=1), "p_spatial": p_s,
                "p_temporal": p_t, "attention": attn}
