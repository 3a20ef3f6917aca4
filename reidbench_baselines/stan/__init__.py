"""STAN / DRSA (Li et al., CVPR 2018) as a reidbench plugin."""

from reidbench_baselines.stan.adapter import STANAdapter
from reidbench_baselines.stan.attention import (
    FeatureEnhancement,
    SpatialAttention,
    TemporalAttention,
    temporal_similarity,
)
from reidbench_baselines.stan.losses import OIMLoss, diversity_regularizer
from reidbench_baselines.stan.model import STAN, STANConfig

__all__ = ["STAN", "STANAdapter", "STANConfig", "FeatureEnhancement", "OIMLoss",
           "SpatialAttention", "TemporalAttention", "diversity_regularizer", "temporal_similarity"]
