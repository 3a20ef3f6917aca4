"""Building blocks shared by the five baselines, written once.

Backbones (torchvision-keyed ResNets, Cadene-keyed SE-ResNet-50, a narrow CPU backbone) behind one
factory, local ImageNet weight loading, the non-local block, BNNeck and the shared losses.
"""

from baselines.common.backbones import (
    BACKBONE_INFO,
    BackboneInfo,
    backbone_names,
    build_backbone,
)
from baselines.common.bnneck import BNNeck
from baselines.common.losses import batch_hard_triplet, label_smoothed_ce, pairwise_euclidean
from baselines.common.non_local import NonLocalBlock
from baselines.common.pretrained import check_state_keys, load_pretrained, read_state_dict
from baselines.common.resnet import BACKBONES, BasicBlock, Bottleneck, ResNet
from baselines.common.senet import SEResNet, SEResNetBottleneck

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
    "pairwise_euclidean",
    "read_state_dict",
]
