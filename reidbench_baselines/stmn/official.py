"""Import STMN checkpoints saved by the official code (github.com/cvlab-yonsei/STMN).

The training script saves ``nn.DataParallel(STMN).state_dict()`` as a plain state dict
(``smem_tmem/main.py``: ``torch.save(net.state_dict(), ...)``). Its names come from
``smem_tmem/model/network.py`` (``features.backbone.*`` = the ResNet of ``model/resnet.py`` with
``layer4_val``, ``layer4_key_s``, ``layer4_key_t``; ``smem.{key,val,bn}``;
``tmem.{key,val,lstm}``; ``bn_s``, ``bn_t``, ``cls_s``, ``cls_t``). Every one maps to a reidbench
parameter; the config is derived from the shapes (``M``, ``N``, ``L``, classes, backbone) with the
code-faithful switches set explicitly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reidbench.adapters import ImportedWeights, rename_tensors
from reidbench.errors import CheckpointError, describe

__all__ = ["SOURCE", "import_official"]

SOURCE = "https://github.com/cvlab-yonsei/STMN"

_RULES = (
    (r"features\.backbone\.(conv1|bn1|layer[123])\.(.+)", r"trunk.\1.\2"),
    (r"features\.backbone\.layer4_val\.(.+)", r"value_head.\1"),
    (r"features\.backbone\.layer4_key_s\.(.+)", r"spatial_head.\1"),
    (r"features\.backbone\.layer4_key_t\.(.+)", r"temporal_head.\1"),
    (r"smem\.key", "spatial_keys"),
    (r"smem\.val", "spatial_values"),
    (r"smem\.bn\.(.+)", r"spatial_bn.\1"),
    (r"tmem\.key", "temporal_keys"),
    (r"tmem\.val", "temporal_values"),
    (r"tmem\.lstm\.(.+)", r"lstm.\1"),
    (r"bn_([st])\.(.+)", r"neck_\1.bn.\2"),
    (r"cls_([st])\.weight", r"neck_\1.classifier.weight"),
)


def import_official(obj: Any, where: str) -> ImportedWeights:
    """Rename an official STMN state dict and derive its config.

    Raises:
        CheckpointError: Not a state dict, a key no rule maps, or a tensor the config needs
            missing.
    """
    if not isinstance(obj, dict) or "state_dict" in obj:
        raise CheckpointError(describe("official STMN checkpoint", where, "a plain state dict "
                                       "(as smem_tmem/main.py saves it)", f"a {type(obj).__name__}"
                                       + (" with a 'state_dict' entry" if isinstance(obj, dict)
                                          else ""), "pass the file torch.save(net.state_dict()) "
                                       "wrote"))
    mapped = rename_tensors(obj, _RULES, where)
    state = mapped.state_dict
    need = ("spatial_keys", "temporal_keys", "temporal_values", "neck_t.classifier.weight",
            "trunk.conv1.weight")
    absent = [k for k in need if k not in state]
    if absent:
        raise CheckpointError(describe("official STMN checkpoint", where, "the memories, the "
                                       "classifier and the stem", f"no {absent[0]!r}",
                                       "pass a complete STMN state dict"))
    bottleneck = "trunk.layer1.0.conv3.weight" in state
    config: dict[str, Any] = {
        "num_classes": int(state["neck_t.classifier.weight"].shape[0]),
        "M": int(state["spatial_keys"].shape[0]),
        "N": int(state["temporal_keys"].shape[0]),
        "seq_len": int(state["temporal_values"].shape[1]),
        "backbone": "resnet50" if bottleneck else "small",
        "stem_relu": False, "query_norm": "none", "smem_reshape_quirk": True,
        "addressing": "channel_norm",
    }
    if not bottleneck:
        config["width"] = int(state["trunk.conv1.weight"].shape[0])
    return replace(mapped, config=config, source=SOURCE)
