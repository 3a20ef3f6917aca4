"""Presets: the combination of metric options each codebase computes, under one name.

``rank_metrics(..., preset="mars_official")`` fixes the AP variant, tie policy, no-positive policy,
junk rules and CMC mode; passing an option that contradicts the chosen preset raises ``InputError``.
``reidbench metrics presets`` lists them. The facts behind each one (formulas, policies and the
code they come from) are in ``docs/metrics.md``.

Tie order: torchreid-style code sorts with numpy's default (unstable, platform-dependent) argsort;
no evaluator can reproduce that order on another machine, so those presets use ``stable``, which is
identical whenever there are no ties. Junk pid -1: torchreid, TKP, COSAM and STMN drop pid -1 items
when they build the gallery, which gives the same numbers as treating them as junk, so every preset
keeps ``junk_pids=(-1,)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reidbench.metrics.options import MetricOptions
from reidbench.registry import Registry

__all__ = ["Preset", "PRESETS", "PRESET_FIELDS"]

#: The :class:`MetricOptions` fields a preset fixes (``max_rank`` and ``cmc_ranks`` stay free).
PRESET_FIELDS = ("ap", "ties", "no_positive", "junk_pids", "same_camera", "cmc")


@dataclass(frozen=True)
class Preset:
    """A named, fixed combination of metric options.

    Attributes:
        name: Registry name.
        metric: The options it fixes (:data:`PRESET_FIELDS`; the others keep their defaults).
        codebase: The code this reproduces (repository and file).
        description: What it computes, in words.
    """

    name: str
    metric: MetricOptions
    codebase: str
    description: str

    def options(self) -> dict[str, Any]:
        """The metric options this preset fixes (keyword arguments of ``rank_metrics``)."""
        return {k: getattr(self.metric, k) for k in PRESET_FIELDS}


PRESETS: Registry[Preset] = Registry("metric preset", base=Preset)


def _add(name: str, ap: str, no_positive: str, cmc: str, codebase: str, description: str) -> None:
    PRESETS.register(name, Preset(name, MetricOptions(ap=ap, ties="stable",
                                                      no_positive=no_positive, junk_pids=(-1,),
                                                      same_camera="junk", cmc=cmc),
                                  codebase, description))


_add("torchreid", "noninterp", "skip", "first_match",
     "KaiyangZhou/deep-person-reid torchreid/metrics/rank.py eval_market1501 (Python and Cython)",
     "Non-interpolated AP (mean precision at each positive), first-match CMC, queries without a "
     "cross-camera positive skipped. numpy's default argsort order among ties is replaced by the "
     "stable order (identical without ties).")
_add("fastreid", "noninterp", "skip", "first_match",
     "JDAI-CV/fast-reid fastreid/evaluation/rank.py evaluate_rank (Python and Cython)",
     "Same as torchreid plus mINP (INP = positives / rank of the last positive); the Cython "
     "evaluator's float32 accumulation differs by < 1e-7.")
_add("mars_official", "trapezoid", "nan", "first_match",
     "liangzheng06/MARS-evaluation utils/evaluation_mars.m + compute_AP.m (MATLAB)",
     "Trapezoidal AP starting from precision 1 at recall 0, stable (MATLAB) sort, pid -1 junk, "
     "every query counted: a query without a positive gives AP NaN (so mAP NaN) and a zero CMC "
     "row.")
_add("market_official", "trapezoid", "zero", "first_match",
     "zhunzhong07/person-re-ranking evaluation/Market_1501_evaluation.m + compute_AP.m (MATLAB)",
     "Trapezoidal AP as MARS, every query counted, a query without a positive gives AP 0 "
     "(ap(isnan(ap)) = 0) and a zero CMC row.")
_add("tkp", "trapezoid", "skip", "first_match",
     "guxinqian/TKP utils/eval_metrics.py evaluate (Gu et al. ICCV 2019)",
     "The MATLAB trapezoidal AP re-implemented in numpy, queries without a positive skipped.")
_add("ap3d", "noninterp", "skip", "first_match",
     "guxinqian/AP3D tools/eval_metrics.py evaluate (Gu et al. ECCV 2020)",
     "Non-interpolated AP, first-match CMC, queries without a positive skipped.")
_add("stmn", "noninterp", "skip", "first_match",
     "cvlab-yonsei/STMN util/cmc.py Compute_AP",
     "Non-interpolated AP, first-match CMC, queries without a positive skipped.")
_add("cosam", "noninterp", "skip", "first_match",
     "InnovArul/vidreid_cosegmentation src/eval_metrics.py (COSAM)",
     "Non-interpolated AP as torchreid (gallery built without the queries on MARS).")
_add("read", "sklearn_legacy", "skip_raw", "first_match",
     "minostauros/READ utils/metric_utils.py (scikit-learn 0.18 code) + utils/iter_utils.py",
     "scikit-learn < 0.19 AP (trapezoidal area under the PR curve from (0, 1), tied scores one "
     "threshold). A query is skipped only if the gallery has no item of its pid at all; if every "
     "such item is same-camera junk it counts with AP 0.")
_add("openreid_sklearn_pre019", "sklearn_legacy", "skip", "allshots",
     "Cysu/open-reid reid/evaluation_metrics/ranking.py mean_ap + cmc, with scikit-learn < 0.19",
     "scikit-learn < 0.19 AP per query on the junk-free list, open-reid's default all-shots CMC "
     "(mean over positives of [fewer than k negatives above it]). Li et al. CVPR 2018 probably.")
_add("openreid_sklearn_post019", "sklearn_step", "skip", "allshots",
     "Cysu/open-reid reid/evaluation_metrics/ranking.py mean_ap + cmc, with scikit-learn >= 0.19",
     "scikit-learn >= 0.19 AP (step sum over thresholds, ties grouped), all-shots CMC.")
_add("sklearn", "sklearn_step", "skip", "first_match",
     "a plain loop of sklearn.metrics.average_precision_score(y, -distance) per query",
     "Current scikit-learn AP per query on the junk-free list, queries without a positive skipped.")
PRESETS.freeze()
