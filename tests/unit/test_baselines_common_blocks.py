"""Shared blocks: triplet and label-smoothed CE on hand-computed batches, non-local, BNNeck."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reidbench.errors import InputError
from reidbench_baselines.common import (
    BNNeck,
    NonLocalBlock,
    batch_hard_triplet,
    label_smoothed_ce,
    pairwise_euclidean,
)

# 1-D points 0, 2 (id 0) and 1, 4 (id 1). By hand:
#   anchor 0: d_ap = 2, d_an = min(1, 4) = 1     -> gap 1
#   anchor 2: d_ap = 2, d_an = min(1, 2) = 1     -> gap 1
#   anchor 1: d_ap = 3, d_an = min(1, 1) = 1     -> gap 2
#   anchor 4: d_ap = 3, d_an = min(4, 2) = 2     -> gap 1
X = torch.tensor([[0.0], [2.0], [1.0], [4.0]])
Y = torch.tensor([0, 0, 1, 1])


def test_pairwise_euclidean_hand_values():
    d = pairwise_euclidean(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
    assert torch.allclose(d, torch.tensor([[1e-6, 5.0], [5.0, 1e-6]]))


def test_triplet_hard_margin_hand_computed():
    loss = batch_hard_triplet(X, Y, margin=0.3)
    assert loss.item() == pytest.approx((1.3 + 1.3 + 2.3 + 1.3) / 4)


def test_triplet_soft_margin_hand_computed():
    loss = batch_hard_triplet(X, Y, margin=None)
    want = (3 * math.log1p(math.e) + math.log1p(math.e**2)) / 4
    assert loss.item() == pytest.approx(want)


def test_triplet_large_margin_and_anchor_without_positive():
    # margin 0 and well separated ids -> 0
    sep = torch.tensor([[0.0], [0.1], [5.0], [5.2]])
    assert batch_hard_triplet(sep, Y, margin=0.0).item() == 0.0
    # id 2 has one sample: that anchor is left out; the others as in the 4-point case
    x = torch.cat([X, torch.tensor([[10.0]])])
    y = torch.cat([Y, torch.tensor([2])])
    # anchor 4 (id 1) now still has d_an = 2; anchor at 10 excluded
    assert batch_hard_triplet(x, y, margin=0.3).item() == pytest.approx(6.2 / 4)


def test_triplet_is_differentiable_and_validates():
    x = X.clone().requires_grad_(True)
    batch_hard_triplet(x, Y, margin=None).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    same = torch.zeros(3, 2, requires_grad=True)
    loss = batch_hard_triplet(same, torch.zeros(3, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0
    with pytest.raises(InputError, match="labels"):
        batch_hard_triplet(X, Y[:3])
    with pytest.raises(InputError, match="margin"):
        batch_hard_triplet(X, Y, margin=-1.0)


def test_label_smoothed_ce_hand_computed():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([0, 2])
    z = math.exp(2) + 1 + math.exp(-1)
    logp0 = [2 - math.log(z), -math.log(z), -1 - math.log(z)]
    q0 = [0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3]
    row0 = -sum(q * lp for q, lp in zip(q0, logp0, strict=True))
    row1 = math.log(3)  # uniform logits: -sum q log(1/3) = log 3 for any q
    assert label_smoothed_ce(logits, labels).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    assert label_smoothed_ce(logits, labels, epsilon=0.0).item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6)


def test_label_smoothed_ce_validates():
    with pytest.raises(InputError, match=r"integers in \[0, 3\)"):
        label_smoothed_ce(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(InputError, match="epsilon"):
        label_smoothed_ce(torch.zeros(2, 3), torch.tensor([0, 1]), epsilon=1.0)
    with pytest.raises(InputError, match="logits"):
        label_smoothed_ce(torch.zeros(3), torch.tensor([0, 1, 2]))


def test_non_local_is_identity_at_init_and_attends_over_the_clip():
    torch.manual_seed(0)
    block = NonLocalBlock(8).eval()
    x = torch.randn(2, 8, 3, 4, 2)
    assert torch.equal(block(x), x)
    a = block.attention(x)
    assert a.shape == (2, 24, 24)  # N = T*H*W = 3*4*2: space and time jointly
    assert torch.allclose(a.sum(-1), torch.ones(2, 24))
    with torch.no_grad():
        block.W[1].weight.fill_(1.0)
    assert not torch.allclose(block(x), x)


def test_non_local_sub_sample_and_bad_input():
    block = NonLocalBlock(8, sub_sample=True)
    x = torch.randn(1, 8, 2, 4, 4)
    assert block.attention(x).shape == (1, 32, 8)
    assert block(x).shape == x.shape
    with pytest.raises(InputError, match=r"\(B, C, T, H, W\)"):
        block(torch.randn(2, 8, 4, 4))


def test_bnneck_shapes_and_frozen_bias():
    neck = BNNeck(6, num_classes=4)
    f_t = torch.randn(5, 6) * 3 + 2
    f_i, logits = neck(f_t)
    assert f_i.shape == (5, 6) and logits.shape == (5, 4)
    assert not neck.bn.bias.requires_grad and neck.bn.weight.requires_grad
    assert neck.classifier.bias is None
    # train-mode BN with gamma 1, beta 0: per-dimension zero mean
    assert torch.allclose(f_i.mean(0), torch.zeros(6), atol=1e-5)
    assert neck.classifier.weight.std().item() < 0.01
