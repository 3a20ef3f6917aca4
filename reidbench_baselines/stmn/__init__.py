"""STMN (Eom et al., ICCV 2021) as a reidbench plugin."""

from reidbench_baselines.stmn.adapter import STMNAdapter
from reidbench_baselines.stmn.losses import stmn_loss
from reidbench_baselines.stmn.model import (
    ADDRESSING,
    STMN,
    STMNConfig,
    channel_norm_addressing,
    cosine_addressing,
    memory_spread_loss,
)

__all__ = ["ADDRESSING", "STMN", "STMNAdapter", "STMNConfig", "channel_norm_addressing",
           "cosine_addressing", "memory_spread_loss", "stmn_loss"]
