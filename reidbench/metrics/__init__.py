"""The metric engine: mAP (every AP variant), CMC and mINP, fast and exactly as each codebase does.

Public API::

    from reidbench.metrics import rank_metrics, rank_metrics_from_features, RankMetrics, PRESETS
    from reidbench.metrics import compute_distance, single_gallery_shot_cmc, AP_VARIANTS

Post-processing (re-ranking, query expansion), statistics and the synthetic problem live in their
own modules (``rerank``, ``query_expansion``, ``stats``, ``synthetic``) and are imported from there.
"""

from __future__ import annotations

from reidbench.metrics._ranks import TIE_POLICIES
from reidbench.metrics.distance import DISTANCES, compute_distance
from reidbench.metrics.presets import PRESETS, Preset
from reidbench.metrics.rank import (
    CMC_MODES,
    NO_POSITIVE_POLICIES,
    SAME_CAMERA_RULES,
    RankMetrics,
    rank_metrics,
    rank_metrics_from_features,
)
from reidbench.metrics.single_shot import single_gallery_shot_cmc
from reidbench.metrics.variants import AP_VARIANTS, APVariant

__all__ = [
    "rank_metrics",
    "rank_metrics_from_features",
    "RankMetrics",
    "PRESETS",
    "Preset",
    "AP_VARIANTS",
    "APVariant",
    "TIE_POLICIES",
    "NO_POSITIVE_POLICIES",
    "CMC_MODES",
    "SAME_CAMERA_RULES",
    "DISTANCES",
    "compute_distance",
    "single_gallery_shot_cmc",
]
