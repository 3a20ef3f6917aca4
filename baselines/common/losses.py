"""Losses shared by the baselines: batch-hard triplet (hard / soft margin), label-smoothed CE."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["pairwise_euclidean", "batch_hard_triplet", "label_smoothed_ce"]


def pairwise_euclidean(x: torch.Tensor) -> torch.Tensor:
    """``(B, B)`` Euclidean distances, ``sqrt(max(d^2, 1e-12))`` (differentiable at 0)."""
    sq = (x * x).sum(dim=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * x @ x.t()
    return d2.clamp(min=1e-12).sqrt()


def batch_hard_triplet(features: torch.Tensor, labels: torch.Tensor,
                       margin: float | None = 0.3) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017).

    For each anchor: d_ap = max distance to a same-label sample (not itself), d_an = min distance
    to another label. ``margin`` given: mean [m + d_ap - d_an]_+ (hard margin, COSAM); ``None``:
    mean log(1 + exp(d_ap - d_an)) (soft margin, STMN).
    """
    dist = pairwise_euclidean(features)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    d_ap = dist.masked_fill(~same | eye, float("-inf")).max(dim=1).values
    d_an = dist.masked_fill(same, float("inf")).min(dim=1).values
    valid = torch.isfinite(d_ap) & torch.isfinite(d_an)
    if not valid.any():
        return features.sum() * 0.0
    gap = d_ap[valid] - d_an[valid]
    if margin is None:
        return F.softplus(gap).mean()
    return F.relu(margin + gap).mean()


def label_smoothed_ce(logits: torch.Tensor, labels: torch.Tensor,
                      epsilon: float = 0.1) -> torch.Tensor:
    """Cross-entropy against ``(1 - eps) * onehot + eps / K`` (Szegedy et al.), batch mean."""
    logp = F.log_softmax(logits, dim=1)
    k = logits.shape[1]
    target = torch.full_like(logp, epsilon / k)
    target.scatter_(1, labels[:, None], 1.0 - epsilon + epsilon / k)
    return -(target * logp).sum(dim=1).mean()
