"""Import READ checkpoints saved by the official code (github.com/minostauros/READ).

A checkpoint holds one state dict per network, as ``utils/ckpt_utils.py`` reads it
(``checkpoint[m]`` for ``m`` in ``memory_network``, ``memory_encoder``), next to optional
``<m>_optimizer``, ``epoch`` and ``iter`` entries, which are not weights and are skipped.

* ``memory_network`` (``model/MemoryNetwork.py``): ``query_encoder`` = the image network
  (``model/Encoder.py``: torchvision ``conv1``, ``bn1``, ``res2``-``res4`` = ``layer1``-``layer3``,
  ``bottleneck_key``, ``bottleneck_value``), ``feature_layer.fc`` and ``classifier.fc``: the
  discriminator's two Linears.
* ``memory_encoder``: ``memory_encoder.features.backbone`` = the non-local video ResNet
  (``model/ResNetNonLocal.py``, ``ResNet_Video_nonlocal``: ``conv1``, ``bn1``, ``layer1``-
  ``layer3``, ``NL_2.<k>``, ``NL_3.<k>`` placed after the last blocks of their stage) and
  ``memory_encoder.bottleneck_key`` / ``bottleneck_value``.

The derived config is the code's form: no stem ReLU in the video network, BGR input, the code's
memory layout, 256 x 128 frames (from the discriminator's input width).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from reidbench.adapters import ImportedWeights, rename_tensors
from reidbench.errors import CheckpointError, describe

__all__ = ["SOURCE", "import_official"]

SOURCE = "https://github.com/minostauros/READ"
_NETWORKS = ("memory_network", "memory_encoder")
_VIDEO = r"memory_encoder\.features\.backbone\."


def _layer_blocks(state: dict[str, Any], prefix: str, stage: int) -> int:
    """Blocks in ``layer<stage>`` under ``prefix`` (counted from the keys)."""
    head = f"{prefix}layer{stage}."
    return len({k[len(head):].split(".")[0] for k in state if k.startswith(head)})


def _nl_indices(state: dict[str, Any], stage: int) -> list[int]:
    head = f"memory_encoder.features.backbone.NL_{stage}."
    return sorted({int(k[len(head):].split(".")[0]) for k in state if k.startswith(head)})


def import_official(obj: Any, where: str) -> ImportedWeights:
    """Rename an official READ checkpoint (one state dict per network) and derive its config.

    Raises:
        CheckpointError: A network missing, an entry that is neither a network nor training
            state, or a key no rule maps.
    """
    if not isinstance(obj, dict) or not all(isinstance(obj.get(n), dict) for n in _NETWORKS):
        have = sorted(obj)[:4] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(describe("official READ checkpoint", where, "a dict with the "
                                       "'memory_network' and 'memory_encoder' state dicts (as "
                                       "utils/ckpt_utils.py reads it)", f"entries {have}",
                                       "pass the .tar the official code saved or released"))
    skipped = {"epoch", "iter"} | {f"{n}_optimizer" for n in _NETWORKS}
    other = sorted(set(obj) - set(_NETWORKS) - skipped)
    if other:
        raise CheckpointError(describe("official READ checkpoint", where, "only the two "
                                       "networks and their training state", f"entries {other[:3]}",
                                       "pass the checkpoint the official code saved"))
    video = obj["memory_encoder"]
    counts = {s: _nl_indices(video, s) for s in (2, 3)}
    video_prefix = "memory_encoder.features.backbone."
    rules = [
        (r"query_encoder\.(conv1|bn1)\.(.+)", r"image_net.trunk.\1.\2"),
        (r"query_encoder\.res2\.(.+)", r"image_net.trunk.layer1.\1"),
        (r"query_encoder\.res3\.(.+)", r"image_net.trunk.layer2.\1"),
        (r"query_encoder\.res4\.(.+)", r"image_net.trunk.layer3.\1"),
        (r"query_encoder\.bottleneck_key\.weight", "image_net.key.weight"),
        (r"query_encoder\.bottleneck_value\.weight", "image_net.value.weight"),
        (r"feature_layer\.fc\.(weight|bias)", r"discriminator.fc1.\1"),
        (r"classifier\.fc\.(weight|bias)", r"discriminator.fc2.\1"),
        (rf"{_VIDEO}(conv1|bn1|layer[123])\.(.+)", r"video_net.trunk.\1.\2"),
        (r"memory_encoder\.bottleneck_key\.weight", "video_net.key.weight"),
        (r"memory_encoder\.bottleneck_value\.weight", "video_net.value.weight"),
    ]
    for stage, found in counts.items():
        blocks = _layer_blocks(video, video_prefix, stage)
        # NL_<s>_idx = sorted(blocks - (i + 1) for i < count): the k-th module follows that block
        after = sorted(blocks - (i + 1) for i in range(len(found)))
        for k, block in zip(found, after, strict=True):
            rules.append((rf"{_VIDEO}NL_{stage}\.{k}\.(.+)", rf"video_net.nl{stage}.{block}.\1"))
    mapped = rename_tensors({**obj["memory_network"], **video}, rules, where)
    return replace(mapped, config=_config(mapped.state_dict, counts, where), source=SOURCE)


def _config(state: dict[str, Any], counts: dict[int, list[int]], where: str) -> dict[str, Any]:
    need = ("image_net.key.weight", "image_net.value.weight", "discriminator.fc1.weight",
            "discriminator.fc2.weight", "image_net.trunk.conv1.weight")
    absent = [k for k in need if k not in state]
    if absent:
        raise CheckpointError(describe("official READ checkpoint", where, "the image network's "
                                       "heads and the discriminator", f"no {absent[0]!r}",
                                       "pass a complete READ checkpoint"))
    key_dim = int(state["image_net.key.weight"].shape[0])
    value_dim = int(state["image_net.value.weight"].shape[0])
    hidden, inputs = (int(v) for v in state["discriminator.fc1.weight"].shape)
    positions = inputs // (2 * value_dim)
    # layer3 has stride 16 and MARS frames are 2:1, so P = (H / 16) (W / 16) = W^2 / 128
    width = round(math.sqrt(128 * positions))
    if positions * 2 * value_dim != inputs or width * width != 128 * positions:
        raise CheckpointError(describe("official READ checkpoint", where, "a discriminator input "
                                       "of 2 x Cv x P with P = (H/16)(W/16) for 2:1 frames",
                                       f"{inputs} inputs with Cv = {value_dim}",
                                       "pass a READ trained on 2:1 frames (256 x 128)"))
    bottleneck = "image_net.trunk.layer1.0.conv3.weight" in state
    return {"backbone": "resnet50" if bottleneck else "small",
            "input_size": [2 * width, width], "non_local": True,
            "nl_blocks": [len(counts[2]), len(counts[3])], "video_stem_relu": False,
            "bgr_input": True, "memory_layout": "code", "key_dim": key_dim,
            "value_dim": value_dim, "hidden": hidden,
            "out_size": int(state["discriminator.fc2.weight"].shape[0])}
