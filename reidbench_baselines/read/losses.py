"""READ's losses: pair classification and the Reciprocal Attention Triplet Loss (RATL).

RATL (supplement S2, Fig. S2): each gallery video ``V`` of the mini-batch is taken in turn as the
basis; every query image ``I`` reads it, giving the attention-block feature ``F(I, V)``; a triplet
loss then pulls ``F(I_a, V)`` towards ``F(I_p, V)`` (a query image of the anchor's identity) and
away from ``F(I_n, V)`` (another identity). We mine batch-hard positives and negatives among the
query images for every (basis, anchor) with the shared batch-hard triplet (Euclidean, hard margin)
and average over the bases. Our logit-space alternative (``ratl_logit``) ranks same-identity
logits instead, anchored on images and, reciprocally, on videos.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["pair_loss", "ratl_feature", "ratl_logit"]


def pair_loss(logits: torch.Tensor, same: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Same/different classification of every valid (image, video) pair.

    Args:
        logits: ``(Q, G, out_size)`` with ``out_size`` 2 (CE) or 1 (BCE).
        same: ``(Q, G)`` bool, the pair shares an identity.
        valid: ``(Q, G)`` bool, pairs that count.
    """
    target = same[valid].long()
    chosen = logits[valid]
    if chosen.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(chosen[:, 0], target.float())
    return F.cross_entropy(chosen, target)


def ratl_feature(features: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor,
                 margin: float | None = 0.3, normalize: bool = True) -> torch.Tensor:
    """RATL on attention-block features, every gallery video of the batch as the basis.

    For each basis ``g``, the query images allowed to read it are the batch of a batch-hard
    triplet loss (Euclidean distance; anchors without a positive or a negative are left out); the
    loss is the mean over bases of the per-basis means (a basis without any anchor counts 0).

    Args:
        features: ``(Q, G, D)``: ``F(I_q, V_g)`` flattened.
        labels: ``(Q,)`` identities of the query images.
        valid: ``(Q, G)`` bool, images allowed to read basis ``g`` (not from the basis clip).
        margin: Hard margin ``[m + d_ap - d_an]_+``; ``None`` for the soft margin
            ``log(1 + exp(d_ap - d_an))``.
        normalize: L2-normalise every ``F(I_q, V_g)`` first (distances in ``[0, 2]``).
    """
    x = features.transpose(0, 1)  # (G, Q, D)
    if normalize:
        x = F.normalize(x, dim=-1)
    sq = (x * x).sum(dim=-1)
    dist = (sq[:, :, None] + sq[:, None, :] - 2.0 * x @ x.transpose(1, 2)).clamp(min=1e-12).sqrt()
    keep = valid.t()  # (G, Q)
    both = keep[:, :, None] & keep[:, None, :]
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    d_ap = dist.masked_fill(~(both & same & ~eye), float("-inf")).max(dim=-1).values
    d_an = dist.masked_fill(~(both & ~same), float("inf")).min(dim=-1).values
    ok = keep & torch.isfinite(d_ap) & torch.isfinite(d_an)
    gap = torch.where(ok, d_ap - d_an, torch.zeros_like(d_ap))
    hinge = F.softplus(gap) if margin is None else F.relu(margin + gap)
    per_basis = (hinge * ok).sum(dim=1) / ok.sum(dim=1).clamp(min=1)
    return per_basis.mean()


def ratl_logit(same_logit: torch.Tensor, same: torch.Tensor, valid: torch.Tensor,
               margin: float = 1.0) -> torch.Tensor:
    """Logit-space alternative: image-anchored and video-anchored batch-hard hinge on logits.

    Args:
        same_logit: ``(Q, G)`` "same identity" logits.
        same: ``(Q, G)`` bool, the pair shares an identity.
        valid: ``(Q, G)`` bool, pairs that count.
        margin: Hinge margin in logit units.
    """
    pos = same & valid
    neg = ~same & valid
    terms = []
    for dim in (1, 0):  # image-anchored (over videos), then video-anchored (over images)
        hard_pos = same_logit.masked_fill(~pos, float("inf")).min(dim=dim).values
        hard_neg = same_logit.masked_fill(~neg, float("-inf")).max(dim=dim).values
        ok = torch.isfinite(hard_pos) & torch.isfinite(hard_neg)
        if ok.any():
            terms.append(F.relu(margin - hard_pos[ok] + hard_neg[ok]).mean())
    return torch.stack(terms).mean() if terms else same_logit.sum() * 0.0
