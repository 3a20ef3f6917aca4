"""Protocol records: what is measured (fingerprinted) and how features are made by default.

A :class:`Protocol` has two parts. The :class:`Evaluation` part decides what a number *means*:
the dataset, splits, query/gallery construction, junk rules, mode, headline AP variant, CMC ranks
and the no-positive policy. Its fingerprint (sha256 of the canonical JSON) decides whether two
results are comparable. The :class:`Procedure` part is the default recipe for features (test-time
frame sampling, pooling, distance, re-ranking); an adapter may replace it with its paper's procedure
and a user may override it. The procedure used is recorded in every result but does not change
comparability.

Changing what a protocol means requires a new version; old versions stay registered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from reidbench.errors import InputError, describe
from reidbench.metrics.distance import DISTANCES
from reidbench.metrics.options import MetricOptions, check_metric_options
from reidbench.registry import suggest

__all__ = ["Evaluation", "Procedure", "Protocol", "canonical_json", "I2V_QUERY_SUFFIX",
           "split_item_id", "DATASETS"]

#: The datasets a protocol can name (one parser each in ``reidbench.datasets``).
DATASETS = ("mars", "dukev", "ilidsvid", "prid2011", "lsvid")
MODES = ("v2v", "i2v")

#: Suffix of a query image's id in I2V mode: ``"<tracklet id>#first"`` (its first frame).
I2V_QUERY_SUFFIX = "#first"


def split_item_id(item_id: str) -> tuple[str, bool]:
    """``(tracklet id, is_first_frame_image)`` of an evaluation item id.

    ``"0001C1T0001#first"`` -> ``("0001C1T0001", True)`` (an I2V query image);
    ``"0001C1T0001"`` -> ``("0001C1T0001", False)`` (a tracklet).
    """
    if item_id.endswith(I2V_QUERY_SUFFIX):
        return item_id[: -len(I2V_QUERY_SUFFIX)], True
    return item_id, False
GALLERIES = ("with_query", "without_query", "dataset")
AGGREGATES = ("single", "mean_std_over_splits")
POOLINGS = ("mean", "max")
# The Evaluation fields that are MetricOptions fields (the CMC mode is always first_match).
_METRIC_FIELDS = ("ap", "ties", "no_positive", "junk_pids", "same_camera", "max_rank", "cmc_ranks")


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` to JSON with sorted keys and no whitespace (the fingerprint's input)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class Evaluation:
    """The fingerprinted part of a protocol: what is measured.

    Attributes:
        dataset: Layout name of the test dataset (one of :data:`DATASETS`).
        splits: The dataset splits evaluated (``("official",)`` or ``("split0", ..., "split9")``).
        mode: ``"v2v"`` (video query, video gallery) or ``"i2v"`` (the query is the first frame of
            each query tracklet; the gallery are video tracklets).
        gallery: ``"with_query"``: every test tracklet, queries included (official MARS; each query
            is self-junked by the same-camera rule). ``"without_query"``: the query tracklets
            removed (torchreid-style MARS). ``"dataset"``: the gallery the dataset designates
            (DukeV ``gallery/``, iLIDS-VID cam2, PRID cam_b).
        drop_pids: Pids whose tracklets are removed from the gallery up front (MARS -1). Removing
            them gives the same numbers as treating them as junk and saves their extraction.
        junk_pids: Gallery pids treated as junk by the metric (kept for safety after ``drop_pids``).
        same_camera: Rule for gallery items with the query's pid and camera (``"junk"``).
        ap: Headline AP variant (every other variant is reported beside it).
        ties: Tie policy for ranks.
        no_positive: Policy for queries without a valid positive.
        cmc_ranks: CMC ranks reported in the summary (``rank<k>`` metrics), ascending,
            ``<= max_rank``.
        max_rank: Length of the stored CMC curve.
        aggregate: ``"single"`` or ``"mean_std_over_splits"`` (one model per split).
        train_dataset: For cross-dataset protocols, the training dataset the model must declare.
    """

    dataset: str
    splits: tuple[str, ...] = ("official",)
    mode: str = "v2v"
    gallery: str = "dataset"
    drop_pids: tuple[int, ...] = ()
    junk_pids: tuple[int, ...] = (-1,)
    same_camera: str = "junk"
    ap: str = "noninterp"
    ties: str = "stable"
    no_positive: str = "skip"
    cmc_ranks: tuple[int, ...] = (1, 5, 10, 20)
    max_rank: int = 50
    aggregate: str = "single"
    train_dataset: str | None = None

    def __post_init__(self) -> None:
        _check_choice("dataset", self.dataset, DATASETS)
        if self.train_dataset is not None:
            _check_choice("train_dataset", self.train_dataset, DATASETS)
        # validated here, not normalised: the fields as given are what the fingerprint hashes
        metric = check_metric_options({k: getattr(self, k) for k in _METRIC_FIELDS}, "Evaluation")
        if metric["cmc_ranks"][-1] > metric["max_rank"]:
            raise InputError(describe("cmc_ranks", "Evaluation", f"ranks <= max_rank "
                                      f"({metric['max_rank']})", repr(self.cmc_ranks),
                                      "raise max_rank or drop the larger ranks"))
        _check_choice("mode", self.mode, MODES)
        _check_choice("gallery", self.gallery, GALLERIES)
        _check_choice("aggregate", self.aggregate, AGGREGATES)
        if not self.splits:
            raise InputError(describe("splits", "Evaluation", "at least one split", "none", ""))
        if self.aggregate == "single" and len(self.splits) != 1:
            raise InputError(describe("splits", "Evaluation", "one split for aggregate='single'",
                                      len(self.splits), "use aggregate='mean_std_over_splits'"))

    @property
    def metric_options(self) -> MetricOptions:
        """The metric settings this evaluation measures under (first-match CMC)."""
        return MetricOptions(**{k: getattr(self, k) for k in _METRIC_FIELDS})


@dataclass(frozen=True)
class Procedure:
    """How features are made by default (recorded in results, not fingerprinted).

    Attributes:
        sampling: Frame sampling strategy name (``reidbench.datasets`` registry), e.g. ``"rrs"``.
        seq_len: Frames per clip (T).
        pooling: How clip features combine into a tracklet feature (``"mean"`` or ``"max"``).
        distance: ``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"``.
        flip: Average each clip's feature with its horizontally flipped copy.
        rerank: Apply k-reciprocal re-ranking (Zhong et al. 2017, k1=20, k2=6, lambda=0.3).
        input_size: ``(height, width)`` of the decoded frames.
        normalize: L2-normalise tracklet features before the distance.
    """

    sampling: str = "rrs"
    seq_len: int = 4
    pooling: str = "mean"
    distance: str = "euclidean"
    flip: bool = False
    rerank: bool = False
    input_size: tuple[int, int] = (256, 128)
    normalize: bool = False

    def __post_init__(self) -> None:
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("distance", self.distance, DISTANCES)
        if self.seq_len < 1:
            raise InputError(describe("seq_len", "Procedure", "a positive integer", self.seq_len,
                                      ""))

    def override(self, **changes: Any) -> Procedure:
        """Return a copy with ``changes`` applied (``None`` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise InputError(describe("procedure option", "Procedure.override",
                                      f"one of {sorted(self.__dataclass_fields__)}",
                                      sorted(unknown), ""))
        if "input_size" in changes:
            changes["input_size"] = tuple(changes["input_size"])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the procedure as a JSON-ready dict."""
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d


@dataclass(frozen=True)
class Protocol:
    """A named, versioned evaluation protocol.

    Attributes:
        name: Protocol name without version, e.g. ``"mars/v2v"``.
        version: Integer version; a change to ``evaluation`` requires a new one.
        title: One-line human description.
        evaluation: The fingerprinted part.
        procedure: The default feature procedure.
        notes: Why the protocol is defined this way (sources).
    """

    name: str
    version: int
    title: str
    evaluation: Evaluation
    procedure: Procedure = field(default_factory=Procedure)
    notes: str = ""

    @property
    def id(self) -> str:
        """``"<name>@<version>"``, e.g. ``"mars/v2v@1"``."""
        return f"{self.name}@{self.version}"

    @property
    def is_multi_split(self) -> bool:
        """Whether the protocol takes one model per split."""
        return len(self.evaluation.splits) > 1

    @property
    def fingerprint(self) -> str:
        """sha256 (hex, first 16 characters) of the canonical JSON of the evaluation part."""
        return hashlib.sha256(canonical_json(self.evaluation_dict()).encode()).hexdigest()[:16]

    def evaluation_dict(self) -> dict[str, Any]:
        """Return the evaluation part as a JSON-ready dict (tuples as lists)."""
        return json.loads(json.dumps(asdict(self.evaluation)))

    def to_dict(self) -> dict[str, Any]:
        """Return the whole protocol as a JSON-ready dict, with id and fingerprint."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "fingerprint": self.fingerprint,
            "evaluation": self.evaluation_dict(),
            "procedure": self.procedure.to_dict(),
            "notes": self.notes,
        }


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise InputError(describe(name, "protocol", f"one of {list(choices)}", repr(value),
                                  suggest(value, choices) if isinstance(value, str) else ""))
