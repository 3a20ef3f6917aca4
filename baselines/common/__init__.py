"""Building blocks shared by the five baselines, written once."""

from baselines.common.bnneck import BNNeck
from baselines.common.losses import batch_hard_triplet, label_smoothed_ce, pairwise_euclidean
from baselines.common.pretrained import load_pretrained
from baselines.common.resnet import BACKBONES, ResNet, build_backbone

__all__ = ["BACKBONES", "BNNeck", "ResNet", "batch_hard_triplet", "build_backbone",
           "label_smoothed_ce", "load_pretrained", "pairwise_euclidean"]
