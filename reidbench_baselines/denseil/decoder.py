"""DenseIL's Dense Interaction (DI) decoder, PPool and STEP-Emb (He et al., ICCV 2021).

No code for DenseIL exists; this follows the supplement (Fig. 1c/1d, section 2.1). Open choices
(also on the adapter card):

* **PPool**: a horizontal pyramid over each tapped CNN map: ``g in granularities`` (default
  1, 2, 4, 8) equal horizontal strips, each average-pooled into one token (15 tokens per frame and
  scale), then ``Linear(C_s -> d)`` and ``LayerNorm(d)`` per scale.
* **STEP-Emb**: learned tables, a spatial one indexed by (scale, strip of the pyramid) and a
  temporal one indexed by the frame; their sum is added to each token "by summation"
  (supplement) before the decoder (``step_mode="input"``). ``step_mode="qk"`` adds it to queries
  and keys only (DETR style).
* **DI block** (Fig. 1c): multi-head self-attention over the current tokens, then Dense Attention
  whose keys/values are the concatenation of every earlier decoder state ``X_0 .. X_{l-1}`` and the
  PPool tokens of the intermediate CNN scales, then an FFN (``d -> 4d -> d``, GELU); each sub-layer
  residual + LayerNorm (post-LN), dropout 0.1. ``X_0`` is PPool of the last CNN stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from reidbench.errors import InputError, describe

__all__ = ["PPool", "STEPEmb", "MultiHeadAttention", "DIBlock", "DIDecoder", "pyramid_pool"]


def pyramid_pool(fmap: torch.Tensor, granularities: Sequence[int]) -> torch.Tensor:
    """Average-pool ``(M, C, H, W)`` into ``sum(granularities)`` horizontal strips ``(M, S, C)``.

    Strip ``i`` of ``g`` covers rows ``floor(i H / g)`` to ``ceil((i + 1) H / g)`` (exclusive), the
    bins of ``adaptive_avg_pool2d(fmap, (g, 1))``. When traced (``torch.jit.trace``, and
    ``torch.onnx.export``, which traces) the strips are fixed row slices: a traced graph has a
    fixed frame size, and the ONNX exporter cannot write adaptive pooling whose input height it
    cannot see (behind a reshape of a dynamic batch axis).
    """
    if not torch.jit.is_tracing():
        parts = [F.adaptive_avg_pool2d(fmap, (g, 1)).flatten(2) for g in granularities]
        return torch.cat(parts, dim=2).transpose(1, 2)
    h = int(fmap.shape[2])
    strips = [fmap[:, :, (i * h) // g:-((-(i + 1) * h) // g)].mean(dim=(2, 3))
              for g in granularities for i in range(g)]
    return torch.stack(strips, dim=1)


class PPool(nn.Module):
    """Horizontal pyramid pooling of one CNN scale and projection to the decoder width.

    Args:
        in_channels: Channels of the tapped map.
        dim: Decoder width ``d``.
        granularities: Strip counts of the pyramid.
    """

    def __init__(self, in_channels: int, dim: int, granularities: Sequence[int]) -> None:
        super().__init__()
        self.granularities = tuple(int(g) for g in granularities)
        self.proj = nn.Linear(in_channels, dim)
        self.norm = nn.LayerNorm(dim)

    @property
    def tokens(self) -> int:
        """Tokens per frame."""
        return sum(self.granularities)

    def forward(self, fmap: torch.Tensor, frames: int) -> torch.Tensor:
        """Map ``(B*T, C, H, W)`` to tokens ``(B, T, S, d)``."""
        tok = self.norm(self.proj(pyramid_pool(fmap, self.granularities)))
        return tok.reshape(-1, frames, *tok.shape[1:])


class STEPEmb(nn.Module):
    """Spatio-temporal positional embedding: learned (scale, strip) and frame tables, summed.

    Args:
        dim: Width ``d``.
        num_scales: CNN scales that feed the decoder.
        tokens_per_frame: Strips per frame and scale.
        max_frames: Largest clip length.
    """

    def __init__(self, dim: int, num_scales: int, tokens_per_frame: int, max_frames: int) -> None:
        super().__init__()
        self.max_frames = max_frames
        self.spatial = nn.Parameter(torch.zeros(num_scales, tokens_per_frame, dim))
        self.temporal = nn.Parameter(torch.zeros(max_frames, dim))
        nn.init.trunc_normal_(self.spatial, std=0.02)
        nn.init.trunc_normal_(self.temporal, std=0.02)

    def forward(self, scale: int, frames: int) -> torch.Tensor:
        """Embedding ``(T * S, d)`` of scale ``scale`` for a ``frames``-frame clip (frame-major)."""
        if frames > self.max_frames:
            raise InputError(describe("clip length", "DenseIL STEP-Emb",
                                      f"at most {self.max_frames} frames", frames,
                                      "sample shorter clips or build with a larger max_frames"))
        emb = self.temporal[:frames, None, :] + self.spatial[scale][None, :, :]
        return emb.flatten(0, 1)


class MultiHeadAttention(nn.Module):
    """Scaled dot-product multi-head attention that can return its weights.

    Args:
        dim: Width ``d``.
        heads: Number of heads (must divide ``d``).
        dropout: Dropout on the attention weights.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise InputError(describe("heads", "DenseIL attention", f"a divisor of d={dim}",
                                      heads, ""))
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(output (B, Nq, d), weights (B, heads, Nq, Nk))``."""
        b, nq, d = query.shape
        h = self.heads
        q = self.q(query).reshape(b, nq, h, d // h).transpose(1, 2)
        k = self.k(key).reshape(b, key.shape[1], h, d // h).transpose(1, 2)
        v = self.v(value).reshape(b, value.shape[1], h, d // h).transpose(1, 2)
        weights = (q @ k.transpose(-1, -2) / math.sqrt(d // h)).softmax(dim=-1)
        out = (self.drop(weights) @ v).transpose(1, 2).reshape(b, nq, d)
        return self.out(out), weights


class DIBlock(nn.Module):
    """One DI decoder block: self-attention, Dense Attention, FFN (post-LN residuals).

    Args:
        dim: Width ``d``.
        heads: Attention heads.
        dropout: Dropout rate.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(dim, heads, dropout)
        self.dense_attn = MultiHeadAttention(dim, heads, dropout)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(4 * dim, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor | None = None,
                mem_pos: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x', dense attention weights)``; ``pos``/``mem_pos`` go to queries/keys only."""
        qk = x if pos is None else x + pos
        a, _ = self.self_attn(qk, qk, x)
        x = self.norm1(x + self.drop(a))
        q = x if pos is None else x + pos
        k = memory if mem_pos is None else memory + mem_pos
        a, weights = self.dense_attn(q, k, memory)
        x = self.norm2(x + self.drop(a))
        return self.norm3(x + self.drop(self.ffn(x))), weights


class DIDecoder(nn.Module):
    """PPool every CNN scale, add STEP-Emb, and run the DI blocks.

    Args:
        in_channels: Channels of each tapped scale, deepest first (``X_0`` comes from the first).
        dim: Width ``d``.
        heads: Attention heads.
        layers: DI blocks.
        granularities: PPool strip counts.
        max_frames: Largest clip length (temporal table size).
        dropout: Dropout rate.
        step_mode: ``"input"`` (added to tokens) or ``"qk"`` (added to queries and keys).
    """

    def __init__(self, in_channels: Sequence[int], dim: int = 2048, heads: int = 8,
                 layers: int = 2, granularities: Sequence[int] = (1, 2, 4, 8),
                 max_frames: int = 8, dropout: float = 0.1, step_mode: str = "input") -> None:
        super().__init__()
        if step_mode not in ("input", "qk"):
            raise InputError(describe("step_mode", "DenseIL", "'input' or 'qk'", repr(step_mode),
                                      ""))
        self.step_mode = step_mode
        self.pools = nn.ModuleList(PPool(c, dim, granularities) for c in in_channels)
        self.step = STEPEmb(dim, len(in_channels), self.pools[0].tokens, max_frames)
        self.blocks = nn.ModuleList(DIBlock(dim, heads, dropout) for _ in range(layers))

    def forward(self, fmaps: Sequence[torch.Tensor], frames: int) -> dict[str, object]:
        """Decode tapped maps ``[(B*T, C_s, H_s, W_s)]`` (deepest first) into tokens.

        Returns:
            ``{"tokens": (B, T*S, d), "attention": [per block (B, heads, T*S, N_mem)],
            "memory_sources": [per block, (source name, token count) in key order]}``.
        """
        if len(fmaps) != len(self.pools):
            raise InputError(describe("feature maps", "DenseIL decoder",
                                      f"{len(self.pools)} scales", len(fmaps), ""))
        tokens, pos = [], []
        for s, (pool, fmap) in enumerate(zip(self.pools, fmaps, strict=True)):
            tok = pool(fmap, frames).flatten(1, 2)  # (B, T*S, d), frame-major
            emb = self.step(s, frames)[None]
            if self.step_mode == "input":
                tok = tok + emb
            tokens.append(tok)
            pos.append(emb.expand_as(tok) if self.step_mode == "qk" else None)
        x, x_pos = tokens[0], pos[0]
        states, state_pos = [x], [x_pos]
        attention, sources = [], []
        for block in self.blocks:
            mem = torch.cat(states + tokens[1:], dim=1)
            mem_pos = (torch.cat(state_pos + pos[1:], dim=1) if self.step_mode == "qk" else None)
            sources.append([(f"X{i}", st.shape[1]) for i, st in enumerate(states)]
                           + [(f"scale{s}", t.shape[1]) for s, t in enumerate(tokens) if s > 0])
            x, weights = block(x, mem, x_pos, mem_pos)
            attention.append(weights)
            states.append(x)
            state_pos.append(x_pos)
        return {"tokens": x, "attention": attention, "memory_sources": sources}
