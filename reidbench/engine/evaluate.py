"""``evaluate``: one call from a protocol, a dataset copy and a model (or features) to a result."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from reidbench.engine.evalset import EvalSet, build_evalset, dataset_fingerprint, limit_evalset
from reidbench.engine.provenance import environment, utc_now
from reidbench.engine.results import SplitScores
from reidbench.engine.scoring import (
    DEFAULT_MAX_MATRIX_MB,
    matrix_bytes,
    score_split,
    score_split_streamed,
)
from reidbench.engine.sources import Prepared, Source
from reidbench.errors import DataError, InputError, ProtocolError, describe
from reidbench.protocols import Procedure, Protocol, get_protocol
from reidbench.records import (
    RESULT_SCHEMA,
    DatasetInfo,
    EvalResult,
    MetricCell,
    ProtocolRef,
    Provenance,
    ResultRecord,
    SourceRecord,
    SplitRecord,
    SubmissionInfo,
)
from reidbench.registry import suggest

__all__ = ["evaluate"]

Progress = Callable[[str, int, int], None]


def evaluate(
    protocol: str | Protocol,
    data_root: str | Path,
    source: Source,
    *,
    procedure: dict[str, Any] | None = None,
    splits: list[str] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    topk: int = 20,
    limit: int | None = None,
    progress: Progress | None = None,
    max_matrix_mb: float = DEFAULT_MAX_MATRIX_MB,
    submission: SubmissionInfo | Mapping[str, str | None] | None = None,
) -> EvalResult:
    """Evaluate a model or a features file under a protocol.

    Args:
        protocol: Protocol id (``"mars/v2v@1"``) or record.
        data_root: Root of the dataset copy in its official layout.
        source: A :class:`~reidbench.engine.sources.Source`: :class:`FeaturesSource`,
            :class:`AdapterSource` or :class:`~reidbench.engine.modelfile.ModelFileSource`.
        procedure: User overrides of the feature procedure (``{"seq_len": 16}``); they win over the
            adapter's own procedure, which wins over the protocol's default.
        splits: Evaluate only these splits (default: all the protocol's splits).
        bootstrap: Bootstrap resamples for CIs (0 disables).
        seed: Seed for the bootstrap and any random sampling.
        topk: Gallery items kept per query in ``per_query.npz``.
        limit: A quick check on ``limit`` queries per split (and a gallery scaled down alike,
            see :func:`~reidbench.engine.evalset.limit_evalset`). The record says so
            (``limit``) and such a result is never filed in a leaderboard.
        progress: ``callback(stage, done, total)``; the CLI renders it.
        max_matrix_mb: Memory budget (MiB) of the query x gallery float64 distance matrix. A
            split whose matrix would be larger is scored without it: distances and metrics are
            streamed in blocks of queries, with identical results. Re-ranking needs the whole
            matrix and is refused past the budget.
        submission: What the submitter says about the result: ``name``, ``description``,
            ``backbone``, ``url`` (:class:`~reidbench.records.SubmissionInfo`, or a dict of
            them); stored in the record and shown by the leaderboards and figures.

    Returns:
        The result; call ``.write(out_dir)`` to save it.

    Every check that needs no features (checkpoints of every split, the adapter's modes, the
    procedure, the declared training dataset) runs before any frame is decoded.

    Raises:
        ProtocolError: Wrong dataset, unknown split, cross-dataset mismatch, single model for a
            multi-split protocol, a checkpoint of another split, an adapter without the protocol's
            mode.
        CheckpointError: A missing, unsafe or malformed checkpoint.
        InputError: A bad procedure field (sampling, input size), extraction overrides given
            with a features file, a bad ``max_matrix_mb``, or re-ranking of a split whose
            matrix exceeds ``max_matrix_mb``.
        DataError: A bad dataset copy or features file, or a split where every query is skipped.
    """
    from reidbench.datasets import load

    t0 = time.perf_counter()
    if submission is not None and not isinstance(submission, SubmissionInfo):
        submission = SubmissionInfo.from_options(**dict(submission))  # checked before any work
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    ev = proto.evaluation
    run_splits = list(splits) if splits else list(ev.splits)
    if limit is not None:
        limit_evalset(EvalSet(proto.id, "", (), ()), limit)  # check the value before any work
    unknown = [s for s in run_splits if s not in ev.splits]
    if unknown:
        raise ProtocolError(describe("split", proto.id, f"one of {list(ev.splits)}", unknown, ""),
                            param="split")
    _check_overrides(procedure or {}, source.extracts)
    dataset = load(ev.dataset, data_root)
    prepared = source.prepare(proto, run_splits)
    train_dataset, warnings = _check_training_dataset(proto, prepared.train_datasets)
    proc: Procedure = prepared.procedure.override(**(procedure or {}))
    if source.extracts:
        _check_procedure(proc, prepared)
    fingerprint = dataset_fingerprint(dataset)
    budget = _check_budget(max_matrix_mb)

    split_scores: list[SplitScores] = []
    split_info: dict[str, Any] = {}
    for split in run_splits:
        evalset = build_evalset(dataset, proto, split, fingerprint)
        if limit is not None:
            evalset = limit_evalset(evalset, limit)
        streamed = matrix_bytes(len(evalset.query), len(evalset.gallery)) > budget
        if streamed and proc.rerank:  # before any frame is decoded
            raise InputError(_rerank_budget(evalset, max_matrix_mb), param="max_matrix_mb")
        t_split = time.perf_counter()
        inputs = prepared.inputs(evalset, proc, progress)
        t_feat = time.perf_counter() - t_split
        scores, how = _score(inputs, evalset, proto, proc, streamed, bootstrap, seed, topk)
        _check_counted(scores, proto)
        split_scores.append(scores)
        split_info[split] = {**inputs.info, "scoring": how,
                             "seconds_features": round(t_feat, 3),
                             "seconds_scoring": round(time.perf_counter() - t_split - t_feat, 3),
                             "seconds_total": round(time.perf_counter() - t_split, 3)}
        if progress:
            progress("splits", len(split_scores), len(run_splits))

    if limit is not None:
        warnings = [*warnings, f"a quick check on at most {limit} queries per split (limit): "
                    "not comparable with full results, and never filed in a leaderboard"]
    timings: dict[str, Any] = {s: {k: v for k, v in i.items() if k.startswith("seconds")}
                               for s, i in split_info.items()}
    timings["total_seconds"] = round(time.perf_counter() - t0, 3)
    record = _record(proto, proc, dataset, data_root, prepared, source.extracts, split_scores,
                     split_info, seed, fingerprint)
    record = replace(record, source=replace(record.source, train_dataset=train_dataset),
                     timings=timings, limit=limit, warnings=tuple(warnings),
                     # resamples behind the CIs: a re-run (--verify) needs them
                     bootstrap=bootstrap, submission=submission)
    per_query = {f"{s.split}/{k}": v for s in split_scores for k, v in s.per_query.items()}
    return EvalResult(record, per_query)


#: Procedure fields applied while extracting features; a features file was extracted elsewhere.
_EXTRACTION_FIELDS = ("sampling", "seq_len", "pooling", "flip", "input_size")


def _check_overrides(overrides: dict[str, Any], extracts: bool) -> None:
    given = sorted(k for k in _EXTRACTION_FIELDS if overrides.get(k) is not None)
    if given and not extracts:
        raise InputError(describe("procedure", "evaluate of a source given features",
                                  "only options that act on given features (distance, rerank, "
                                  "normalize)", f"{given}: the features file was extracted "
                                  "elsewhere", "drop them, or evaluate the model (AdapterSource)"),
                         param=given[0])


def _check_procedure(proc: Procedure, prepared: Prepared) -> None:
    """Check the resolved procedure's fields before any frame is decoded."""
    from reidbench.datasets.sampling import SAMPLERS

    if proc.sampling not in SAMPLERS:
        names = SAMPLERS.names()
        raise InputError(describe("sampling", "the procedure", f"one of {names}",
                                  repr(proc.sampling), suggest(str(proc.sampling), names)),
                         param="sampling")
    size = tuple(proc.input_size)
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise InputError(describe("input_size", "the procedure", "(height, width), two positive "
                                  "integers", repr(proc.input_size), ""), param="input_size")
    for name in ("flip", "rerank", "normalize"):
        if not isinstance(getattr(proc, name), bool):
            raise InputError(describe(name, "the procedure", "true or false",
                                      repr(getattr(proc, name)), ""), param=name)
    if proc.rerank and prepared.uses_scorer:
        raise ProtocolError(describe("rerank", "the procedure", "a feature-based model",
                                     f"the pairwise scorer {prepared.name!r}",
                                     "use rerank=false for this adapter"), param="rerank")


def _check_training_dataset(proto: Protocol, declared: dict[str, str | None]
                            ) -> tuple[Any, list[str]]:
    """Refuse a model declared as trained on the wrong dataset; note an undeclared one.

    Returns:
        ``(train_dataset for the record, warnings)``: the declared name (one per split when the
        splits' checkpoints differ), or ``"undeclared"``.
    """
    want = proto.evaluation.train_dataset
    values = {split: name or "undeclared" for split, name in declared.items()}
    summary: Any = next(iter(values.values())) if len(set(values.values())) == 1 else values
    if want is None:
        return summary, []
    for split, name in declared.items():
        if name is not None and name != want:
            where = proto.id if len(declared) == 1 else f"{proto.id} {split}"
            raise ProtocolError(describe("training dataset", where, f"a model trained on {want}",
                                         f"a checkpoint that declares {name}",
                                         f"use a checkpoint trained on {want}'s train split"))
    if all(name is not None for name in declared.values()):
        return summary, []
    return summary, [f"{proto.id} requires a model trained on {want}, but the model declares no "
                     "training dataset (a checkpoint declares it in its metadata as "
                     f"'train_dataset'; a features file or a run without a checkpoint cannot): "
                     "the record says train_dataset: undeclared"]


def _check_counted(scores: SplitScores, proto: Protocol) -> None:
    """Refuse a split where no query has a valid positive: it has no number to report."""
    n = scores.counts["n_queries"]
    if n and scores.counts["n_skipped"] == n:
        raise DataError(describe(f"queries of split {scores.split}", proto.id,
                                 "at least one query with a valid positive in the gallery",
                                 f"all {n} skipped by the no-positive policy "
                                 f"{proto.evaluation.no_positive!r}",
                                 "use a larger dataset copy (or another protocol): every metric "
                                 "would be undefined"))


def _check_budget(max_matrix_mb: Any) -> float:
    """``max_matrix_mb`` in bytes; refuse anything but a positive number."""
    if isinstance(max_matrix_mb, bool) or not isinstance(max_matrix_mb, int | float) or not (
            max_matrix_mb > 0 and np.isfinite(max_matrix_mb)):
        raise InputError(describe("max_matrix_mb", "evaluate", "a positive number of MiB",
                                  repr(max_matrix_mb), ""), param="max_matrix_mb")
    return float(max_matrix_mb) * (1 << 20)


def _rerank_budget(evalset: Any, max_matrix_mb: float) -> str:
    q, g = len(evalset.query), len(evalset.gallery)
    need = -(-matrix_bytes(q, g) // (1 << 20))  # MiB, rounded up
    return describe("max_matrix_mb", f"evaluate (rerank, split {evalset.split})",
                    f"a budget holding the {q} x {g} distance matrix that re-ranking needs whole "
                    f"({need:,} MiB)", f"max_matrix_mb={max_matrix_mb:g}",
                    f"set max_matrix_mb={need} or more if the memory is there, or drop rerank")


def _score(inputs: Any, evalset: Any, proto: Protocol, proc: Procedure, streamed: bool,
           bootstrap: int, seed: int, topk: int) -> tuple[SplitScores, str]:
    """Score a split from its matrix, or stream it from its features; say which."""
    from reidbench.metrics import compute_distance

    ev = proto.evaluation
    if inputs.distmat is None and streamed:
        return score_split_streamed(inputs.query_features, inputs.gallery_features, evalset, ev,
                                    distance=proc.distance, bootstrap=bootstrap, seed=seed,
                                    topk=topk), "streamed"
    distmat = inputs.distmat
    if distmat is None:
        distmat = compute_distance(inputs.query_features, inputs.gallery_features,
                                   metric=proc.distance)
    if proc.rerank:
        distmat = _rerank(distmat, inputs, proc)
    return score_split(distmat, evalset, ev, bootstrap=bootstrap, seed=seed,
                       topk=topk), "matrix"


def _rerank(distmat: np.ndarray, inputs: Any, proc: Procedure) -> np.ndarray:
    from reidbench.metrics import compute_distance
    from reidbench.metrics.rerank import k_reciprocal_rerank

    if inputs.query_features is None:  # checked up front for adapters (_check_procedure)
        raise ProtocolError(describe("rerank", "procedure", "a feature-based model",
                                     "a pairwise scorer", "drop rerank for this adapter"))
    qf, gf = inputs.query_features, inputs.gallery_features
    return k_reciprocal_rerank(distmat, compute_distance(qf, qf, metric=proc.distance),
                               compute_distance(gf, gf, metric=proc.distance))


def _aggregate(split_scores: list[SplitScores]
               ) -> tuple[dict[str, MetricCell], dict[str, dict[str, float]]]:
    if len(split_scores) == 1:
        s = split_scores[0]
        return _cells(s.metrics), s.metrics_by_variant
    metrics: dict[str, MetricCell] = {}
    keys = list(split_scores[0].metrics)  # the protocol's summary metrics, in report order
    for key in keys:
        vals = np.array([s.metrics[key]["value"] for s in split_scores])
        metrics[key] = MetricCell(value=float(vals.mean()), std=float(vals.std(ddof=1)), ci=None,
                                  per_split=tuple(float(v) for v in vals))
    by_variant = {
        var: {key: float(np.mean([s.metrics_by_variant[var][key] for s in split_scores]))
              for key in keys}
        for var in split_scores[0].metrics_by_variant
    }
    return metrics, by_variant


def _cells(metrics: dict[str, dict[str, Any]]) -> dict[str, MetricCell]:
    return {k: MetricCell(value=v["value"], ci=v["ci"]) for k, v in metrics.items()}


def _record(proto: Protocol, proc: Procedure, dataset: Any, data_root: str | Path,
            prepared: Prepared, extracts: bool, split_scores: list[SplitScores],
            split_info: dict[str, Any], seed: int, fingerprint: str) -> ResultRecord:
    """The record of the scored splits; the caller adds what the whole run knows."""
    metrics, by_variant = _aggregate(split_scores)
    procedure = proc.to_dict()
    if not extracts:
        # the submitter extracted the features: only distance, normalisation and re-ranking apply
        procedure.update({k: None for k in _EXTRACTION_FIELDS})
    return ResultRecord(
        schema=RESULT_SCHEMA,
        created=utc_now(),
        protocol=ProtocolRef(id=proto.id, name=proto.name, version=proto.version,
                             fingerprint=proto.fingerprint, evaluation=proto.evaluation_dict()),
        headline_ap=proto.evaluation.ap,
        metrics=metrics,
        metrics_by_variant=by_variant,
        n_queries=sum(s.counts["n_queries"] for s in split_scores),
        n_skipped=sum(s.counts["n_skipped"] for s in split_scores),
        splits=tuple(SplitRecord(split=s.split, **s.counts, metrics=_cells(s.metrics),
                                 metrics_by_variant=s.metrics_by_variant, cmc=tuple(s.cmc),
                                 source=split_info[s.split]) for s in split_scores),
        procedure=procedure,
        # the source's own section (Prepared.record), checked against the record type
        source=SourceRecord.from_json(prepared.record(split_info), "the evaluated source"),
        config=prepared.config(),
        dataset=DatasetInfo(name=dataset.name, root=str(data_root), fingerprint=fingerprint,
                            n_tracklets=len(dataset.tracklets),
                            # a reidbench synthetic copy carries its ground truth; its numbers
                            # are never comparable with the real dataset's
                            synthetic=(Path(data_root) / "_reidbench_synth.json").is_file(),
                            # the split file used, where a layout has alternatives (PRID-2011)
                            split_source=dataset.split_source),
        seed=seed,
        environment=Provenance(**environment(prepared.device)),
    )
