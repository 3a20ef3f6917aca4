"""The result record (``results.json``, schema ``reidbench.result/1``) as typed, frozen records.

:class:`ResultRecord` is the whole file; :class:`ProtocolRef`, :class:`MetricCell`,
:class:`SplitRecord`, :class:`SourceRecord` (with :class:`AdapterInfo`), :class:`DatasetInfo` and
:class:`Provenance` are its parts. The engine builds one and writes ``to_json()``; readers call
``ResultRecord.from_json(data, where)``, which is the validator: it lists every problem (types,
unknown fields, fractions, intervals, registered protocol and AP variants, splits) before it
builds anything. docs/results-schema.md is generated from these classes
(:mod:`reidbench.records.schema_doc`).

Adding a field: declare it in the class it belongs to with :func:`~reidbench.records._codec.spec`
(its meaning, and a default when older records lack it), set it where the engine builds the record
(``reidbench/engine/evaluate.py``), then run ``python -m reidbench.records.schema_doc`` to
regenerate the doc. Checks its type cannot express go into that class's ``_rules``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reidbench.errors import InputError, describe
from reidbench.records._codec import Problems, Record, join, show, spec

__all__ = ["RESULT_SCHEMA", "MetricCell", "ProtocolRef", "SplitRecord",
           "AdapterInfo", "ModelFileInfo", "SourceRecord", "DatasetInfo", "Provenance",
           "SubmissionInfo", "SUBMISSION_LIMITS", "ResultRecord", "RECORD_TYPES"]

RESULT_SCHEMA = "reidbench.result/1"
SOURCE_KINDS = ("adapter", "features", "model")
MODEL_FILE_FORMATS = ("onnx", "torchscript")

# Slack for a point estimate computed in another summation order than its bootstrap interval.
_TOL = 1e-9
_AGAIN = "re-run the evaluation with this reidbench version"


def _fraction(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0.0 <= value <= 1.0)


def _summary_names(ctx: dict[str, Any]) -> tuple[str, ...]:
    """The summary metric names of the record's protocol (the default ranks' when unknown)."""
    from reidbench.metrics.options import SUMMARY_METRICS, summary_names

    registered = ctx.get("protocol")
    return summary_names(tuple(registered.evaluation.cmc_ranks)) if registered is not None \
        else SUMMARY_METRICS


def _metric_names(p: Problems, raw: Any, at: str, ctx: dict[str, Any]) -> None:
    """The keys of an object of summary metrics are metric names (and there is at least one)."""
    if not isinstance(raw, dict):
        return
    names = _summary_names(ctx)
    if not raw:
        p.add(at, "an object of summary metrics (" + ", ".join(names) + ")", "an empty one")
    for name in raw:
        if name not in names:
            p.add(f"{at}.{name}", "a metric name among " + ", ".join(names), repr(name))


def _variants(p: Problems, raw: Any, at: str, ctx: dict[str, Any]) -> None:
    """``{variant: {metric: fraction}}``: registered AP variants, metric names, fractions."""
    if not isinstance(raw, dict):
        return
    names, metric_names = ctx["ap_names"], _summary_names(ctx)
    for variant, values in raw.items():
        f = f"{at}.{variant}"
        if variant not in names:
            p.add(f, "a registered AP variant (" + ", ".join(names) + ")", repr(variant))
            continue
        for name, value in values.items():
            if name not in metric_names:
                p.add(f"{f}.{name}", "a metric name among " + ", ".join(metric_names),
                      repr(name))
            elif not _fraction(value):
                p.add(f"{f}.{name}", "a fraction in [0, 1]", repr(value))


def ap_variant_names() -> tuple[str, ...]:
    """The AP variants :mod:`reidbench.metrics` registers."""
    from reidbench.metrics.variants import AP_VARIANTS

    return tuple(AP_VARIANTS.names())


@dataclass(frozen=True, kw_only=True)
class MetricCell(Record):
    """One summary metric: a fraction in [0, 1] with its uncertainty."""

    value: float = spec("the metric, a fraction in [0, 1] (a multi-split protocol: the mean over "
                        "splits)")
    std: float | None = spec("multi-split protocols only: the sample standard deviation over "
                             "splits (ddof=1)", default=None, omit_none=True)
    ci: tuple[float, float] | None = spec(
        "seeded percentile bootstrap 95% interval `[lo, hi]` over queries, `lo <= value <= hi`; "
        "null without a bootstrap and for multi-split protocols", default=None)
    per_split: tuple[float, ...] | None = spec("multi-split protocols only: the value of each "
                                               "split, in split order", default=None,
                                               omit_none=True)

    @classmethod
    def _rules(cls, raw: dict[str, Any], values: dict[str, Any], at: str, p: Problems,
               ctx: dict[str, Any]) -> None:
        value = values.get("value")
        if "value" in values and not _fraction(value):
            p.add(f"{at}.value", "a fraction in [0, 1] (result records store fractions)",
                  repr(value))
        ci = values.get("ci")
        if ci is not None:
            if not all(_fraction(x) for x in ci):
                p.add(f"{at}.ci", "null or [lo, hi] with both ends fractions in [0, 1]", show(ci))
            else:
                lo, hi = ci
                if not lo - _TOL <= (value if _fraction(value) else lo) <= hi + _TOL:
                    p.add(f"{at}.ci", "lo <= value <= hi", f"[{lo}, {hi}] around value {value!r}")
        std = values.get("std")
        if std is not None and not _fraction(std):
            p.add(f"{at}.std", "null or a fraction in [0, 1]", repr(std))
        per_split = values.get("per_split")
        if per_split is not None and not all(_fraction(x) for x in per_split):
            p.add(f"{at}.per_split", "a list of fractions in [0, 1]", show(per_split))


@dataclass(frozen=True, kw_only=True)
class ProtocolRef(Record):
    """The protocol a result was computed under, as registered when it was computed."""

    id: str = spec("protocol id with its version, e.g. `mars/v2v@1`; must be registered")
    name: str = spec("protocol name without the version, e.g. `mars/v2v`")
    version: int = spec("protocol version; a change of what the protocol measures bumps it")
    fingerprint: str = spec("sha256 (16 hex) of the canonical JSON of the evaluation part; two "
                            "results are comparable only when their fingerprints are equal")
    evaluation: Mapping[str, Any] = spec("the evaluation part in full (dataset, splits, gallery, "
                                         "junk rules, mode, headline AP, CMC ranks, policies); "
                                         "must equal the registered protocol's")

    @classmethod
    def _rules(cls, raw: dict[str, Any], values: dict[str, Any], at: str, p: Problems,
               ctx: dict[str, Any]) -> None:
        from reidbench.protocols import PROTOCOLS
        from reidbench.registry import suggest

        pid = values.get("id")
        if pid is None:
            return
        if pid not in PROTOCOLS:
            hint = suggest(pid, PROTOCOLS.names())
            p.add(f"{at}.id", "a registered protocol id with version (see `reidbench protocols "
                  "list`)", repr(pid), hint or "re-run the evaluation under a registered protocol")
            return
        registered = PROTOCOLS.get(pid)
        ctx["protocol"] = registered
        if "fingerprint" in values and values["fingerprint"] != registered.fingerprint:
            p.add(f"{at}.fingerprint", f"{registered.fingerprint} (protocol {pid} as registered)",
                  repr(values["fingerprint"]), _AGAIN)
        if "evaluation" not in values:
            return
        evaluation, want = raw["evaluation"], registered.evaluation_dict()
        if evaluation != want:
            keys = sorted(k for k in set(want) | set(evaluation)
                          if evaluation.get(k, "<absent>") != want.get(k, "<absent>"))
            p.add(f"{at}.evaluation", f"the evaluation of {pid} as registered",
                  "differences in " + ", ".join(keys), _AGAIN + "; do not edit results.json")


@dataclass(frozen=True, kw_only=True)
class SplitRecord(Record):
    """One evaluated split (`official` for single-split protocols, `split0`... otherwise)."""

    split: str = spec("split name; a split of the protocol, each once")
    n_queries: int = spec("queries evaluated")
    n_gallery: int = spec("gallery items")
    n_skipped: int = spec("queries skipped by the no-positive policy")
    metrics: Mapping[str, MetricCell] = spec("the split's summary metrics under the headline AP "
                                             "variant")
    metrics_by_variant: Mapping[str, Mapping[str, float]] = spec(
        "the same numbers under every AP variant", default={})
    cmc: tuple[float, ...] = spec("the CMC curve, length `max_rank`", default=())
    source: Mapping[str, Any] = spec(
        "what produced the features: the features file's sha256, or the adapter's card, "
        "checkpoint sha256 and `extraction`: per kind of item (`tracklets`, and for I2V "
        "`query_images`) the `cache` state (`off`, `miss`, `partial`, `hit`), `n_items`, "
        "`n_extracted`, clips, frames, seconds and frames/s, and the `pipeline` that fed the model "
        "(`device`, `workers` and `workers_requested` (`auto` or a number), `torch_threads`, "
        "`pin_memory`, `channels_last`, `autocast` dtype or null, `decoder`, `omp_wait_policy`, "
        "`batch_dtype`); each distinct item is embedded once, so a MARS query that is also a "
        "gallery tracklet is extracted once; and `scoring`: `matrix` (the whole query x gallery "
        "distance matrix) or `streamed` (distances and metrics in blocks of queries, past "
        "`max_matrix_mb`; the same numbers)", default={})

    @classmethod
    def _rules(cls, raw: dict[str, Any], values: dict[str, Any], at: str, p: Problems,
               ctx: dict[str, Any]) -> None:
        registered = ctx.get("protocol")
        name = values.get("split")
        if registered is not None and name is not None:
            allowed = tuple(registered.evaluation.splits)
            if name not in allowed:
                p.add(f"{at}.split", f"a split of {registered.id} ({', '.join(allowed)})",
                      repr(name))
        _metric_names(p, raw.get("metrics"), f"{at}.metrics", ctx)
        if "metrics_by_variant" in values:
            _variants(p, raw["metrics_by_variant"], f"{at}.metrics_by_variant", ctx)


@dataclass(frozen=True, kw_only=True)
class AdapterInfo(Record):
    """The model an adapter evaluation ran (null for a features file)."""

    name: str = spec("the adapter's name (its card's)")
    card: Mapping[str, Any] | None = spec("the adapter's model card (paper, defaults, modes)",
                                          default=None)
    checkpoint_sha256: str | None = spec("sha256 of the checkpoint file (null without one)",
                                         default=None)
    checkpoint_meta: Mapping[str, Any] | None = spec("the checkpoint's metadata (its stored "
                                                     "config, training dataset, ...)", default=None)
    n_parameters: int | None = spec("parameter count (null when the adapter does not know)",
                                    default=None)
    cost: Mapping[str, Any] | None = spec(
        "`gflops_per_clip`: one forward at batch 1 of a `clip_shape` [1, T, 3, H, W] clip, "
        "counted by `flops_counter` = torch's `FlopCounterMode` (an ONNX model file: "
        "`reidbench.engine.onnx_flops`, the same rule on its graph) (matmuls and convolutions, a "
        "multiply-add = 2 FLOPs, element-wise ops ignored; `procedure.flip` runs two such "
        "forwards per clip at extraction; for a pairwise scorer the embedding only, with a "
        "`note` saying so); `gflops_per_image` for I2V protocols; `{}` when not countable",
        default=None)
    seconds_per_item: float | None = spec(
        "extraction seconds per item actually embedded (tracklet or query image; cache hits "
        "excluded); null when every item came from the cache", default=None)


def _one_of(p: Problems, values: dict[str, Any], key: str, allowed: tuple[str, ...],
            at: str) -> None:
    """A field whose value must be one of ``allowed`` (when given)."""
    value = values.get(key)
    if value is not None and value not in allowed:
        p.add(f"{at}.{key}", " or ".join(allowed), repr(value))


@dataclass(frozen=True, kw_only=True)
class ModelFileInfo(Record):
    """A model submitted as a file (``evaluate --model``): the file and what ran it."""

    format: str = spec("`onnx` or `torchscript`")
    path: str = spec("the model file, as given")
    sha256: str = spec("sha256 of the file (also `source.adapter.checkpoint_sha256`)")
    metadata: Mapping[str, str] = spec(
        "the file's `reidbench.*` metadata after its sidecar `FILE.json` (`reidbench.input`, "
        "`reidbench.input_size`, `reidbench.normalize`, `reidbench.seq_len`, `reidbench.name`, "
        "`reidbench.train_dataset`)")
    runtime: str = spec("what ran it: `onnxruntime` or `torch.jit`")
    runtime_version: str = spec("the runtime's version")
    providers: tuple[str, ...] = spec(
        "onnxruntime execution providers in use (`CPUExecutionProvider`, ...); the device for "
        "TorchScript", default=())
    sha256_per_split: Mapping[str, str] | None = spec(
        "multi-split protocols: each split's file sha256", default=None, omit_none=True)
    query_model: Mapping[str, Any] | None = spec(
        "the `--query-model` file that embedded the query images (same fields), or null",
        default=None)

    @classmethod
    def _rules(cls, raw: dict[str, Any], values: dict[str, Any], at: str, p: Problems,
               ctx: dict[str, Any]) -> None:
        _one_of(p, values, "format", MODEL_FILE_FORMATS, at)


@dataclass(frozen=True, kw_only=True)
class SourceRecord(Record):
    """What was evaluated: a model through an adapter, a model file, or a features file."""

    kind: str = spec("`adapter`, `features` or `model` (a model file)")
    adapter: AdapterInfo | None = spec("the model (adapters only)", default=None)
    features_sha256: Mapping[str, str | None] | None = spec(
        "features files only: the sha256 of each split's features file", default=None)
    model: ModelFileInfo | None = spec("model files only (kind `model`): format, runtime and "
                                       "version, sha256 and metadata", default=None,
                                       omit_none=True)
    train_dataset: str | Mapping[str, str] | None = spec(
        "the training dataset the checkpoint declares in its metadata (`meta['train_dataset']`), "
        "`undeclared` when it declares none (always for features files), or one value per split "
        "when the splits' checkpoints differ. Cross-dataset protocols refuse a declared dataset "
        "other than theirs and add a warning when it is undeclared", default=None)

    @classmethod
    def _rules(cls, raw: dict[str, Any], values: dict[str, Any], at: str, p: Problems,
               ctx: dict[str, Any]) -> None:
        _one_of(p, values, "kind", SOURCE_KINDS, at)
        if values.get("kind") == "model" and values.get("model") is None:
            p.add(f"{at}.model", "the model file's section for kind `model`", "none")


@dataclass(frozen=True, kw_only=True)
class DatasetInfo(Record):
    """The dataset copy evaluated on."""

    name: str = spec("layout name (`mars`, `dukev`, `ilidsvid`, `prid2011`, `lsvid`)")
    root: str = spec("the copy's root folder, as given")
    fingerprint: str = spec("hash of the copy's ids, labels, frame names and splits")
    n_tracklets: int = spec("tracklets in the copy")
    synthetic: bool = spec("a reidbench synthetic copy: its numbers are never comparable with the "
                           "real dataset's", default=False)
    split_source: str | None = spec(
        "the split file used where a layout has alternatives (PRID-2011 `splits_prid2011.json` "
        "or the official `.mat`); null otherwise", default=None)


@dataclass(frozen=True, kw_only=True)
class Provenance(Record):
    """The software and machine a result was computed with (the record's `environment`)."""

    reidbench: str = spec("reidbench version")
    git_commit: str | None = spec("reidbench's git commit (`+dirty` when modified), null outside "
                                  "git")
    python: str = spec("Python version")
    numpy: str = spec("NumPy version")
    platform: str = spec("operating system and platform")
    processor: str = spec("machine architecture")
    device: str = spec("device features were extracted on (`cpu`, `cuda:0`, ...)")
    torch: str | None = spec("PyTorch version, null without torch", default=None)
    device_name: str | None = spec("the GPU's name, when extracting on one", default=None,
                                   omit_none=True)
    torch_threads: int | None = spec("torch's intra-op thread count", default=None,
                                     omit_none=True)


#: Longest accepted text of each submission field (characters).
SUBMISSION_LIMITS = {"name": 100, "description": 2000, "backbone": 100, "url": 500}
_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, kw_only=True)
class SubmissionInfo(Record):
    """What the submitter says about a result (`reidbench evaluate --name/--description/...`).

    Free text, never interpreted: bounded in length, without control characters; the url is a
    plain http(s) address. Leaderboards show `name` as the method and `backbone` in its column;
    description and url go into the row's provenance and notes.
    """

    name: str | None = spec("the method's name as the leaderboards, figure legends and galleries "
                            "show it (instead of the adapter's name or `features`)", default=None,
                            omit_none=True)
    description: str | None = spec("how the model was made (training data, recipe, changes), in "
                                   "the submitter's words", default=None, omit_none=True)
    backbone: str | None = spec("the backbone, for the leaderboards' Backbone column (instead of "
                                "what the checkpoint's config says, or `unknown`)", default=None,
                                omit_none=True)
    url: str | None = spec("an http(s) address: paper, code or model page", default=None,
                           omit_none=True)

    @staticmethod
    def problems(values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """``(field, expected, got)`` for each field of ``values`` that breaks the rules."""
        out = []
        for key, limit in SUBMISSION_LIMITS.items():
            text = values.get(key)
            if not isinstance(text, str):
                continue
            line = key != "description"
            control = [ch for ch in text if ord(ch) < 32 and (line or ch not in "\n\t")]
            if not text.strip() or len(text) > limit or control:
                out.append((key, f"{'one line' if line else 'text'} of 1..{limit} characters "
                            "without control characters",
                            "control characters" if control else f"{len(text)} characters"
                            + (" of blanks" if text and not text.strip() else "")))
        url = values.get("url")
        if isinstance(url, str) and not out and not _URL.fullmatch(url):
            out.append(("url", "an http:// or https:// address", repr(url[:80])))
        return out

    @classmethod
    def _rules(cls, raw: dict[str, Any], values: dict[str, Any], at: str, p: Problems,
               ctx: dict[str, Any]) -> None:
        for key, expected, got in cls.problems(values):
            p.add(join(at, key), expected, got, "fix the submission's text")

    @classmethod
    def from_options(cls, **fields: str | None) -> SubmissionInfo | None:
        """The submission given as keyword options (None when none is given), checked.

        Raises:
            InputError: A field too long, with control characters, or a url that is not
                http(s); the message and ``param`` name the field (``name``, ``url``...).
        """
        for key in fields:
            if key not in SUBMISSION_LIMITS:
                raise InputError(describe(key, "submission", "one of "
                                          + ", ".join(SUBMISSION_LIMITS), "an unknown field",
                                          ""), param=key)
        given = {k: v for k, v in fields.items() if v is not None}
        for key, expected, got in cls.problems(given):
            raise InputError(describe(key, "the submission", expected, got, ""), param=key)
        return cls(**given) if given else None

    def merged(self, other: SubmissionInfo | None) -> SubmissionInfo:
        """These fields, with ``other``'s where ``other`` gives one."""
        if other is None:
            return self
        return SubmissionInfo(**{**self.to_json(), **other.to_json()})


@dataclass(frozen=True, kw_only=True)
class ResultRecord(Record):
    """The whole `results.json`."""

    doc_title = "results.json"

    schema: str = spec(f"`{RESULT_SCHEMA}`; a change of meaning bumps the number")
    created: str = spec("UTC time, ISO 8601")
    protocol: ProtocolRef = spec("the protocol, as registered")
    headline_ap: str = spec("the protocol's headline AP variant (`trapezoid` for MARS, "
                            "`noninterp` elsewhere)")
    metrics: Mapping[str, MetricCell] = spec(
        "`mAP`, `rank<k>` for each of the protocol's `cmc_ranks` (`rank1`, `rank5`, `rank10`, "
        "`rank20` by default) and `mINP`, under the headline AP variant; "
        "multi-split protocols: `value` is the mean over splits, `std` the sample std, "
        "`per_split` the values, `ci` null")
    metrics_by_variant: Mapping[str, Mapping[str, float]] = spec(
        "the same six numbers under every registered AP variant (`noninterp`, `trapezoid`, "
        "`sklearn_step`, `sklearn_legacy`); only `mAP` differs between variants", default={})
    n_queries: int = spec("queries evaluated, summed over splits")
    n_skipped: int = spec("queries skipped by the no-positive policy, summed over splits")
    splits: tuple[SplitRecord, ...] = spec("one entry per split evaluated (at least one)")
    procedure: Mapping[str, Any] = spec(
        "the feature procedure actually used: `sampling`, `seq_len`, `pooling`, `distance`, "
        "`flip`, `rerank`, `input_size`, `normalize` (not fingerprinted); for a features file, "
        "whose features were extracted elsewhere, `sampling`, `seq_len`, `pooling`, `flip` and "
        "`input_size` are null")
    source: SourceRecord = spec("what was evaluated")
    config: Mapping[str, Any] = spec(
        "the resolved configuration: for adapters `adapter`, `checkpoint` (as given, with "
        "`{split}`), `adapter_config` (options after the checkpoint's stored config and "
        "`--config`), `device`, `batch_size`, `num_workers` (`auto` or a number, as asked; the "
        "number used is in each split's `pipeline`), `autocast` (null: on for a GPU; false: "
        "off), `world_size`, `cache_dir`; for "
        "features files `features`", default={})
    dataset: DatasetInfo = spec("the dataset copy")
    seed: int = spec("seed of the bootstrap and of any random sampling")
    environment: Provenance = spec("software and machine")
    timings: Mapping[str, Any] = spec("seconds per split (`seconds_features`, `seconds_scoring`, "
                                      "`seconds_total`) "
                                      "and `total_seconds`", default={})
    limit: int | None = spec(
        "a quick check on at most this many queries per split (`evaluate(limit=...)`, "
        "`--limit`): not comparable with full results and never filed in a leaderboard; absent "
        "for a full evaluation", default=None, omit_none=True)
    warnings: tuple[str, ...] = spec(
        "sentences the CLI prints as `warning:` lines (e.g. an undeclared training dataset "
        "under a cross-dataset protocol); empty when none", default=())
    bootstrap: int | None = spec(
        "bootstrap resamples behind the CIs (0: no CI); `leaderboard add --verify` re-runs "
        "with it", default=None, omit_none=True)
    per_query_sha256: str | None = spec(
        "sha256 of the `per_query.npz` written with this record, set by `EvalResult.write` "
        "(required by the consistency check: another result's arrays beside it are refused)",
        default=None, omit_none=True)
    submission: SubmissionInfo | None = spec(
        "what the submitter says about the result (`evaluate --name --description --backbone "
        "--url`, or `leaderboard add` with the same options); absent when nothing was said",
        default=None, omit_none=True)

    @classmethod
    def _prepare(cls, raw: dict[str, Any], ctx: dict[str, Any]) -> None:
        ctx.setdefault("ap_names", ap_variant_names())

    @classmethod
    def _rules(cls, raw: dict[str, Any], values: dict[str, Any], at: str, p: Problems,
               ctx: dict[str, Any]) -> None:
        if values.get("schema", RESULT_SCHEMA) != RESULT_SCHEMA:
            p.add("schema", repr(RESULT_SCHEMA), repr(values["schema"]), _AGAIN)
        names, registered = ctx["ap_names"], ctx.get("protocol")
        headline = values.get("headline_ap")
        if "headline_ap" in values and headline not in names:
            p.add("headline_ap", "a registered AP variant (" + ", ".join(names) + ")",
                  repr(headline))
        elif registered is not None and headline is not None and \
                headline != registered.evaluation.ap:
            p.add("headline_ap", f"{registered.evaluation.ap!r} (the headline AP of "
                  f"{registered.id})", repr(headline))
        _metric_names(p, raw.get("metrics"), "metrics", ctx)
        if "metrics_by_variant" in values:
            _variants(p, raw["metrics_by_variant"], "metrics_by_variant", ctx)
        splits = raw.get("splits")
        if "splits" in values and not splits:
            p.add("splits", "a non-empty list (one entry per split evaluated)", "an empty one")
        seen: set[str] = set()
        for i, entry in enumerate(splits if isinstance(splits, list) else []):
            name = entry.get("split") if isinstance(entry, dict) else None
            if isinstance(name, str) and name in seen:
                p.add(f"splits[{i}].split", "each split once", f"{name!r} twice")
            elif isinstance(name, str):
                seen.add(name)

    @property
    def split_names(self) -> tuple[str, ...]:
        """The evaluated splits, in order."""
        return tuple(s.split for s in self.splits)

    def value(self, key: str) -> float:
        """The headline value of a summary metric as a fraction in [0, 1], e.g. ``value("mAP")``.

        The CLI and the leaderboards print ``100 * value`` (percent).
        """
        return float(self.metrics[key].value)


#: Every record type, in the order the schema doc shows them.
RECORD_TYPES: tuple[type[Record], ...] = (ResultRecord, ProtocolRef, MetricCell, SplitRecord,
                                          SourceRecord, AdapterInfo, ModelFileInfo, DatasetInfo,
                                          Provenance, SubmissionInfo)
