"""COSAM: cost volume against a direct loop, the layer's equations, shapes, losses, bad input."""

from __future__ import annotations

import pytest
import torch

from reidbench.errors import InputError
from reidbench_baselines.cosam import (
    COSAM,
    COSAMConfig,
    COSAMLayer,
    cosam_loss,
    ncc_cost_volume,
    standardize_channels,
)

SMALL = dict(backbone="small", input_size=(64, 32), width=8)


def _ncc_loop(d: torch.Tensor) -> torch.Tensor:
    """The cost volume written as the definition: one scalar at a time."""
    b, t, c, h, w = d.shape
    out = torch.zeros(b, t, (t - 1) * h * w, h, w, dtype=d.dtype)
    for bi in range(b):
        for s in range(t):
            others = [u for u in range(t) if u != s]
            for j, u in enumerate(others):
                for qy in range(h):
                    for qx in range(w):
                        ch = j * h * w + qy * w + qx
                        for py in range(h):
                            for px in range(w):
                                out[bi, s, ch, py, px] = (
                                    sum(d[bi, s, k, py, px] * d[bi, u, k, qy, qx]
                                        for k in range(c)) / c)
    return out


def test_standardize_channels_hand_values():
    d = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)  # mean 2, unbiased std 1
    got = standardize_channels(d, eps=0.0)
    assert torch.allclose(got.flatten(), torch.tensor([-1.0, 0.0, 1.0]))
    got = standardize_channels(d, eps=1.0)
    assert torch.allclose(got.flatten(), torch.tensor([-0.5, 0.0, 0.5]))


def test_ncc_cost_volume_equals_direct_loop():
    torch.manual_seed(0)
    d = standardize_channels(torch.randn(2, 3, 4, 2, 3, dtype=torch.float64), eps=1e-4)
    fast = ncc_cost_volume(d)
    assert fast.shape == (2, 3, 2 * 6, 2, 3)
    assert torch.allclose(fast, _ncc_loop(d), atol=1e-12)


