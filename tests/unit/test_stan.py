"""STAN (Li et al. CVPR 2018): equations on tiny inputs, shapes, losses, checkpoint round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reidbench.adapters import get_adapter, load_checkpoint, save_checkpoint
from reidbench.errors import CheckpointError, InputError
from reidbench.protocols import Procedure
from reidbench_baselines.stan import (
    FeatureEnhancement,
    OIMLoss,
    SpatialAttention,
    STANAdapter,
    TemporalAttention,
    diversity_regularizer,
    temporal_similarity,
)

PAPER = "paper_sq_per_frame"


def _softmax_rows(m: np.ndarray) -> np.ndarray:
    e = np.exp(m - m.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_temporal_similarity_by_hand() -> None:
    w = torch.tensor([[1.0, 2.0, 0.0], [0.5, 1.0, 1.0], [0.0, 0.0, 3.0]])
    b = torch.tensor([0.1, 0.2, 0.3])
    psi = temporal_similarity(w, b, sigma=2.0).numpy()
    e = math.exp
    expected = np.array([[1 * 1 + 0.1, 2 * e(-0.5) + 0.2, 0 + 0.3],
                         [0.5 * e(-0.5) + 0.1, 1 + 0.2, 1 * e(-0.5) + 0.3],
                         [0.0 + 0.1, 0.0 + 0.2, 3.0 + 0.3]])
    np.testing.assert_allclose(psi, expected, rtol=1e-6)
    decay = np.exp(-np.abs(np.subtract.outer(np.arange(3), np.arange(3))) / 2.0)
    np.testing.assert_allclose(temporal_similarity(w, b, 2.0, "matmul").numpy(),
                               w.numpy() @ decay + b.numpy()[None, :], rtol=1e-6)


def _direct_enhancement(x: np.ndarray, w: np.ndarray, b: np.ndarray, sigma: float,
                        fw: np.ndarray, fb: np.ndarray, orientation: str) -> tuple:
    """Equations 1-4 for one clip, one part at a time, with explicit loops."""
    n, k, d = x.shape
    out = np.zeros_like(x)
    coefs = []
    for part in range(k):
        xk = x[:, part, :].T  # D x N, columns are frames
        phi = xk.T @ xk  # (1)
        psi = np.array([[w[i, j] * math.exp(-abs(i - j) / sigma) + b[j] for j in range(n)]
                        for i in range(n)])  # (2)
        c = _softmax_rows(phi + psi)  # (3)
        coefs.append(c)
        for i in range(n):
            if orientation == "rows":
                pooled = sum(c[i, j] * xk[:, j] for j in range(n))
            else:
                pooled = (xk @ c)[:, i]
            out[i, part] = fw @ pooled + fb + xk[:, i]  # (4)
    return out, np.stack(coefs)


@pytest.mark.parametrize("orientation", ["rows", "eq4_literal"])
def test_enhancement_equals_equations_1_to_4(orientation: str) -> None:
    torch.manual_seed(0)
    enh = FeatureEnhancement(dim=3, num_frames=4, sigma=1.5, orientation=orientation)
    with torch.no_grad():
        enh.weight.copy_(torch.randn(4, 4))
        enh.bias.copy_(torch.randn(4))
    x = torch.randn(2, 4, 2, 3)  # B, N, K, D
    out, coef = enh(x)
    sums = coef.sum(dim=-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))
    for clip in range(2):
        exp_out, exp_coef = _direct_enhancement(
            x[clip].double().numpy(), enh.weight.detach().double().numpy(),
            enh.bias.detach().double().numpy(), 1.5, enh.fcn.weight.detach().double().numpy(),
            enh.fcn.bias.detach().double().numpy(), orientation)
        np.testing.assert_allclose(coef[clip].detach().numpy(), exp_coef, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out[clip].detach().numpy(), exp_out, rtol=1e-5, atol=1e-5)


def test_enhancement_rejects_other_clip_lengths() -> None:
    with pytest.raises(InputError, match="6 frames"):
        FeatureEnhancement(dim=3, num_frames=6)(torch.randn(1, 4, 2, 3))


def test_diversity_zero_for_disjoint_and_maximal_for_identical() -> None:
    disjoint = torch.zeros(2, 3, 6)
    for k in range(3):
        disjoint[:, k, 2 * k:2 * k + 2] = 0.5
    assert diversity_regularizer(disjoint, PAPER).item() == pytest.approx(0.0, abs=1e-7)
    identical = torch.full((2, 3, 6), 1 / 6)
    assert diversity_regularizer(identical, PAPER).item() == pytest.approx(3 * 2, rel=1e-6)
    # code form: sqrt of the sum over every frame of the batch
    assert diversity_regularizer(identical, "code_batch_norm").item() == pytest.approx(
        math.sqrt(2 * 3 * 2 + 1e-5), rel=1e-6)
    assert diversity_regularizer(disjoint, "code_batch_norm").item() == pytest.approx(
        math.sqrt(1e-5), rel=1e-4)  # trainers.py: sqrt(sum + 1e-5)
    assert get_adapter("stan", backbone="small").cfg.diversity_variant == "code_batch_norm"
    rng = torch.Generator().manual_seed(1)
    random_maps = torch.rand(2, 3, 6, generator=rng).softmax(-1)
    val = diversity_regularizer(random_maps, PAPER).item()
    assert 0.0 < val < 6.0
    with pytest.raises(InputError, match="diversity_variant"):
        diversity_regularizer(identical, "kl")


def test_diversity_partial_overlap_by_hand() -> None:
    # two maps over 2 cells: (1, 0) and (0.5, 0.5): Bhattacharyya coefficient sqrt(0.5)
    maps = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    assert diversity_regularizer(maps, PAPER).item() == pytest.approx(2 * 0.5, rel=1e-6)


def test_spatial_attention_maps_and_parts() -> None:
    torch.manual_seed(0)
    for per_model in (False, True):
        att = SpatialAttention(in_channels=5, num_maps=3, hidden=4, per_model_hidden=per_model)
        att.eval()
        fmap = torch.randn(2, 5, 4, 2)
        maps, parts = att(fmap)
        assert maps.shape == (2, 3, 8) and parts.shape == (2, 3, 5)
        torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3))
        direct = torch.stack([torch.stack([(maps[m, k][None, :] * fmap[m].flatten(1)).sum(1)
                                           for k in range(3)]) for m in range(2)])
        torch.testing.assert_close(parts, direct)


def test_temporal_attention_by_hand() -> None:
    ta = TemporalAttention(dim=2, num_parts=1)
    with torch.no_grad():
        ta.weight.copy_(torch.tensor([[1.0, 0.0]]))
        ta.bias.zero_()
    x = torch.tensor([[[[0.0, 5.0]], [[math.log(3.0), -1.0]]]])  # B=1, N=2, K=1, D=2
    pooled, weights = ta(x)
    torch.testing.assert_close(weights[0, :, 0], torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(pooled[0, 0], 0.25 * x[0, 0, 0] + 0.75 * x[0, 1, 0])


def test_oim_lut_update_and_gradient() -> None:
    oim = OIMLoss(dim=2, num_classes=2, scalar=1.0, momentum=0.5)
    with torch.no_grad():
        oim.lut.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    feats = torch.tensor([[0.0, 2.0]], requires_grad=True)
    loss = oim(feats, torch.tensor([0]))
    expected = -math.log(math.exp(0.0) / (math.exp(0.0) + math.exp(1.0)))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
    s = 1 / math.sqrt(2)
    torch.testing.assert_close(oim.lut[0], torch.tensor([s, s]))
    torch.testing.assert_close(oim.lut[1], torch.tensor([0.0, 1.0]))


@pytest.fixture(scope="module")
def small() -> STANAdapter:
    torch.manual_seed(0)
    return STANAdapter(num_classes=4, backbone="small")


def test_small_backbone_shapes(small: STANAdapter) -> None:
    small.eval()
    out = small.model(torch.randn(2, 6, 3, 64, 32))
    assert out["features"].shape == (2, 6 * 128)
    assert out["maps"].shape == (12, 6, 2 * 1)  # 64 x 32 at stride 32: 2 x 1 cells
    assert out["coefficients"].shape == (2, 6, 6, 6)
    assert out["temporal"].shape == (2, 6, 6)
    torch.testing.assert_close(out["temporal"].sum(1), torch.ones(2, 6))


def test_wrong_clip_length_is_a_clear_error(small: STANAdapter) -> None:
    with pytest.raises(InputError, match="seq_len=6") as err:
        small.embed_clips(torch.randn(1, 4, 3, 64, 32))
    message = str(err.value)
    assert "--seq-len 6" in message and "seq_len=4" in message and "\n" not in message
    assert '{"seq_len": 4}' in message


def test_training_clip_length_follows_the_model_option() -> None:
    assert STANAdapter(backbone="small").recipe.seq_len == 6
    ad = STANAdapter(num_classes=2, backbone="small", seq_len=4)
    assert ad.recipe.seq_len == 4 and STANAdapter.recipe.seq_len == 6
    assert ad.procedure(Procedure(sampling="all_clips", seq_len=8)).seq_len == 4
    loss, _ = ad.train().training_loss(torch.randn(4, 4, 3, 64, 32), torch.tensor([0, 0, 1, 1]))
    assert math.isfinite(loss.item())


def test_diversity_floor_with_more_maps_than_cells() -> None:
    # K = 6 maps over L = 2 cells (64 x 32 frames): three identical one-cell maps per cell is the
    # best split, sum_l g_l (g_l - 1) = 3 * 2 + 3 * 2 = 12 of the maximum 6 * 5 = 30
    grouped = torch.zeros(1, 6, 2)
    grouped[0, :3, 0] = 1.0
    grouped[0, 3:, 1] = 1.0
    assert diversity_regularizer(grouped, PAPER).item() == pytest.approx(12.0, abs=1e-6)
    rng = torch.Generator().manual_seed(0)
    for _ in range(20):
        maps = (3 * torch.randn(4, 6, 2, generator=rng)).softmax(-1)
        assert diversity_regularizer(maps, PAPER).item() > 12.0 - 1e-6


@pytest.mark.parametrize("id_loss", ["oim", "ce_triplet"])
def test_losses_are_differentiable(id_loss: str) -> None:
    torch.manual_seed(0)
    ad = STANAdapter(num_classes=3, backbone="small", id_loss=id_loss).train()
    loss, logs = ad.training_loss(torch.randn(4, 6, 3, 64, 32), torch.tensor([0, 0, 2, 2]))
    loss.backward()
    assert "diversity" in logs and math.isfinite(loss.item())
    grads = [p.grad for p in ad.model.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert ad.model.spatial.hidden[0].weight.grad.abs().sum() > 0
    assert ad.model.enhance.weight.grad is not None


def test_full_backbone_paper_input_shapes() -> None:
    torch.manual_seed(0)
    ad = STANAdapter(num_classes=0).eval()
    with torch.inference_mode():
        out = ad.model(torch.randn(1, 6, 3, 256, 128))
    assert out["features"].shape == (1, 768)
    assert out["maps"].shape == (6, 6, 32)  # K = 6 maps over the 8 x 4 grid
    assert out["parts"].shape == (1, 6, 6, 128)


def test_checkpoint_round_trip(tmp_path, small: STANAdapter) -> None:
    small.eval()
    clips = torch.randn(2, 6, 3, 64, 32)
    before = small.embed_clips(clips)
    path = tmp_path / "stan.safetensors"
    save_checkpoint(path, small.model.state_dict(), {"baseline": "stan", "config": small.config})
    meta = load_checkpoint(path).meta
    again = get_adapter("stan", **meta["config"])
    again.load_checkpoint(str(path))
    torch.testing.assert_close(again.eval().embed_clips(clips), before)
    other = STANAdapter(num_classes=4, backbone="small", num_maps=3)
    with pytest.raises(CheckpointError, match="stan"):
        other.load_checkpoint(str(path))


def test_procedure_and_card(small: STANAdapter) -> None:
    proc = small.procedure(Procedure(sampling="all_clips", seq_len=4))
    assert (proc.sampling, proc.seq_len, proc.distance) == ("rrs", 6, "cosine")
    assert small.card.name == "stan" and "K" in small.card.defaults
    assert small.config["num_maps"] == 6 and small.config["backbone"] == "small"


def test_pretrained_loads_in_prepare_training_before_any_resumed_state(tmp_path):
    """The training loop calls prepare_training, then restores a resumed run's weights: ImageNet
    weights must be loaded there (not lazily at the first loss, which would overwrite them)."""
    from reidbench_baselines.common.resnet import BACKBONES, ResNet

    torch.manual_seed(5)
    src = ResNet(BACKBONES["small"], with_fc=True)
    torch.save(src.state_dict(), tmp_path / "small.pth")
    ad = STANAdapter(num_classes=4, backbone="small", pretrained=str(tmp_path / "small.pth"))
    ad.prepare_training()
    resumed = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v
               for k, v in ad.model.state_dict().items()}
    ad.model.load_state_dict(resumed)
    ad.train().training_loss(torch.randn(4, 6, 3, 64, 32), torch.tensor([0, 0, 1, 1]))
    for k, v in ad.model.backbone.state_dict().items():  # not the OIM table, updated by the loss
        if v.is_floating_point() and "running" not in k:
            assert torch.all(v == 0.5), k
