"""DenseIL (He et al., ICCV 2021) as a reidbench plugin, built from the supplement."""

from reidbench_baselines.denseil.adapter import DenseILAdapter
from reidbench_baselines.denseil.decoder import DIBlock, DIDecoder, PPool, STEPEmb, pyramid_pool
from reidbench_baselines.denseil.model import DenseIL, DenseILConfig

__all__ = ["DIBlock", "DIDecoder", "DenseIL", "DenseILAdapter", "DenseILConfig", "PPool",
           "STEPEmb", "pyramid_pool"]
