"""STMN: memories (convex read-outs, per-position queries), spread loss, shapes, losses, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reidbench.errors import InputError
from reidbench_baselines.common import BACKBONES, ResNet
from reidbench_baselines.stmn import (
    STMN,
    STMNAdapter,
    STMNConfig,
    channel_norm_addressing,
    cosine_addressing,
    memory_spread_loss,
    stmn_loss,
)

SMALL = dict(backbone="small", width=8)
CLIP = (2, 6, 3, 64, 32)


def _model(**kw) -> STMN:
    torch.manual_seed(0)
    return STMN(num_classes=3, cfg=STMNConfig(**(SMALL | kw)))


def test_cosine_addressing_hand_values():
    p = cosine_addressing(torch.tensor([[3.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    e = math.e
    assert torch.allclose(p, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))


def test_channel_norm_addressing_hand_values():
    # keys [[1, 1], [1, 0]]: channel norms sqrt(2) and 1, so K~ = [[1/sqrt2, 1], [1/sqrt2, 0]];
    # the query [0, 2] normalises to [0, 1]: similarities 1 and 0 (a plain cosine gives 0.707, 0)
    keys = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    p = channel_norm_addressing(torch.tensor([[0.0, 2.0]]), keys)
    e = math.e
    assert torch.allclose(p, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))
    c = math.exp(1 / math.sqrt(2))
    assert torch.allclose(cosine_addressing(torch.tensor([[0.0, 2.0]]), keys),
                          torch.tensor([[c / (c + 1), 1 / (c + 1)]]))


def test_channel_norm_addressing_equals_the_direct_sum():
    torch.manual_seed(3)
    q, keys = torch.randn(5, 7), torch.randn(4, 7)
    want = torch.empty(5, 4, dtype=torch.float64)
    for j in range(5):
        qn = math.sqrt(sum(float(q[j, d]) ** 2 for d in range(7)))
        for m in range(4):
            want[j, m] = sum(float(q[j, d]) / qn * float(keys[m, d])
                             / math.sqrt(sum(float(keys[i, d]) ** 2 for i in range(4)))
                             for d in range(7))
    assert torch.allclose(channel_norm_addressing(q, keys).double(), want.softmax(dim=1),
                          atol=1e-6)


def test_channel_norm_acts_as_a_temperature_of_sqrt_d_over_m():
    torch.manual_seed(0)
    for m, want in ((10, 14.3), (5, 20.2)):
        keys = torch.randn(m, 2048)
        norms = torch.nn.functional.normalize(keys.t(), dim=1).t().norm(dim=1)
        assert norms.mean().item() == pytest.approx(want, rel=0.05)


def test_defaults_are_the_official_code():
    cfg = STMNConfig()
    assert (cfg.addressing, cfg.query_norm, cfg.smem_reshape_quirk, cfg.stem_relu) == (
        "channel_norm", "none", True, False)
    model = _model().eval()
    x = torch.randn(1, 6, 3, 64, 32)
    with torch.no_grad():
        out = model(x)
        trunk = model.trunk
        h = trunk.layer3(trunk.layer2(trunk.layer1(trunk.stem(x.flatten(0, 1)))))
        q = model.spatial_head(h)  # no normalisation layer, reshaped without a permute
    assert torch.allclose(out["p_spatial"], channel_norm_addressing(q.reshape(-1, q.shape[1]),
                                                                    model.spatial_keys),
                          atol=1e-6)
    with pytest.raises(InputError, match="addressing"):
        STMNConfig(addressing="dot")


def test_procedure_is_the_code_test_all_with_cosine_distance():
    from reidbench.protocols import Procedure

    proc = STMNAdapter(backbone="small").procedure(Procedure())
    assert (proc.sampling, proc.seq_len, proc.flip, proc.distance) == (
        "interleaved", 6, True, "cosine")


def test_checkpoints_written_before_addressing_keep_the_cosine(tmp_path):
    from reidbench.adapters import save_checkpoint
    from reidbench.engine.sources import AdapterSource
    from reidbench.protocols import get_protocol

    old = {"num_classes": 2, **STMNConfig(backbone="small", width=8).to_dict()}
    del old["addressing"]
    assert STMNAdapter.checkpoint_config(old)["addressing"] == "cosine"
    assert STMNAdapter.checkpoint_config({**old, "addressing": "channel_norm"}) == {
        **old, "addressing": "channel_norm"}
    assert STMNAdapter.checkpoint_config({}) == {}
    model = STMNAdapter(**old).model
    save_checkpoint(tmp_path / "old.safetensors", model.state_dict(),
                    {"baseline": "stmn", "config": old})
    source = AdapterSource("stmn", str(tmp_path / "old.safetensors"))
    prepared = source.prepare(get_protocol("mars/v2v@1"), ["official"])
    assert prepared.build("official").cfg.addressing == "cosine"


def test_spread_loss_zero_for_balanced_usage_alpha_for_uniform():
    one_hot = torch.eye(4).repeat(3, 1)  # every item is someone's only choice
    assert memory_spread_loss(one_hot, 0.3).item() == 0.0
    uniform = torch.full((12, 4), 0.25)  # nobody distinguishes items
    assert memory_spread_loss(uniform, 0.3).item() == pytest.approx(0.3)


def test_spread_loss_hand_computed():
    p = torch.tensor([[0.5, 0.3, 0.2], [0.4, 0.35, 0.25]])
    # spreads 0.1, 0.05, 0.05 -> [0.3 - s]_+ = 0.2, 0.25, 0.25
    assert memory_spread_loss(p, 0.3).item() == pytest.approx((0.2 + 0.25 + 0.25) / 3)
    with pytest.raises(InputError, match="memory_spread_loss"):
        memory_spread_loss(torch.ones(3), 0.3)


def test_small_shapes_and_convex_readouts():
    model = _model()
    out = model(torch.randn(*CLIP))
    b, t, d = 2, 6, 64
    assert out["features"].shape == out["seq"].shape == (b, d)
    assert out["frames"].shape == (b, t, d)
    assert out["logits_t"].shape == out["logits_s"].shape == (b, 3)
    assert out["p_spatial"].shape == (b * t * 4 * 2, 10)  # every position of every frame
    assert out["p_temporal"].shape == (b, 5) and out["attention"].shape == (b, t)
    for key in ("p_spatial", "p_temporal", "attention"):
        w = out[key]
        assert (w >= 0).all() and torch.allclose(w.sum(dim=1), torch.ones(len(w)))
    # f = sum_i a_i f^s_i
    assert torch.allclose(out["seq"], (out["attention"][..., None] * out["frames"]).sum(1),
                          atol=1e-6)
    # spatial read-out = p @ V lies inside the values' per-dimension range (convexity)
    p, read = model.read_spatial(torch.randn(5, d))
    assert torch.allclose(read, p @ model.spatial_values)
    v = model.spatial_values
    assert (read <= v.max(0).values + 1e-6).all() and (read >= v.min(0).values - 1e-6).all()


def test_spatial_memory_starts_as_a_no_op():
    model = _model().eval()
    x = torch.randn(1, 6, 3, 64, 32)
    with torch.no_grad():
        out = model(x)
        trunk = model.trunk
        h = trunk.layer3(trunk.layer2(trunk.layer1(trunk.stem(x.flatten(0, 1)))))
        f_o = model.value_head(h).mean(dim=(2, 3))
    assert torch.allclose(out["frames"][0], f_o, atol=1e-6)


def test_spatial_queries_are_per_position_unless_quirk():
    x = torch.randn(1, 6, 3, 64, 32)
    for quirk in (False, True):
        model = _model(smem_reshape_quirk=quirk).eval()
        with torch.no_grad():
            out = model(x)
            trunk = model.trunk
            h = trunk.layer3(trunk.layer2(trunk.layer1(trunk.stem(x.flatten(0, 1)))))
            q = F.normalize(model.spatial_head(h), dim=1)  # (6, D, 4, 2)
        frame, row, col = 2, 3, 1
        index = (frame * 4 + row) * 2 + col
        per_position = channel_norm_addressing(q[frame, :, row, col][None],
                                               model.spatial_keys)[0]
        same = torch.allclose(out["p_spatial"][index], per_position, atol=1e-6)
        assert same != quirk


def test_query_heads_are_clones_without_final_relu():
    model = _model(query_norm="none").eval()
    for head in (model.spatial_head, model.temporal_head):
        assert not head[-1].final_relu
        ref = model.value_head.state_dict()
        for k, a in head.state_dict().items():
            assert torch.equal(a, ref[k]), k
    x = torch.randn(6, model.trunk.stage_channels[3], 4, 2)
    with torch.no_grad():
        assert model.value_head(x).min() >= 0
        assert model.spatial_head(x).min() < 0


def test_pretrained_weights_reach_all_three_heads(tmp_path):
    torch.manual_seed(5)
    src = ResNet(BACKBONES["small"], with_fc=True)
    torch.save(src.state_dict(), tmp_path / "small.pth")
    model = STMN(2, STMNConfig(backbone="small"), pretrained=tmp_path / "small.pth")
    want = src.state_dict()["layer4.0.conv1.weight"]
    for head in (model.value_head, model.spatial_head, model.temporal_head):
        assert torch.equal(head[0].conv1.weight, want)
    assert torch.equal(model.trunk.conv1.weight, src.conv1.weight)


def test_losses_differentiable_with_finite_grads():
    model = _model()
    out = model(torch.randn(4, 6, 3, 64, 32))
    loss, parts = stmn_loss(out, torch.tensor([0, 0, 1, 1]), alpha=0.3)
    assert set(parts) == {"ce_s", "ce_t", "tri_s", "tri_t", "spread_s", "spread_t"}
    assert loss.item() == pytest.approx(sum(parts.values()), rel=1e-5)
    loss.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.temporal_values.grad.abs().sum() > 0
    assert model.spatial_keys.grad.abs().sum() > 0


def test_full_size_resnet50_forward():
    model = STMN(num_classes=0).eval()  # ResNet-50, L = 6 at 256x128
    with torch.no_grad():
        out = model(torch.randn(1, 6, 3, 256, 128))
    assert out["features"].shape == (1, 2048)
    assert out["p_spatial"].shape == (6 * 16 * 8, 10)


def test_bad_input_is_one_clear_error():
    model = _model()
    with pytest.raises(InputError, match="clip length L in STMN: expected 6 frames"):
        model(torch.randn(1, 4, 3, 64, 32))
    with pytest.raises(InputError, match="clips in STMN"):
        model(torch.randn(6, 3, 64, 32))
    with pytest.raises(InputError, match="frame size"):
        model(torch.randn(1, 6, 3, 16, 8))
    with pytest.raises(InputError, match="query_norm"):
        STMNConfig(query_norm="l1")


def test_adapter_pretrained_loads_before_training_not_when_rebuilt(tmp_path):
    from reidbench_baselines.stmn import STMNAdapter

    torch.manual_seed(5)
    src = ResNet(BACKBONES["small"], with_fc=True)
    torch.save(src.state_dict(), tmp_path / "small.pth")
    # rebuilding a trained model from its checkpoint config never reads the weights file
    STMNAdapter(num_classes=2, backbone="small", pretrained=str(tmp_path / "absent.pth"))
    a = STMNAdapter(num_classes=4, backbone="small", pretrained=str(tmp_path / "small.pth"))
    assert a.config["pretrained"] == str(tmp_path / "small.pth")
    want = src.state_dict()["layer4.0.conv1.weight"]
    assert not torch.equal(a.model.value_head[0].conv1.weight, want)
    a.train().training_loss(torch.randn(4, 6, 3, 64, 32), torch.tensor([0, 0, 1, 1]))
    for head in (a.model.value_head, a.model.spatial_head, a.model.temporal_head):
        assert torch.equal(head[0].conv1.weight.detach(), want)
    assert torch.equal(a.model.trunk.layer3[0].conv1.weight.detach(), src.layer3[0].conv1.weight)


def test_adapter_pretrained_of_another_backbone_is_one_error(tmp_path):
    from reidbench.errors import CheckpointError
    from reidbench_baselines.stmn import STMNAdapter

    torch.save(ResNet(BACKBONES["resnet18"]).state_dict(), tmp_path / "r18.pth")
    a = STMNAdapter(num_classes=2, backbone="small", pretrained=str(tmp_path / "r18.pth"))
    with pytest.raises(CheckpointError, match="pretrained weights"):
        a.prepare_training()


def test_recipe_erases_per_frame_as_the_code():
    from reidbench_baselines.stmn import STMNAdapter

    r = STMNAdapter.recipe
    assert (r.erasing, r.flip, r.flip_per_frame, r.translate) == (0.5, 0.5, False, 0.0)