def test_ncc_of_identical_frames_is_near_one_at_the_same_position():
    # Standardised vectors with unbiased std: <x, x> / C = (C - 1) / C (1 - 1/C), up to eps.
    torch.manual_seed(1)
    frame = torch.randn(1, 1, 5, 2, 2)
    d = standardize_channels(frame.repeat(1, 2, 1, 1, 1), eps=0.0)
    vol = ncc_cost_volume(d)  # frame 0 against frame 1 (identical)
    diag = torch.stack([vol[0, 0, q, q // 2, q % 2] for q in range(4)])
    assert torch.allclose(diag, torch.full((4,), 4 / 5), atol=1e-5)
    assert vol.abs().max() <= 4 / 5 + 1e-5  # Cauchy-Schwarz


def test_layer_masks_and_channel_consensus():
    torch.manual_seed(2)
    layer = COSAMLayer(8, seq_len=3, feat_hw=(4, 2), reduced_channels=4).eval()
    x = torch.randn(2, 3, 8, 4, 2)
    y, mask = layer(x)
    assert y.shape == x.shape and mask.shape == (2, 3, 1, 4, 2)
    assert ((mask > 0) & (mask < 1)).all()
    # Y = X' + X' * c with X' = X * M and c the frame-averaged channel mask
    xs = x * mask
    c = torch.sigmoid(layer.channel_mlp(xs.mean(dim=(3, 4)))).mean(dim=1)
    assert torch.allclose(y, xs + xs * c[:, None, :, None, None], atol=1e-6)
    assert layer.summary[0].in_channels == 2 * 4 * 2  # (T-1) * H * W


def test_layer_ablation_halves():
    torch.manual_seed(3)
    x = torch.randn(1, 4, 8, 2, 2)
    spatial = COSAMLayer(8, 4, (2, 2), attention="spatial").eval()
    y, mask = spatial(x)
    assert torch.allclose(y, x * mask)
    channel = COSAMLayer(8, 4, (2, 2), attention="channel").eval()
    y, mask = channel(x)
    assert mask is None
    c = torch.sigmoid(channel.channel_mlp(x.mean(dim=(3, 4)))).mean(dim=1)
    assert torch.allclose(y, x * (1 + c[:, None, :, None, None]), atol=1e-6)
    assert COSAMLayer(300, 4, (2, 2)).reduced_channels == 256
    assert COSAMLayer(256, 4, (2, 2)).reduced_channels == 64


@pytest.mark.parametrize("stages", [(4, 5), (2,), (1, 3, 5), ()])
def test_small_model_shapes_for_any_stage_set(stages):
    cfg = COSAMConfig(cosam_stages=stages, **SMALL)
    model = COSAM(num_classes=7, cfg=cfg)
    out = model(torch.randn(2, 4, 3, 64, 32))
    assert out["features"].shape == (2, 64) and out["frames"].shape == (2, 4, 64)
    assert out["logits"].shape == (2, 7)
    assert sorted(k for k in out if k.startswith("mask_s")) == sorted(f"mask_s{s}"
                                                                     for s in stages)
    assert torch.allclose(out["features"], out["frames"].mean(1))  # TP_avg
    if 4 in stages:
        assert out["mask_s4"].shape == (2, 4, 4, 2)  # conv4_x map of a 64x32 input
    assert sorted(model.cosam) == [f"stage{s}" for s in sorted(stages)]


def test_loss_backward_finite_grads():
    torch.manual_seed(4)
    cfg = COSAMConfig(**SMALL)
    model = COSAM(num_classes=3, cfg=cfg)
    out = model(torch.randn(4, 4, 3, 64, 32))
    loss, parts = cosam_loss(out, torch.tensor([0, 0, 1, 1]), cfg)
    loss.backward()
    assert set(parts) == {"ce", "tri"} and loss.item() == pytest.approx(sum(parts.values()),
                                                                        rel=1e-5)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.cosam["stage4"].summary[0].weight.grad.abs().sum() > 0
    with pytest.raises(InputError, match="num_classes"):
        cosam_loss(COSAM(0, cfg)(torch.randn(2, 4, 3, 64, 32)), torch.tensor([0, 1]), cfg)


def test_full_size_se_resnet50_forward():
    model = COSAM(num_classes=0).eval()  # SE-ResNet-50, COSAM_{4,5}, T = 4 at 256x128
    with torch.no_grad():
        out = model(torch.randn(1, 4, 3, 256, 128))
    assert out["features"].shape == (1, 2048) and "logits" not in out
    assert out["mask_s4"].shape == out["mask_s5"].shape == (1, 4, 16, 8)
    assert model.cosam["stage5"].summary[0].in_channels == 3 * 16 * 8  # 384


def test_bad_input_is_one_clear_error():
    model = COSAM(num_classes=2, cfg=COSAMConfig(**SMALL))
    with pytest.raises(InputError, match="clip length T in COSAM: expected 4 frames"):
        model(torch.randn(1, 6, 3, 64, 32))
    with pytest.raises(InputError, match="frame size in COSAM: expected 64x32"):
        model(torch.randn(1, 4, 3, 128, 64))
    with pytest.raises(InputError, match="clips in COSAM"):
        model(torch.randn(4, 3, 64, 32))
    with pytest.raises(InputError, match="cosam_stages"):
        COSAMConfig(cosam_stages=(6,))
    with pytest.raises(InputError, match="attention"):
        COSAMConfig(attention="temporal")


def test_config_round_trips_through_a_dict():
    cfg = COSAMConfig(cosam_stages=[3, 4, 5], **SMALL)
    assert cfg.cosam_stages == (3, 4, 5)
    assert COSAMConfig(**cfg.to_dict()) == cfg


def test_adapter_pretrained_loads_before_training_not_when_rebuilt(tmp_path):
    from reidbench_baselines.common import BACKBONES, ResNet
    from reidbench_baselines.cosam import COSAMAdapter

    torch.manual_seed(3)
    src = ResNet(BACKBONES["small"], with_fc=True)
    torch.save(src.state_dict(), tmp_path / "small.pth")
    opts = dict(backbone="small", input_size=(64, 32))
    COSAMAdapter(num_classes=2, pretrained=str(tmp_path / "absent.pth"), **opts)  # not read
    a = COSAMAdapter(num_classes=2, pretrained=str(tmp_path / "small.pth"), **opts)
    assert a.config["pretrained"] == str(tmp_path / "small.pth")
    assert not torch.equal(a.model.backbone.conv1.weight, src.conv1.weight)
    a.train().training_loss(torch.randn(4, 4, 3, 64, 32), torch.tensor([0, 0, 1, 1]))
    own = dict(a.model.backbone.named_parameters())  # (BN running stats moved in the forward)
    for key, value in src.named_parameters():
        if not key.startswith("fc."):
            assert torch.equal(own[key].detach(), value.detach()), key


def test_card_and_recipe_follow_the_official_code():
    from reidbench_baselines.cosam import COSAMAdapter

    assert "Apache-2.0" in COSAMAdapter.card.license
    r = COSAMAdapter.recipe
    assert r.sampling == "consecutive_gao"  # Gao & Nevatia's start range [0, F-T-1]
    assert (r.translate, r.flip, r.flip_per_frame, r.erasing) == (0.5, 0.5, True, 0.0)
