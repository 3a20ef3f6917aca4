"""DenseIL decoder width/heads defaults: derived from the backbone unless given, recorded in the
config a checkpoint carries, and old checkpoints with explicit values still load."""

from __future__ import annotations

import json

import pytest
import torch

from reidbench.adapters import get_adapter, load_checkpoint, save_checkpoint
from reidbench.errors import CheckpointError, InputError
from reidbench_baselines.common import BACKBONE_INFO
from reidbench_baselines.denseil import DenseILAdapter, DenseILConfig
from reidbench_baselines.denseil.model import decoder_width


@pytest.mark.parametrize(("backbone", "expected"), [
    ("small", (128, 4)),  # conv5_x width 128; 8 heads would be 16 wide, 4 are 32 wide
    ("resnet50", (2048, 8)),  # the placeholder, unchanged
    ("se_resnet50", (2048, 8)),
    ("resnet18", (512, 8)),
])
def test_defaults_follow_the_backbone(backbone: str, expected: tuple[int, int]) -> None:
    cfg = DenseILConfig(backbone=backbone)
    assert (cfg.dim, cfg.heads) == expected
    assert cfg.dim == BACKBONE_INFO[backbone].stage_channels[4]
    assert (cfg.to_dict()["dim"], cfg.to_dict()["heads"]) == expected


@pytest.mark.parametrize(("dim", "heads", "expected"), [
    (64, None, (64, 2)),  # explicit dim, heads derived from it: 64 / 2 = 32
    (96, None, (96, 2)),  # 8 and 4 divide 96 but would give heads of 12 and 24
    (512, None, (512, 8)),
    (20, None, (20, 1)),  # narrower than 32: one head
    (64, 8, (64, 8)),  # explicit heads win over the width floor
    (None, 2, (128, 2)),  # explicit heads, dim from the backbone
    (2048, 8, (2048, 8)),  # the old paper-size default, written out, on the small backbone
])
def test_explicit_values_win(dim: int | None, heads: int | None,
                             expected: tuple[int, int]) -> None:
    assert decoder_width("small", dim, heads) == expected
    cfg = DenseILConfig(backbone="small", dim=dim, heads=heads)
    assert (cfg.dim, cfg.heads) == expected


@pytest.mark.parametrize(("options", "match"), [
    ({"heads": 3}, "divisor of dim=128"),
    ({"dim": 100, "heads": 8}, "divisor of dim=100"),
    ({"dim": 0}, "positive integer"),
    ({"heads": -4}, "positive integer"),
    ({"dim": 128.0}, "positive integer"),
    ({"backbone": "resnet5"}, "Did you mean 'resnet50'"),
])
def test_bad_width_options_are_named(options: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        DenseILConfig(**{"backbone": "small", **options})


def test_small_adapter_builds_the_derived_width() -> None:
    torch.manual_seed(0)
    ad = DenseILAdapter(num_classes=3, backbone="small").eval()
    assert (ad.config["dim"], ad.config["heads"]) == (128, 4)
    assert ad.model.encoder.stage_channels[4] == 128
    assert ad.model.neck.bn.num_features == 128
    assert ad.model.decoder.blocks[0].dense_attn.heads == 4
    with torch.inference_mode():
        out = ad.model(torch.randn(1, 8, 3, 64, 32))
    assert out["features"].shape == (1, 128)
    assert out["attention"][0].shape[:2] == (1, 4)


def _rebuild(path) -> DenseILAdapter:
    """What ``evaluate --adapter denseil --checkpoint F`` does: stored config, then weights."""
    loaded = load_checkpoint(path)
    ad = get_adapter("denseil", **loaded.meta["config"])
    ad.apply_checkpoint(loaded)
    return ad.eval()


def test_default_width_round_trips_through_a_checkpoint(tmp_path) -> None:
    torch.manual_seed(0)
    ad = DenseILAdapter(num_classes=3, backbone="small", layers=1).eval()
    clips = torch.randn(2, 8, 3, 64, 32)
    before = ad.embed_clips(clips)
    path = tmp_path / "denseil.safetensors"
    save_checkpoint(path, ad.model.state_dict(), {"baseline": "denseil", "config": ad.config})
    stored = load_checkpoint(path).meta["config"]
    assert (stored["dim"], stored["heads"]) == (128, 4)  # resolved values, not None
    again = _rebuild(path)
    assert (again.cfg.dim, again.cfg.heads) == (128, 4)
    torch.testing.assert_close(again.embed_clips(clips), before)
    # an explicit, different width is refused by the checkpoint rather than silently mixed
    other = get_adapter("denseil", **{**stored, "dim": 64})
    with pytest.raises(CheckpointError, match="shape mismatches"):
        other.apply_checkpoint(load_checkpoint(path))


def test_old_checkpoint_with_explicit_width_still_loads(tmp_path) -> None:
    torch.manual_seed(0)
    old = DenseILAdapter(num_classes=3, backbone="small", dim=16, heads=2, layers=1).eval()
    # the config exactly as the previous version wrote it (every field, dim/heads explicit)
    config = {"num_classes": 3, "backbone": "small", "seq_len": 8, "dim": 16, "heads": 2,
              "layers": 1, "granularities": [1, 2, 4, 8], "taps": [4, 3, 2], "dropout": 0.1,
              "step_mode": "input", "freeze_encoder": True, "stage": "decoder",
              "encoder_init": None, "pretrained": None, "triplet_margin": 0.3,
              "label_smoothing": 0.1}
    assert json.loads(json.dumps(old.config)) == config
    path = tmp_path / "old.safetensors"
    save_checkpoint(path, old.model.state_dict(), {"baseline": "denseil", "config": config})
    clips = torch.randn(2, 8, 3, 64, 32)
    again = _rebuild(path)
    assert (again.cfg.dim, again.cfg.heads) == (16, 2)
    torch.testing.assert_close(again.embed_clips(clips), old.embed_clips(clips))
