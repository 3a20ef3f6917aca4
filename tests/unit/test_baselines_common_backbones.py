"""Backbones: torchvision / Cadene key sets and shapes, strides, feature sizes, weight loading."""

from __future__ import annotations

import pytest
import torch

from reidbench.errors import CheckpointError, InputError
from reidbench_baselines.common import (
    BACKBONE_INFO,
    BACKBONES,
    ResNet,
    SEResNet,
    backbone_names,
    build_backbone,
    load_pretrained,
)

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{n}": ((c,) if n != "num_batches_tracked" else ()) for n in BN}


def expected_torchvision_keys(blocks=(3, 4, 6, 3), bottleneck=True) -> dict[str, tuple]:
    """torchvision ResNet state_dict (key -> shape), written from the architecture rules."""
    keys = {"conv1.weight": (64, 3, 7, 7), **_bn("bn1", 64)}
    exp = 4 if bottleneck else 1
    inp = 64
    for li, (n, planes) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True), start=1):
        out = planes * exp
        for b in range(n):
            p = f"layer{li}.{b}"
            if bottleneck:
                keys[f"{p}.conv1.weight"] = (planes, inp, 1, 1)
                keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
                keys[f"{p}.conv3.weight"] = (out, planes, 1, 1)
                keys |= _bn(f"{p}.bn1", planes) | _bn(f"{p}.bn2", planes) | _bn(f"{p}.bn3", out)
            else:
                keys[f"{p}.conv1.weight"] = (planes, inp, 3, 3)
                keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
                keys |= _bn(f"{p}.bn1", planes) | _bn(f"{p}.bn2", planes)
            if b == 0 and (li > 1 or inp != out):
                keys[f"{p}.downsample.0.weight"] = (out, inp, 1, 1)
                keys |= _bn(f"{p}.downsample.1", out)
            inp = out
    keys["fc.weight"] = (1000, 512 * exp)
    keys["fc.bias"] = (1000,)
    return keys


