"""Import COSAM checkpoints saved by the official code.

The code is github.com/InnovArul/vidreid_cosegmentation.

``src/main_video_person_reid.py`` saves ``{'state_dict': model.state_dict(), 'rank1': ...,
'epoch': ...}``. The model (``src/models/ResNet.py`` or ``src/models/SE_ResNet.py``) names its
trunk ``base`` (torchvision ResNet-50 children as ``base.0`` .. ``base.7``, or the Cadene
SE-ResNet-50 as ``base.layer0`` .. ``base.layer4``), its attention layers
``attention_modules.attention_modules.<i>`` (``src/models/cosam.py``: ``dim_reduction``,
``spatial_mask_summary``, ``channelwise_attention``; index ``i`` follows stage ``i + 2`` in the
ResNet model and ``i + 1`` in the SE-ResNet one) and its classifier ``classifier``. Only the
temporal-pooling (``TP``) aggregation has no parameters and is supported; the SE-ResNet's ImageNet
``last_linear`` is not used by the forward and is dropped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reidbench.adapters import ImportedWeights, rename_tensors
from reidbench.errors import CheckpointError, describe

__all__ = ["SOURCE", "import_official"]

SOURCE = "https://github.com/InnovArul/vidreid_cosegmentation"

_COSAM_PARTS = (("dim_reduction", "reduce"), ("spatial_mask_summary", "summary"),
                ("channelwise_attention", "channel_mlp"))
_PREFIX = r"attention_modules\.attention_modules\."


def _rules(se: bool) -> list[tuple[str, str]]:
    if se:
        rules = [(r"base\.layer0\.(conv1|bn1)\.(.+)", r"backbone.layer0.\1.\2"),
                 (r"base\.(layer[1-4])\.(.+)", r"backbone.\1.\2")]
        offset = 1
    else:
        rules = [(r"base\.0\.(.+)", r"backbone.conv1.\1"), (r"base\.1\.(.+)", r"backbone.bn1.\1")]
        rules += [(rf"base\.{i + 3}\.(.+)", rf"backbone.layer{i}.\1") for i in range(1, 5)]
        offset = 2
    for index in range(5):
        for theirs, ours in _COSAM_PARTS:
            rules.append((rf"{_PREFIX}{index}\.{theirs}\.(.+)",
                          rf"cosam.stage{index + offset}.{ours}.\1"))
    rules.append((r"classifier\.(weight|bias)", r"classifier.\1"))
    return rules


def import_official(obj: Any, where: str) -> ImportedWeights:
    """Rename an official COSAM checkpoint and derive its config.

    Raises:
        CheckpointError: Not ``{'state_dict': ...}``, a key no rule maps, or no classifier.
    """
    if not (isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict)):
        raise CheckpointError(describe("official COSAM checkpoint", where, "{'state_dict': ...} "
                                       "as main_video_person_reid.py saves it",
                                       f"a {type(obj).__name__} without 'state_dict'",
                                       "pass the .pth.tar the official code wrote"))
    raw = obj["state_dict"]
    se = any(k.startswith("base.layer0.") for k in raw)
    mapped = rename_tensors(raw, _rules(se), where,
                            drop=((r"base\.last_linear\.(weight|bias)",
                                   "SE-ResNet ImageNet classifier, unused by the forward"),))
    state = mapped.state_dict
    if "classifier.weight" not in state:
        raise CheckpointError(describe("official COSAM checkpoint", where, "a classifier",
                                       "no 'classifier.weight'", "pass a trained COSAM model"))
    stages = sorted({int(k.split(".")[1][len("stage"):]) for k in state if k.startswith("cosam.")})
    bottleneck = any(k.endswith(".conv3.weight") for k in state)
    backbone = "se_resnet50" if se else ("resnet50" if bottleneck else "small")
    config: dict[str, Any] = {"num_classes": int(state["classifier.weight"].shape[0]),
                              "backbone": backbone, "cosam_stages": stages,
                              "input_size": [256, 128], "last_stride": 1, "stem_relu": True}
    if backbone == "small":
        config["width"] = int(state["backbone.conv1.weight"].shape[0])
    if stages:
        config["seq_len"] = _clip_length(state, config, stages[0], where)
    return replace(mapped, config=config, source=SOURCE)


def _clip_length(state: dict[str, Any], config: dict[str, Any], stage: int, where: str) -> int:
    """``T`` from the summary conv's input width ``(T - 1) H W`` at 256 x 128 (the code's size)."""
    from reidbench_baselines.common import build_backbone

    trunk = build_backbone(config["backbone"], last_stride=1, width=config.get("width"))
    h, w = trunk.feature_hw(256, 128)[stage - 1]
    width = int(state[f"cosam.stage{stage}.summary.0.weight"].shape[1])
    if width % (h * w):
        raise CheckpointError(describe("official COSAM checkpoint", where, "a summary conv of "
                                       f"(T-1) x {h} x {w} inputs (frames of 256 x 128)",
                                       f"{width} inputs", "pass a COSAM trained at 256 x 128"))
    return width // (h * w) + 1
