"""STMN: Spatial and Temporal Memory Networks (Eom, Lee, Lee, Ham; ICCV 2021).

A shared ResNet trunk (stem, layer1-3; STMN's stem has no ReLU) feeds three independent stride-1
copies of layer4: the value head (frame features f^o), the spatial-query head (per-position queries)
and the temporal-query head (GAP, then an LSTM over the L frames). The spatial memory (M key/value
items) is read per position by softmax over cosine similarities and its BN'd read-out is
*subtracted* from the value map (the BN starts at gamma = beta = 0, so the memory starts as a no-op);
the temporal memory (N items whose values are attention vectors over the L frames) gives the frame
weights of the sequence feature. BNNeck heads on every frame feature and on the sequence feature.

Choices the paper and code leave open, and what this implementation does:
- Query heads: the supplement (section 2) replaces their last ReLU with an L2 normalisation
  (``query_norm="l2"``, default); the released code only removes it (``query_norm="none"``).
- Spatial queries are per-position feature vectors (the paper's semantics); the code's reshape
  without a channel permute (GitHub issue #1) is not reproduced.
- The spread loss is computed over the whole batch (the official run split it over 3 GPUs).
- Layer4 clones: each head starts from the same layer4 initialisation (ImageNet when given).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.common import BNNeck, build_backbone

__all__ = ["STMNConfig", "STMN", "memory_spread_loss", "cosine_addressing"]


@dataclass(frozen=True)
class STMNConfig:
    """STMN hyper-parameters; defaults from the seed supplement (sources inline)."""

    M: int = 10  # spatial memory items (supplement Table 1)
    N: int = 5  # temporal memory items (supplement Table 1)
    alpha: float = 0.3  # spread-loss margin (supplement Table 2)
    seq_len: int = 6  # L, frames per clip (supplement Table 3; train.sh --seq_len 6)
    backbone: str = "resnet50"  # paper: ResNet-50; "small" for CPU runs
    stem_relu: bool = False  # STE-NVAN/STMN stem: conv1 -> bn1 -> maxpool (code)
    query_norm: str = "l2"  # supplement section 2 ("none" = released code)

    def to_dict(self) -> dict:
        """Plain dict of the options."""
        return asdict(self)


def cosine_addressing(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """``softmax_m(cos(q, k_m))`` without temperature: ``(J, D) x (M, D) -> (J, M)``."""
    sim = F.normalize(queries, dim=1) @ F.normalize(keys, dim=1).t()
    return sim.softmax(dim=1)


def memory_spread_loss(p: torch.Tensor, alpha: float) -> torch.Tensor:
    """``mean_m [alpha - (max_j p_j(m) - min_j p_j(m))]_+`` over the batch's queries ``j``."""
    return F.relu(alpha - (p.max(dim=0).values - p.min(dim=0).values)).mean()


class STMN(nn.Module):
    """The STMN network; ``forward(clips (B, L, 3, H, W)) -> dict``.

    Args:
        num_classes: Training identities (0 when only evaluating).
        cfg: Hyper-parameters.
    """

    def __init__(self, num_classes: int, cfg: STMNConfig = STMNConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        trunk = build_backbone(cfg.backbone, last_stride=1, stem_relu=cfg.stem_relu)
        spec = trunk.spec
        c3, dim = spec.channels[2], spec.channels[3]
        self.trunk = trunk
        self.value_head = trunk.layer4
        del trunk.layer4
        self.spatial_head = trunk.make_layer(spec.widths[3], spec.layers[3], 1, inplanes=c3,
                                             final_relu=False)
        self.temporal_head = trunk.make_layer(spec.widths[3], spec.layers[3], 1, inplanes=c3,
                                              final_relu=False)
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

    def _queries(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) if self.cfg.query_norm == "l2" else x

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return features (``bn_t(f)``), pre-BN features, logits and memory addressing."""
        from reidbench.errors import InputError, describe

        if clips.ndim != 5 or clips.shape[1] != self.cfg.seq_len:
            raise InputError(describe("clips", "STMN", f"(B, L={self.cfg.seq_len}, 3, H, W) (the "
                                      "temporal memory values have length L)",
                                      tuple(clips.shape), f"sample {self.cfg.seq_len} frames"))
        b, t = clips.shape[:2]
        x = self.trunk.stem(clips.flatten(0, 1))
        x = self.trunk.layer3(self.trunk.layer2(self.trunk.layer1(x)))
        values = self.value_head(x)  # (BL, D, h, w)
        q_s = self._queries(self.spatial_head(x))
        q_t = self._queries(self.temporal_head(x)).mean(dim=(2, 3)).view(b, t, -1)
        bl, d, h, w = values.shape
        p_s = cosine_addressing(q_s.permute(0, 2, 3, 1).reshape(-1, d), self.spatial_keys)
        read = self.spatial_bn(p_s @ self.spatial_values)  # (BLhw, D)
        refined = values - read.view(bl, h, w, d).permute(0, 3, 1, 2)
        frames = refined.mean(dim=(2, 3)).view(b, t, d)  # f^s_i
        q_seq = self.lstm(q_t)[0][:, -1]  # last LSTM output
        p_t = cosine_addressing(q_seq, self.temporal_keys)  # (B, N)
        attn = (p_t @ self.temporal_values).softmax(dim=1)  # (B, L)
        seq = (attn.unsqueeze(-1) * frames).sum(dim=1)  # f
        feat, logits_t = self.neck_t(seq)
        _, logits_s = self.neck_s(frames.flatten(0, 1))
        return {"features": feat, "seq": seq, "frames": frames, "logits_t": logits_t,
                "logits_s": logits_s.view(b, t, -1).mean(dim=1), "p_spatial": p_s,
                "p_temporal": p_t, "attention": attn}
