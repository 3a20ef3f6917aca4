"""The engine's scores of one split, before they become a result record.

The record itself (``results.json`` + ``per_query.npz``), its reader and its writer live in
:mod:`reidbench.records`, below the engine; the names re-exported here (``EvalResult``,
``read_result``, ...) are the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reidbench.records import (
    RESULT_SCHEMA,
    EvalResult,
    check_out_dir,
    load_per_query,
    read_result,
    recover_out_dir,
)

__all__ = ["RESULT_SCHEMA", "EvalResult", "SplitScores", "check_out_dir", "read_result",
           "load_per_query", "recover_out_dir"]


@dataclass
class SplitScores:
    """Scores of one split: summary, per-variant summaries and the per-query arrays.

    Attributes:
        split: Split name.
        metrics: Headline summary ``{key: {"value": float, "ci": [lo, hi] | None}}``.
        metrics_by_variant: ``{variant: {key: float}}`` for every AP variant.
        counts: ``n_queries``, ``n_gallery``, ``n_skipped``.
        per_query: Arrays keyed by name (``ap``, ``ap_<variant>``, ``first_rank``, ``inp``,
            ``n_positives``, ``counted``, ``topk_index``, ``topk_distance``, ``query_ids``,
            ``gallery_ids``).
        cmc: The CMC curve (length ``max_rank``) under the protocol.
    """

    split: str
    metrics: dict[str, dict[str, Any]]
    metrics_by_variant: dict[str, dict[str, float]]
    counts: dict[str, int]
    per_query: dict[str, np.ndarray]
    cmc: list[float] = field(default_factory=list)
