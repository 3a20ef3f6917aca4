"""The evaluation engine: ``evaluate(protocol, data_root, source) -> EvalResult``."""

from __future__ import annotations

from reidbench.engine.evalset import EvalItem, EvalSet, build_evalset, dataset_fingerprint
from reidbench.engine.evaluate import evaluate
from reidbench.engine.results import RESULT_SCHEMA, EvalResult, SplitScores, read_result
from reidbench.engine.sources import (
    AdapterSource,
    FeaturesSource,
    Source,
    check_features_for_protocol,
)

__all__ = [
    "AdapterSource",
    "EvalItem",
    "EvalResult",
    "EvalSet",
    "FeaturesSource",
    "RESULT_SCHEMA",
    "Source",
    "SplitScores",
    "build_evalset",
    "check_features_for_protocol",
    "dataset_fingerprint",
    "evaluate",
    "read_result",
]