def expected_cadene_se_resnet50_keys() -> dict[str, tuple]:
    """Cadene pretrainedmodels se_resnet50 state_dict (key -> shape), from the architecture."""
    keys = {"layer0.conv1.weight": (64, 3, 7, 7), **_bn("layer0.bn1", 64)}
    inp = 64
    for li, (n, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512), strict=True), start=1):
        out = planes * 4
        for b in range(n):
            p = f"layer{li}.{b}"
            keys[f"{p}.conv1.weight"] = (planes, inp, 1, 1)
            keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            keys[f"{p}.conv3.weight"] = (out, planes, 1, 1)
            keys |= _bn(f"{p}.bn1", planes) | _bn(f"{p}.bn2", planes) | _bn(f"{p}.bn3", out)
            keys[f"{p}.se_module.fc1.weight"] = (out // 16, out, 1, 1)
            keys[f"{p}.se_module.fc1.bias"] = (out // 16,)
            keys[f"{p}.se_module.fc2.weight"] = (out, out // 16, 1, 1)
            keys[f"{p}.se_module.fc2.bias"] = (out,)
            if b == 0:
                keys[f"{p}.downsample.0.weight"] = (out, inp, 1, 1)
                keys |= _bn(f"{p}.downsample.1", out)
            inp = out
    keys["last_linear.weight"] = (1000, 2048)
    keys["last_linear.bias"] = (1000,)
    return keys


def _shapes(module: torch.nn.Module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_resnet50_keys_and_shapes_equal_torchvision():
    got = _shapes(ResNet(BACKBONES["resnet50"], with_fc=True))
    want = expected_torchvision_keys()
    assert len(want) == 320  # 161 parameters + 53 BNs x 3 buffers (torchvision resnet50)
    assert got == want
    # Spot checks written out by hand.
    assert got["layer4.2.bn3.running_var"] == (2048,)
    assert got["layer1.0.downsample.0.weight"] == (256, 64, 1, 1)
    assert got["layer3.5.conv2.weight"] == (256, 256, 3, 3)
    assert got["fc.weight"] == (1000, 2048)
    assert "layer2.1.downsample.0.weight" not in got


def test_resnet_without_fc_drops_only_fc():
    got = _shapes(build_backbone("resnet50"))
    want = {k: v for k, v in expected_torchvision_keys().items() if not k.startswith("fc.")}
    assert got == want


def test_resnet18_keys_equal_torchvision():
    got = _shapes(ResNet(BACKBONES["resnet18"], with_fc=True))
    assert got == expected_torchvision_keys((2, 2, 2, 2), bottleneck=False)
    assert "layer1.0.downsample.0.weight" not in got  # 64 -> 64, stride 1: no projection
    assert got["layer2.0.downsample.0.weight"] == (128, 64, 1, 1)


def test_se_resnet50_keys_and_shapes_equal_cadene():
    got = _shapes(SEResNet(with_fc=True))
    assert got == expected_cadene_se_resnet50_keys()
    assert got["layer1.0.se_module.fc1.weight"] == (16, 256, 1, 1)
    assert got["layer4.2.se_module.fc2.bias"] == (2048,)
    assert got["layer0.bn1.running_mean"] == (64,)
    assert not any(k.startswith(("conv1.", "fc.")) for k in got)


def test_stride_placement_differs_between_families():
    tv = build_backbone("resnet50", last_stride=2)
    se = build_backbone("se_resnet50", last_stride=2)
    assert tv.layer2[0].conv2.stride == (2, 2) and tv.layer2[0].conv1.stride == (1, 1)
    assert se.layer2[0].conv1.stride == (2, 2) and se.layer2[0].conv2.stride == (1, 1)
    assert se.layer0.pool.ceil_mode and se.layer0.pool.padding == 0
    tv1 = build_backbone("resnet50", last_stride=1)
    assert tv1.layer4[0].conv2.stride == (1, 1) and tv1.layer4[0].downsample[0].stride == (1, 1)


def test_resnet50_full_forward_last_stride_1():
    net = build_backbone("resnet50").eval()
    with torch.no_grad():
        y = net(torch.randn(1, 3, 256, 128))
    assert y.shape == (1, 2048, 16, 8)
    assert net.feature_hw(256, 128) == [(64, 32), (64, 32), (32, 16), (16, 8), (16, 8)]
    assert build_backbone("resnet50", last_stride=2).feature_hw(256, 128)[-1] == (8, 4)


@pytest.mark.parametrize("name", ["resnet50", "se_resnet50", "small"])
@pytest.mark.parametrize("hw", [(70, 37), (64, 32)])
def test_feature_hw_matches_real_stage_outputs(name, hw):
    net = build_backbone(name, last_stride=2 if hw[0] == 70 else 1).eval()
    x = torch.randn(1, 3, *hw)
    sizes = []
    with torch.no_grad():
        x = net.stem(x)
        sizes.append(tuple(x.shape[2:]))
        chans = [x.shape[1]]
        for stage in net.stages():
            x = stage(x)
            sizes.append(tuple(x.shape[2:]))
            chans.append(x.shape[1])
    assert sizes == net.feature_hw(*hw)
    assert tuple(chans) == net.stage_channels == BACKBONE_INFO[name].stage_channels


def test_stem_relu_toggle():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 16)
    with_relu = build_backbone("small", stem_relu=True).eval()
    without = build_backbone("small", stem_relu=False).eval()
    without.load_state_dict(with_relu.state_dict())
    with torch.no_grad():
        assert with_relu.stem(x).min() >= 0
        assert without.stem(x).min() < 0


def test_small_width_and_unknown_names():
    net = build_backbone("small", width=8)
    assert net.stage_channels == (8, 8, 16, 32, 64)
    with pytest.raises(InputError, match="Did you mean 'resnet50'"):
        build_backbone("resnet05")
    with pytest.raises(InputError, match="width"):
        build_backbone("resnet50", width=8)
    with pytest.raises(InputError, match="last_stride"):
        build_backbone("small", last_stride=3)
    assert backbone_names() == ["resnet18", "resnet50", "se_resnet50", "small"]


# ----------------------------------------------------------------------- weight loading


def _small_with_fc(seed: int) -> ResNet:
    torch.manual_seed(seed)
    net = ResNet(BACKBONES["small"], with_fc=True)
    for m in net.modules():  # non-trivial BN statistics so the round trip is really checked
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return net


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_load_pretrained_round_trip(tmp_path, fmt):
    src = _small_with_fc(1)
    path = tmp_path / f"w.{fmt}"
    if fmt == "pth":
        torch.save(src.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    dst = build_backbone("small", pretrained=path).eval()  # no fc: the file's fc.* is ignored
    src.eval()
    for k, v in dst.state_dict().items():
        assert torch.equal(v, src.state_dict()[k]), k
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        assert torch.equal(dst(x), src(x))


def test_load_pretrained_tolerates_missing_num_batches_tracked(tmp_path):
    state = {k: v for k, v in _small_with_fc(2).state_dict().items()
             if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "old.pth")
    net = load_pretrained(build_backbone("small"), tmp_path / "old.pth")
    assert torch.equal(net.conv1.weight, state["conv1.weight"])


def test_load_pretrained_reports_missing_unexpected_and_shapes(tmp_path):
    state = dict(_small_with_fc(3).state_dict())
    del state["layer1.0.conv1.weight"]
    state["layer5.0.conv1.weight"] = torch.zeros(1)
    state["bn1.weight"] = torch.zeros(7)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as info:
        load_pretrained(build_backbone("small"), tmp_path / "bad.pth")
    msg = str(info.value)
    assert "bad.pth" in msg
    assert "1 missing: layer1.0.conv1.weight" in msg
    assert "1 unexpected: layer5.0.conv1.weight" in msg
    assert "bn1.weight (7,) vs (16,)" in msg


def test_load_pretrained_refuses_other_family_and_pickles(tmp_path):
    torch.save(_small_with_fc(4).state_dict(), tmp_path / "small.pth")
    with pytest.raises(CheckpointError, match="missing"):
        build_backbone("resnet18", pretrained=tmp_path / "small.pth")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pth")  # a pickled module, not tensors
    with pytest.raises(CheckpointError):
        load_pretrained(build_backbone("small"), tmp_path / "module.pth")
    with pytest.raises(CheckpointError, match="nothing there"):
        load_pretrained(build_backbone("small"), tmp_path / "absent.pth")


def test_se_resnet50_loads_a_cadene_style_file(tmp_path):
    src = SEResNet(with_fc=True)
    state = {k: v for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "se_resnet50.pth")
    dst = build_backbone("se_resnet50", pretrained=tmp_path / "se_resnet50.pth")
    assert torch.equal(dst.layer3[2].se_module.fc1.bias, src.layer3[2].se_module.fc1.bias)
    with pytest.raises(CheckpointError, match="missing"):
        build_backbone("resnet50", pretrained=tmp_path / "se_resnet50.pth")
