"""`reidbench import-weights`: official checkpoints of STMN, COSAM and READ become reidbench ones.

The official state dicts are laid out with the names the official modules define (transcribed
below from cvlab-yonsei/STMN smem_tmem/model/{network,memory,resnet}.py,
InnovArul/vidreid_cosegmentation src/models/{ResNet,SE_ResNet,cosam}.py and minostauros/READ
model/{MemoryNetwork,Encoder,ResNetNonLocal}.py), wrapped as each code saves them, imported, and
the imported model must compute what the reidbench model computes given those tensors directly.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import torch

from reidbench.adapters import get_adapter, load_checkpoint
from reidbench.cli import main
from reidbench.engine.sources import AdapterSource
from reidbench.protocols import get_protocol

# ---- official names (reidbench name -> official name), one table per baseline ----------------

STMN_NAMES = (  # network.py: features (resnet.py Resnet50.backbone), smem, tmem, bn_s/t, cls_s/t
    (r"trunk\.(.+)", r"features.backbone.\1"),
    (r"value_head\.(.+)", r"features.backbone.layer4_val.\1"),
    (r"spatial_head\.(.+)", r"features.backbone.layer4_key_s.\1"),
    (r"temporal_head\.(.+)", r"features.backbone.layer4_key_t.\1"),
    (r"spatial_keys", "smem.key"), (r"spatial_values", "smem.val"),
    (r"spatial_bn\.(.+)", r"smem.bn.\1"),
    (r"temporal_keys", "tmem.key"), (r"temporal_values", "tmem.val"),
    (r"lstm\.(.+)", r"tmem.lstm.\1"),
    (r"neck_([st])\.bn\.(.+)", r"bn_\1.\2"), (r"neck_([st])\.classifier\.weight", r"cls_\1.weight"),
)
COSAM_NAMES = (  # ResNet.py: base = torchvision children (0 conv1, 1 bn1, 4-7 layer1-4)
    (r"backbone\.conv1\.(.+)", r"base.0.\1"), (r"backbone\.bn1\.(.+)", r"base.1.\1"),
    (r"backbone\.layer1\.(.+)", r"base.4.\1"), (r"backbone\.layer2\.(.+)", r"base.5.\1"),
    (r"backbone\.layer3\.(.+)", r"base.6.\1"), (r"backbone\.layer4\.(.+)", r"base.7.\1"),
    (r"cosam\.stage4\.reduce\.(.+)", r"attention_modules.attention_modules.2.dim_reduction.\1"),
    (r"cosam\.stage4\.summary\.(.+)",
     r"attention_modules.attention_modules.2.spatial_mask_summary.\1"),
    (r"cosam\.stage4\.channel_mlp\.(.+)",
     r"attention_modules.attention_modules.2.channelwise_attention.\1"),
    (r"cosam\.stage5\.reduce\.(.+)", r"attention_modules.attention_modules.3.dim_reduction.\1"),
    (r"cosam\.stage5\.summary\.(.+)",
     r"attention_modules.attention_modules.3.spatial_mask_summary.\1"),
    (r"cosam\.stage5\.channel_mlp\.(.+)",
     r"attention_modules.attention_modules.3.channelwise_attention.\1"),
    (r"classifier\.(.+)", r"classifier.\1"),
)
COSAM_SE_NAMES = (  # SE_ResNet.py: base = Cadene se_resnet50 (layer0 .. layer4, last_linear)
    (r"backbone\.(layer\d)\.(.+)", r"base.\1.\2"),
    (r"cosam\.stage4\.reduce\.(.+)", r"attention_modules.attention_modules.3.dim_reduction.\1"),
    (r"cosam\.stage4\.summary\.(.+)",
     r"attention_modules.attention_modules.3.spatial_mask_summary.\1"),
    (r"cosam\.stage4\.channel_mlp\.(.+)",
     r"attention_modules.attention_modules.3.channelwise_attention.\1"),
    (r"cosam\.stage5\.reduce\.(.+)", r"attention_modules.attention_modules.4.dim_reduction.\1"),
    (r"cosam\.stage5\.summary\.(.+)",
     r"attention_modules.attention_modules.4.spatial_mask_summary.\1"),
    (r"cosam\.stage5\.channel_mlp\.(.+)",
     r"attention_modules.attention_modules.4.channelwise_attention.\1"),
    (r"classifier\.(.+)", r"classifier.\1"),
)
READ_NETWORK = (  # MemoryNetwork.py: query_encoder (Encoder.py), feature_layer.fc, classifier.fc
    (r"image_net\.trunk\.(conv1|bn1)\.(.+)", r"query_encoder.\1.\2"),
    (r"image_net\.trunk\.layer1\.(.+)", r"query_encoder.res2.\1"),
    (r"image_net\.trunk\.layer2\.(.+)", r"query_encoder.res3.\1"),
    (r"image_net\.trunk\.layer3\.(.+)", r"query_encoder.res4.\1"),
    (r"image_net\.key\.weight", "query_encoder.bottleneck_key.weight"),
    (r"image_net\.value\.weight", "query_encoder.bottleneck_value.weight"),
    (r"discriminator\.fc1\.(.+)", r"feature_layer.fc.\1"),
    (r"discriminator\.fc2\.(.+)", r"classifier.fc.\1"),
)
READ_ENCODER = (  # MemoryEncoder: memory_encoder = CNN(resnet50_NL, NoPool)
    (r"video_net\.trunk\.(.+)", r"memory_encoder.features.backbone.\1"),
    (r"video_net\.nl2\.0\.(.+)", r"memory_encoder.features.backbone.NL_2.0.\1"),
    (r"video_net\.nl3\.0\.(.+)", r"memory_encoder.features.backbone.NL_3.0.\1"),
    (r"video_net\.key\.weight", "memory_encoder.bottleneck_key.weight"),
    (r"video_net\.value\.weight", "memory_encoder.bottleneck_value.weight"),
)


def _official(state, table, data_parallel=True):
    """The state dict under the official names (``module.``: saved from nn.DataParallel)."""
    out = {}
    for key, tensor in state.items():
        name = next((m.expand(r) for p, r in table if (m := re.fullmatch(p, key))), None)
        if name is not None:
            out[("module." if data_parallel else "") + name] = tensor.clone()
    return out


def _randomise(model):
    """Every tensor perturbed (the query heads start as clones of the value head) and random BN
    statistics, so that a wrong mapping shows in the output."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return model


