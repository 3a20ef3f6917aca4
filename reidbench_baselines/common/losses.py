"""Losses shared by the baselines: batch-hard triplet (hard / soft margin), label-smoothed CE."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reidbench.errors import InputError, describe

__all__ = ["pairwise_euclidean", "batch_hard_triplet", "label_smoothed_ce"]


def _check_batch(x: torch.Tensor, labels: torch.Tensor, where: str, x_name: str) -> None:
    if x.ndim != 2:
        raise InputError(describe(x_name, where, "a 2-D (B, D) tensor", tuple(x.shape), ""))
    if labels.ndim != 1 or labels.shape[0] != x.shape[0]:
        raise InputError(describe("labels", where, f"a 1-D tensor of {x.shape[0]} labels",
                                  tuple(labels.shape), "pass one label per row"))


def pairwise_euclidean(x: torch.Tensor) -> torch.Tensor:
    """``(B, B)`` Euclidean distances, ``sqrt(max(d^2, 1e-12))`` (differentiable at 0)."""
    sq = (x * x).sum(dim=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * x @ x.t()
    return d2.clamp(min=1e-12).sqrt()


def batch_hard_triplet(features: torch.Tensor, labels: torch.Tensor,
                       margin: float | None = 0.3) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans, Beyer, Leibe 2017).

    For each anchor ``a``: ``d_ap = max_p D(a, p)`` over the other samples with its label and
    ``d_an = min_n D(a, n)`` over samples with another label (``D`` from
    :func:`pairwise_euclidean`). Anchors lacking a positive or a negative are left out of the mean.

    Args:
        features: ``(B, D)`` embeddings.
        labels: ``(B,)`` identity labels.
        margin: ``m`` for the hard margin ``mean [m + d_ap - d_an]_+`` (COSAM, m = 0.3); ``None``
            for the soft margin ``mean log(1 + exp(d_ap - d_an))`` (STMN).

    Returns:
        The scalar loss (0, still attached to the graph, when no anchor has both a positive and a
        negative).

    Raises:
        InputError: On mismatched shapes or a negative margin.
    """
    _check_batch(features, labels, "batch_hard_triplet", "features")
    if margin is not None and margin < 0:
        raise InputError(describe("margin", "batch_hard_triplet", ">= 0 or None (soft margin)",
                                  margin, ""))
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
    """Cross-entropy against ``q = (1 - eps) * onehot(y) + eps / K`` (Szegedy et al. 2016).

    Args:
        logits: ``(B, K)`` class scores.
        labels: ``(B,)`` integer labels in ``[0, K)``.
        epsilon: Smoothing ``eps`` in ``[0, 1)``; 0 gives plain cross-entropy.

    Returns:
        ``mean_b -sum_k q_k log softmax(z_b)_k``.

    Raises:
        InputError: On mismatched shapes, labels out of range or ``eps`` outside ``[0, 1)``.
    """
    _check_batch(logits, labels, "label_smoothed_ce", "logits")
    k = logits.shape[1]
    if not 0.0 <= epsilon < 1.0:
        raise InputError(describe("epsilon", "label_smoothed_ce", "a value in [0, 1)", epsilon, ""))
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= k):
        raise InputError(describe("labels", "label_smoothed_ce", f"integers in [0, {k})",
                                  f"range [{int(labels.min())}, {int(labels.max())}]",
                                  "map identities to contiguous training labels"))
    logp = F.log_softmax(logits, dim=1)
    target = torch.full_like(logp, epsilon / k)
    target.scatter_(1, labels[:, None], 1.0 - epsilon + epsilon / k)
    return -(target * logp).sum(dim=1).mean()
