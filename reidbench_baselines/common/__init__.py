"""Building blocks shared by the five baselines, written once.

Backbones (torchvision-keyed ResNets, Cadene-keyed SE-ResNet-50, a narrow CPU backbone) behind one
factory, local ImageNet weight loading, the non-local block, BNNeck and the shared losses.
"""

from reidbench_baselines.common.backbones import (
    BACKBONE_INFO,
    BackboneInfo,
    backbone_names,
    build_backbone,
)
from reidbench_baselines.common.bnneck import BNNeck
from reidbench_baselines.common.losses import (
    batch_hard_triplet,
    label_smoothed_ce,
    pairwise_euclidean,
)
from reidbench_baselines.common.non_local import NonLocalBlock
from reidbench_baselines.common.pretrained import (
    check_state_keys,
    load_pretrained,
    no_imagenet_notice,
    read_state_dict,
)
from reidbench_baselines.common.resnet import BACKBONES, BasicBlock, Bottleneck, ResNet
from reidbench_baselines.common.senet import SEResNet, SEResNetBottleneck

__all__ = [
    "BACKBONES",
    "BACKBONE_INFO",
    "BNNeck",
    "BackboneInfo",
    "BasicBlock",
    "Bottleneck",
    "NonLocalBlock",
    "ResNet",
    "SEResNet",
    "SEResNetBottleneck",
    "backbone_names",
    "batch_hard_triplet",
    "build_backbone",
    "check_state_keys",
    "label_smoothed_ce",
    "load_pretrained",
    "no_imagenet_notice",
    "pairwise_euclidean",
    "read_state_dict",
]