def _imported(tmp_path, baseline, obj):
    src, out = tmp_path / "official.pth", tmp_path / "imported.safetensors"
    torch.save(obj, src)
    assert main(["import-weights", baseline, str(src), "--out", str(out)]) == 0
    ckpt = load_checkpoint(out)
    # what `reidbench evaluate --adapter BASELINE --checkpoint OUT` builds
    protocol = get_protocol("mars/i2v@1" if baseline == "read" else "mars/v2v@1")
    adapter = AdapterSource(baseline, str(out)).prepare(protocol, ["official"]).build("official")
    assert adapter.checkpoint_sha256 == ckpt.sha256
    info = ckpt.meta["imported"]
    assert info["original_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert info["source"].startswith("https://github.com/")
    return adapter.eval(), ckpt


def _stmn():
    return _randomise(get_adapter("stmn", num_classes=5, backbone="small", width=8).model.eval())


def test_stmn_official_state_dict_imports_to_the_same_forward(tmp_path):
    model = _stmn()
    official = _official(model.state_dict(), STMN_NAMES)
    assert len(official) == len(model.state_dict())
    adapter, ckpt = _imported(tmp_path, "stmn", official)
    cfg = ckpt.meta["config"]
    assert (cfg["num_classes"], cfg["M"], cfg["N"], cfg["seq_len"]) == (5, 10, 5, 6)
    assert (cfg["addressing"], cfg["query_norm"], cfg["smem_reshape_quirk"], cfg["stem_relu"]) \
        == ("channel_norm", "none", True, False)
    x = torch.randn(2, 6, 3, 64, 32)
    with torch.no_grad():
        want = model(x)["features"]
    assert torch.allclose(adapter.embed_clips(x), want, atol=1e-5)


def _resnet50_official(prefix, stages=(1, 2, 3), extra_layer4=()):
    """torchvision ResNet-50 names and shapes (model/resnet.py ResNet: Bottleneck, [3, 4, 6, 3])."""
    def bn(name, c):
        return {f"{name}.weight": (c,), f"{name}.bias": (c,), f"{name}.running_mean": (c,),
                f"{name}.running_var": (c,), f"{name}.num_batches_tracked": ()}

    out = {f"{prefix}conv1.weight": (64, 3, 7, 7), **bn(f"{prefix}bn1", 64)}
    inplanes = 64
    layers = [(f"layer{s}", s) for s in stages] + [(n, 4) for n in extra_layer4]
    for name, stage in layers:
        planes, blocks = (64, 128, 256, 512)[stage - 1], (3, 4, 6, 3)[stage - 1]
        cin = inplanes if stage != 4 else 1024
        for b in range(blocks):
            p = f"{prefix}{name}.{b}."
            c_in = cin if b == 0 else planes * 4
            out[p + "conv1.weight"] = (planes, c_in, 1, 1)
            out[p + "conv2.weight"] = (planes, planes, 3, 3)
            out[p + "conv3.weight"] = (planes * 4, planes, 1, 1)
            for i, c in ((1, planes), (2, planes), (3, planes * 4)):
                out.update(bn(p + f"bn{i}", c))
            if b == 0:
                out[p + "downsample.0.weight"] = (planes * 4, c_in, 1, 1)
                out.update(bn(p + "downsample.1", planes * 4))
        if stage != 4:
            inplanes = planes * 4
    return out


def test_stmn_full_size_official_names_and_shapes_import(tmp_path):
    d, k = 2048, 625
    shapes = _resnet50_official("features.backbone.",
                                extra_layer4=("layer4_val", "layer4_key_s", "layer4_key_t"))
    shapes.update({"smem.key": (10, d), "smem.val": (10, d), "tmem.key": (5, d),
                   "tmem.val": (5, 6), "cls_s.weight": (k, d), "cls_t.weight": (k, d),
                   "tmem.lstm.weight_ih_l0": (4 * d, d), "tmem.lstm.weight_hh_l0": (4 * d, d),
                   "tmem.lstm.bias_ih_l0": (4 * d,), "tmem.lstm.bias_hh_l0": (4 * d,)})
    for name in ("smem.bn", "bn_s", "bn_t"):
        shapes.update({f"{name}.{s}": (d,) for s in ("weight", "bias", "running_mean",
                                                     "running_var")})
        shapes[f"{name}.num_batches_tracked"] = ()
    official = {f"module.{n}": torch.zeros(s, dtype=torch.long if not s else torch.float32)
                for n, s in shapes.items()}
    src, out = tmp_path / "ckpt_best.pth", tmp_path / "stmn.safetensors"
    torch.save(official, src)
    assert main(["import-weights", "stmn", str(src), "--out", str(out)]) == 0
    meta = load_checkpoint(out).meta
    assert meta["config"]["backbone"] == "resnet50" and meta["config"]["num_classes"] == k
    assert meta["imported"]["tensors"] == len(shapes)


def test_cosam_official_checkpoint_imports_to_the_same_forward(tmp_path):
    model = _randomise(get_adapter("cosam", num_classes=4, backbone="small").model.eval())
    official = {"state_dict": _official(model.state_dict(), COSAM_NAMES, data_parallel=False),
                "rank1": np.float64(0.5), "epoch": 12}  # test() returns cmc[0], a numpy float
    assert len(official["state_dict"]) == len(model.state_dict())
    adapter, ckpt = _imported(tmp_path, "cosam", official)
    assert ckpt.meta["config"]["cosam_stages"] == [4, 5] and ckpt.meta["config"]["seq_len"] == 4
    x = torch.randn(1, 4, 3, 256, 128)
    with torch.no_grad():
        want = model(x)["features"]
    assert torch.allclose(adapter.embed_clips(x), want, atol=1e-5)


def test_cosam_se_resnet50_official_names_import(tmp_path):
    model = get_adapter("cosam", num_classes=3).model  # SE-ResNet-50 + COSAM_{4,5}
    state = _official(model.state_dict(), COSAM_SE_NAMES, data_parallel=False)
    assert len(state) == len(model.state_dict())
    state["base.last_linear.weight"] = torch.zeros(1000, 2048)
    state["base.last_linear.bias"] = torch.zeros(1000)
    adapter, ckpt = _imported(tmp_path, "cosam", {"state_dict": state})
    assert ckpt.meta["config"]["backbone"] == "se_resnet50"
    assert "base.last_linear.weight" in ckpt.meta["imported"]["dropped"]
    ours = adapter.model.state_dict()
    for key, tensor in model.state_dict().items():
        assert torch.equal(ours[key], tensor), key


def test_read_official_checkpoint_imports_to_the_same_scores(tmp_path):
    options = dict(backbone="small", input_size=(64, 32), nl_blocks=(1, 1),
                   video_stem_relu=False, bgr_input=True)
    original = get_adapter("read", **options)
    _randomise(original.model).eval()
    state = original.model.state_dict()
    official = {"memory_network": _official(state, READ_NETWORK),
                "memory_encoder": _official(state, READ_ENCODER), "epoch": 30,
                "memory_network_optimizer": {"state": {}, "param_groups": []}}
    assert len(official["memory_network"]) + len(official["memory_encoder"]) == len(state)
    adapter, ckpt = _imported(tmp_path, "read", official)
    cfg = ckpt.meta["config"]
    assert (cfg["input_size"], cfg["memory_layout"], cfg["bgr_input"]) == ([64, 32], "code", True)
    q, g = torch.randn(3, 3, 64, 32), torch.randn(2, 4, 3, 64, 32)
    want = original.score(original.embed_images(q), original.embed_clips(g))
    assert torch.allclose(adapter.score(adapter.embed_images(q), adapter.embed_clips(g)), want,
                          atol=1e-4)


class _Payload:  # a pickled instance of this needs code to load
    pass


@pytest.mark.parametrize("spoil, message", [
    ("unmapped", "unmapped key"),
    ("shape", "shape"),
    ("pickle", "arbitrary code"),
])
def test_bad_official_checkpoints_are_one_line_and_write_nothing(tmp_path, capsys, spoil,
                                                                  message):
    official = _official(_stmn().state_dict(), STMN_NAMES)
    if spoil == "unmapped":
        official["module.smem.extra"] = torch.zeros(3)
    elif spoil == "shape":
        official["module.smem.val"] = torch.zeros(10, 63)
    else:
        official["payload"] = _Payload()
    src, out = tmp_path / "bad.pth", tmp_path / "out.safetensors"
    torch.save(official, src)
    capsys.readouterr()
    assert main(["import-weights", "stmn", str(src), "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))


def test_import_refuses_an_adapter_without_importer_and_a_non_safetensors_out(tmp_path, capsys):
    src = tmp_path / "x.pth"
    torch.save({"a": torch.zeros(1)}, src)
    assert main(["import-weights", "stan", str(src), "--out", str(tmp_path / "o.safetensors")]) \
        != 0
    assert "importer" in capsys.readouterr().err
    assert main(["import-weights", "stmn", str(src), "--out", str(tmp_path / "o.pt")]) != 0
    assert ".safetensors" in capsys.readouterr().err
