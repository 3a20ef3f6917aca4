"""An official STMN checkpoint, imported, is evaluated by `reidbench evaluate` with provenance."""

from __future__ import annotations

import json
import re

import torch

from reidbench.adapters import get_adapter
from reidbench.cli import main

# official names (cvlab-yonsei/STMN smem_tmem/model/network.py), as in test_import_weights
NAMES = (
    (r"trunk\.(.+)", r"features.backbone.\1"),
    (r"value_head\.(.+)", r"features.backbone.layer4_val.\1"),
    (r"spatial_head\.(.+)", r"features.backbone.layer4_key_s.\1"),
    (r"temporal_head\.(.+)", r"features.backbone.layer4_key_t.\1"),
    (r"spatial_keys", "smem.key"), (r"spatial_values", "smem.val"),
    (r"spatial_bn\.(.+)", r"smem.bn.\1"), (r"temporal_keys", "tmem.key"),
    (r"temporal_values", "tmem.val"), (r"lstm\.(.+)", r"tmem.lstm.\1"),
    (r"neck_([st])\.bn\.(.+)", r"bn_\1.\2"), (r"neck_([st])\.classifier\.weight", r"cls_\1.weight"),
)


def test_imported_stmn_evaluates_under_a_protocol(synth_copy, tmp_path):
    root = synth_copy("mars")
    torch.manual_seed(0)
    model = get_adapter("stmn", num_classes=7, backbone="small", width=8).model
    official = {}
    for key, tensor in model.state_dict().items():
        name = next(m.expand(r) for p, r in NAMES if (m := re.fullmatch(p, key)))
        official[f"module.{name}"] = tensor
    src, ckpt = tmp_path / "ckpt_best.pth", tmp_path / "stmn.safetensors"
    torch.save(official, src)
    assert main(["import-weights", "stmn", str(src), "--out", str(ckpt),
                 "--train-dataset", "mars"]) == 0
    out = tmp_path / "result"
    assert main(["evaluate", "-p", "mars/v2v@1", "--data", str(root), "--adapter", "stmn",
                 "--checkpoint", str(ckpt), "--height", "64", "--width", "32", "--bootstrap",
                 "0", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    text = json.dumps(record)
    assert "cvlab-yonsei/STMN" in text and "channel_norm" in text  # provenance and config
    assert '"distance": "cosine"' in text and '"sampling": "interleaved"' in text
