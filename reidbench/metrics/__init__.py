"""The metric engine: mAP (every AP variant), CMC and mINP, fast and exactly as each codebase does.

Public API::

    from reidbench.metrics import rank_metrics, rank_metrics_from_features, RankMetrics, PRESETS
    from reidbench.metrics import MetricOptions, compute_distance, single_gallery_shot_cmc

The metric vocabulary (AP variants, tie and no-positive policies, CMC modes, distances, summary
metric names) is defined once, in :mod:`reidbench.metrics.options` and the registries it names;
``docs/metrics.md`` explains every choice.

Post-processing (re-ranking, query expansion), statistics and the synthetic problem live in their
own modules (``rerank``, ``query_expansion``, ``stats``, ``synthetic``) and are imported from there.
"""

from __future__ import annotations

from reidbench.metrics.distance import DISTANCES, compute_distance
from reidbench.metrics.options import (
    AP_VARIANT_ORDER,
    CMC_MODES,
    DEFAULT_CMC_RANKS,
    NO_POSITIVE_POLICIES,
    SAME_CAMERA_RULES,
    SUMMARY_METRICS,
    TIE_POLICIES,
    MetricOptions,
    summary_names,
)
from reidbench.metrics.presets import PRESETS, Preset
from reidbench.metrics.rank import RankMetrics, rank_metrics, rank_metrics_from_features
from reidbench.metrics.single_shot import single_gallery_shot_cmc
from reidbench.metrics.variants import AP_VARIANTS, APVariant

__all__ = [
    "rank_metrics",
    "rank_metrics_from_features",
    "RankMetrics",
    "MetricOptions",
    "PRESETS",
    "Preset",
    "AP_VARIANTS",
    "AP_VARIANT_ORDER",
    "APVariant",
    "TIE_POLICIES",
    "NO_POSITIVE_POLICIES",
    "CMC_MODES",
    "SAME_CAMERA_RULES",
    "DISTANCES",
    "DEFAULT_CMC_RANKS",
    "SUMMARY_METRICS",
    "summary_names",
    "compute_distance",
    "single_gallery_shot_cmc",
]
