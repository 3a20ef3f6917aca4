"""COSAM (Subramaniam, Nambiar, Mittal; ICCV 2019): model, COSAM layer and losses."""

from reidbench_baselines.cosam.adapter import COSAMAdapter
from reidbench_baselines.cosam.layer import COSAMLayer, ncc_cost_volume, standardize_channels
from reidbench_baselines.cosam.model import COSAM, COSAMConfig, cosam_loss

__all__ = ["COSAM", "COSAMAdapter", "COSAMConfig", "COSAMLayer", "cosam_loss", "ncc_cost_volume",
           "standardize_channels"]
