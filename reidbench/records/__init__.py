"""Records: the typed result record, result directories and sweep records (stdlib + numpy).

This layer sits below the engine: the engine builds a :class:`ResultRecord` and writes it with
:meth:`EvalResult.write`; the leaderboard and report layers only read records, through
:func:`read_result`, :func:`load_per_query`, :func:`check_result` and :func:`read_sweep`, and never
import the engine. docs/results-schema.md is generated from the record types
(:mod:`reidbench.records.schema_doc`); :mod:`reidbench.records.result` says how to add a field.
"""

from __future__ import annotations

from reidbench.records._codec import FrozenDict, Record, RecordError
from reidbench.records.files import (
    RESULT_FILES,
    EvalResult,
    check_out_dir,
    check_result,
    load_per_query,
    read_record_json,
    read_result,
    recover_out_dir,
)
from reidbench.records.result import (
    RECORD_TYPES,
    RESULT_SCHEMA,
    AdapterInfo,
    DatasetInfo,
    MetricCell,
    ModelFileInfo,
    ProtocolRef,
    Provenance,
    ResultRecord,
    SourceRecord,
    SplitRecord,
    SubmissionInfo,
)
from reidbench.records.sweep import SWEEP_SCHEMA, read_sweep

__all__ = [
    "RESULT_SCHEMA",
    "SWEEP_SCHEMA",
    "RESULT_FILES",
    "RECORD_TYPES",
    "Record",
    "RecordError",
    "FrozenDict",
    "ResultRecord",
    "ProtocolRef",
    "MetricCell",
    "SplitRecord",
    "SourceRecord",
    "AdapterInfo",
    "ModelFileInfo",
    "DatasetInfo",
    "Provenance",
    "SubmissionInfo",
    "EvalResult",
    "read_result",
    "read_record_json",
    "load_per_query",
    "check_result",
    "check_out_dir",
    "recover_out_dir",
    "read_sweep",
]
