"""The AP variants: named, versioned, documented functions of the shared per-positive ranks.

Notation (per query, junk removed): ``G`` positives at 1-based ranks ``r_1 < ... < r_G`` under the
tie policy; ``P(k)`` = positives in the top ``k`` / ``k``. For the sklearn variants the ranking is
replaced by thresholds: items at equal distance form one group, and a positive's group has
``TP_before``/``N_before`` positives/items strictly before it and ``TP_through``/``N_through``
through its end. Each variant is ``AP = (1/G) * sum over positives of term(positive)``:

========================  =========================================================================
``noninterp``             ``i / r_i``
``trapezoid``             ``(i / r_i + (i - 1) / (r_i - 1)) / 2``, second part 1 when ``r_i = 1``
``sklearn_step``          ``TP_through / N_through``
``sklearn_legacy``        ``(TP_through / N_through + TP_before / N_before) / 2``, the second part 1
                          when ``N_before = 0``
========================  =========================================================================

The registry :data:`AP_VARIANTS` maps each name to an :class:`APVariant` record; the version string
changes whenever what a name computes changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reidbench.metrics._ranks import PositiveRanks
from reidbench.registry import Registry

__all__ = ["APVariant", "AP_VARIANTS", "AP_VARIANT_ORDER", "ap_terms"]


@dataclass(frozen=True)
class APVariant:
    """One AP formula.

    Attributes:
        name: Registry name (part of the public contract).
        version: Changes whenever the values this name computes change.
        formula: The per-positive term, in the notation of this module.
        used_by: The codebases that compute it.
        ties: ``"order"`` if it follows the tie policy's order, ``"grouped"`` if tied items form one
            threshold (independent of the tie policy).
        term: ``PositiveRanks -> (P,) float64`` per-positive terms; AP is their mean per query.
    """

    name: str
    version: str
    formula: str
    used_by: str
    ties: str
    term: Callable[[PositiveRanks], np.ndarray]


def _noninterp(pr: PositiveRanks) -> np.ndarray:
    return pr.index / pr.rank


def _trapezoid(pr: PositiveRanks) -> np.ndarray:
    prev = np.ones(pr.rank.shape[0], dtype=np.float64)
    later = pr.rank > 1
    prev[later] = (pr.index[later] - 1) / (pr.rank[later] - 1)
    return 0.5 * (pr.index / pr.rank + prev)


def _sklearn_step(pr: PositiveRanks) -> np.ndarray:
    return pr.pos_through / pr.n_through


def _sklearn_legacy(pr: PositiveRanks) -> np.ndarray:
    n_before = pr.n_before
    before = np.ones(n_before.shape[0], dtype=np.float64)
    some = n_before > 0
    before[some] = pr.pos_before[some] / n_before[some]
    return 0.5 * (pr.pos_through / pr.n_through + before)


_VARIANTS = (
    APVariant("noninterp", "1", "AP = (1/G) sum_i i / r_i  (mean precision at each positive)",
              "torchreid, fast-reid, ReID-Survey, STMN, COSAM, AP3D, jiyanggao/Video-Person-ReID",
              "order", _noninterp),
    APVariant("trapezoid", "1",
              "AP = (1/G) sum_i [i/r_i + (i-1)/(r_i-1)] / 2, P(0) = 1  (Market/MARS MATLAB "
              "compute_AP.m)",
              "official Market-1501 and MARS MATLAB evaluation, TKP", "order", _trapezoid),
    APVariant("sklearn_step", "1",
              "AP = sum_t (R_t - R_{t-1}) P_t over distinct-distance thresholds (ties grouped)",
              "scikit-learn >= 0.19 average_precision_score; open-reid with new scikit-learn",
              "grouped", _sklearn_step),
    APVariant("sklearn_legacy", "1",
              "AP = sum_t (R_t - R_{t-1}) (P_t + P_{t-1}) / 2 from (R, P) = (0, 1) (ties grouped)",
              "scikit-learn < 0.19 average_precision_score (auc of the PR curve); READ; open-reid "
              "then", "grouped", _sklearn_legacy),
)

AP_VARIANTS: Registry[APVariant] = Registry("AP variant", base=APVariant)
for _variant in _VARIANTS:
    AP_VARIANTS.register(_variant.name, _variant)
AP_VARIANTS.freeze()

#: The variant names in display order (the field's default, the official MATLAB one, then the two
#: scikit-learn ones); ``AP_VARIANTS.names()`` is sorted.
AP_VARIANT_ORDER: tuple[str, ...] = tuple(v.name for v in _VARIANTS)


def ap_terms(name: str, pr: PositiveRanks) -> np.ndarray:
    """Per-positive terms of AP variant ``name`` (AP of a query = their mean over its positives)."""
    return AP_VARIANTS.get(name).term(pr)
