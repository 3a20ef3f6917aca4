"""The backbone factory: one name per trunk, with its stage channels and weights family.

Example:
    >>> net = build_backbone("small", width=8)
    >>> BACKBONE_INFO["resnet50"].stage_channels
    (64, 256, 512, 1024, 2048)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from reidbench.errors import InputError, describe
from reidbench.registry import suggest
from reidbench_baselines.common.pretrained import load_pretrained
from reidbench_baselines.common.resnet import BACKBONES, ResNet, small_spec
from reidbench_baselines.common.senet import SEResNet

__all__ = ["BackboneInfo", "BACKBONE_INFO", "backbone_names", "build_backbone"]


@dataclass(frozen=True)
class BackboneInfo:
    """What a backbone name stands for.

    Attributes:
        name: Factory name.
        stage_channels: Output channels of the stem and of conv2_x .. conv5_x.
        weights: Which ImageNet release its keys match (``"torchvision"``, ``"cadene"``,
            ``"none"`` for the CPU backbone).
        description: One line.
    """

    name: str
    stage_channels: tuple[int, int, int, int, int]
    weights: str
    description: str


BACKBONE_INFO: dict[str, BackboneInfo] = {
    "resnet50": BackboneInfo("resnet50", (64, 256, 512, 1024, 2048), "torchvision",
                             "torchvision ResNet-50 (v1.5 stride placement), 25.6M params"),
    "resnet18": BackboneInfo("resnet18", (64, 64, 128, 256, 512), "torchvision",
                             "torchvision ResNet-18"),
    "se_resnet50": BackboneInfo("se_resnet50", (64, 256, 512, 1024, 2048), "cadene",
                                "Cadene pretrainedmodels SE-ResNet-50 (Caffe stride placement)"),
    "small": BackboneInfo("small", (16, 16, 32, 64, 128), "none",
                          "ResNet-18 design, one BasicBlock per stage, width 16 (CPU tests/demos)"),
}


def backbone_names() -> list[str]:
    """Sorted names accepted by :func:`build_backbone`."""
    return sorted(BACKBONE_INFO)


def build_backbone(name: str, *, last_stride: int = 1, pretrained: str | Path | None = None,
                   stem_relu: bool = True, width: int | None = None) -> nn.Module:
    """Build a backbone with the stage interface (``stem``, ``stages``, ``stage_channels``).

    Args:
        name: One of :func:`backbone_names` (``resnet50``, ``resnet18``, ``se_resnet50``,
            ``small``).
        last_stride: Stride of conv5_x (1: the re-ID convention, 16x8 maps at 256x128; or 2).
        pretrained: Local ImageNet weights file to load (safetensors or weights-only torch file);
            ``None`` leaves the random initialisation. Never downloads.
        stem_relu: Keep the ReLU after the stem's BN (False: STMN / READ-video code).
        width: Base width of ``small`` (default 16); not accepted by the other names.

    Returns:
        The backbone module (no classifier).

    Raises:
        InputError: For an unknown name, a stride other than 1 or 2, or ``width`` on a full-size
            backbone.
        CheckpointError: If ``pretrained`` cannot be read or does not match the backbone's keys.
    """
    if name not in BACKBONE_INFO:
        raise InputError(describe(f"backbone {name!r}", "build_backbone",
                                  f"one of {backbone_names()}", "an unknown name",
                                  suggest(name, backbone_names())))
    if last_stride not in (1, 2):
        raise InputError(describe("last_stride", "build_backbone", "1 or 2", last_stride, ""))
    if width is not None and name != "small":
        raise InputError(describe("width", f"build_backbone({name!r})",
                                  "None (only 'small' has a configurable width)", width,
                                  "drop the width argument"))
    if width is not None and (not isinstance(width, int) or width < 4 or width % 4):
        raise InputError(describe("width", "build_backbone('small')",
                                  "a positive multiple of 4", width, ""))
    net: nn.Module
    if name == "se_resnet50":
        net = SEResNet((3, 4, 6, 3), last_stride=last_stride, stem_relu=stem_relu)
    else:
        spec = small_spec(width) if name == "small" and width is not None else BACKBONES[name]
        net = ResNet(spec, last_stride=last_stride, stem_relu=stem_relu)
    if pretrained is not None:
        load_pretrained(net, pretrained)
    return net
