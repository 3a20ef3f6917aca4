"""Where a split's features (or scores) come from: a :class:`Source`.

A source is resolved once per evaluation by :meth:`Source.prepare`, before any frame is decoded:
the procedure it was designed for, the training dataset each split's model declares, and each
split's model (checked, and for the first split already loaded). The engine then asks the
:class:`Prepared` source for one split's inputs at a time. Three sources exist: a submitted
features file (:class:`FeaturesSource`), a model adapter with its checkpoints
(:class:`AdapterSource`) and a model file, ONNX or TorchScript
(:class:`reidbench.engine.modelfile.ModelFileSource`).

Multi-split protocols take one model per split, so test identities never leak into training: the
path given is a template containing ``{split}`` (e.g. ``ckpt/{split}.safetensors``) or a directory
holding one file per split (``<dir>/<split>.npz`` / ``<dir>/<split>.safetensors``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, runtime_checkable
from typing import Protocol as TypingProtocol

import numpy as np

from reidbench.engine.evalset import EvalSet, build_evalset
from reidbench.errors import (
    DataError,
    InputError,
    ProtocolError,
    ReidbenchError,
    describe,
)
from reidbench.protocols import Procedure, Protocol

__all__ = ["AdapterSource", "Extraction", "FeaturesSource", "Prepared", "Source", "SplitInputs",
           "embed_evalset", "normalize_features", "resolve_device", "resolve_split_path",
           "seconds_per_item"]

Progress = Callable[[str, int, int], None]


@dataclass
class SplitInputs:
    """What a source hands the scorer for one split.

    Attributes:
        distmat: ``(Q, G)`` float64, lower = more similar: a pairwise scorer's negated scores;
            None when features are given (the engine computes their distances, whole or
            streamed in blocks of queries when the matrix would exceed its budget).
        query_features: ``(Q, D)`` (None for pairwise scorers), normalised as the procedure says.
        gallery_features: ``(G, D)`` or None.
        info: Provenance of the source for this split (file sha256, adapter card, timings).
    """

    distmat: np.ndarray | None
    query_features: np.ndarray | None
    gallery_features: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)


def resolve_split_path(template: str, split: str, protocol: Protocol, suffixes: tuple[str, ...]
                       ) -> Path:
    """Resolve a per-split path from a ``{split}`` template or a directory.

    Raises:
        ProtocolError: A multi-split protocol given a single file.
    """
    if "{split}" in template:
        return Path(template.format(split=split))
    p = Path(template)
    if not protocol.is_multi_split:
        return p
    if p.is_dir():
        for suffix in suffixes:
            cand = p / f"{split}{suffix}"
            if cand.exists():
                return cand
        return p / f"{split}{suffixes[0]}"
    raise ProtocolError(describe("model", protocol.id, "one model per split (a path template "
                                 "with {split} or a directory of <split> files)",
                                 f"the single file {template!r}",
                                 "train one model per split so test identities never leak into "
                                 "training, and pass e.g. 'ckpt/{split}.safetensors'"))


@runtime_checkable
class Prepared(TypingProtocol):
    """A source resolved for one protocol and its splits (:meth:`Source.prepare`).

    Attributes:
        procedure: The source's own procedure (the protocol's default, changed by what the model
            declares); the user's overrides are applied on top by the engine.
        train_datasets: The training dataset each split's model declares (None: undeclared).
        uses_scorer: Whether ranking uses a pairwise scorer (no features to re-rank).
        name: What ranks, in words, for error messages (adapter or file name).
        device: Where the model runs (``"cpu"`` for a features file).
    """

    procedure: Procedure
    train_datasets: dict[str, str | None]
    uses_scorer: bool
    name: str
    device: str

    def inputs(self, evalset: EvalSet, procedure: Procedure,
               progress: Progress | None = None) -> SplitInputs:
        """The split's distance matrix (and features) under the resolved ``procedure``."""
        ...

    def record(self, split_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The result record's ``source`` section, given every split's ``SplitInputs.info``."""
        ...

    def config(self) -> dict[str, Any]:
        """The resolved configuration recorded in the result."""
        ...


@runtime_checkable
class Source(TypingProtocol):
    """Where features come from: :meth:`prepare` resolves everything once.

    Attributes:
        kind: ``"features"``, ``"adapter"`` or ``"model"`` (recorded as ``source.kind``).
        extracts: Whether the source extracts features itself, so that the procedure's
            extraction fields (sampling, clip length, pooling, flip, frame size) act on it.
    """

    kind: str
    extracts: bool

    def prepare(self, protocol: Protocol, splits: Sequence[str]) -> Prepared:
        """Check and resolve everything that needs no frame, for ``splits`` of ``protocol``.

        Raises:
            ReidbenchError: Whatever would make the evaluation fail later (missing or unsafe
                files, a model of another split or without the protocol's mode).
        """
        ...


class FeaturesSource:
    """Features from a submitted ``.npz`` (one per split for multi-split protocols)."""

    kind = "features"
    extracts = False

    def __init__(self, path: str) -> None:
        self.path = path

    def prepare(self, protocol: Protocol, splits: Sequence[str]) -> _PreparedFeatures:
        """Check that every split's file exists before anything is computed.

        A features file declares no training dataset.

        Raises:
            ProtocolError: A multi-split protocol given a single file.
            DataError: A split's file is missing.
        """
        paths = {}
        for split in splits:
            path = resolve_split_path(self.path, split, protocol, (".npz",))
            if not path.is_file():
                raise DataError(describe("features file", str(path), f"an existing .npz for "
                                         f"split {split}", "nothing there", "check the path"))
            paths[split] = path
        return _PreparedFeatures(self.path, protocol, paths)


@dataclass
class _PreparedFeatures:
    template: str
    protocol: Protocol
    paths: dict[str, Path]
    uses_scorer: bool = False
    device: str = "cpu"
    name: str = "features"

    @property
    def procedure(self) -> Procedure:
        return self.protocol.procedure

    @property
    def train_datasets(self) -> dict[str, str | None]:
        return {split: None for split in self.paths}

    def inputs(self, evalset: EvalSet, procedure: Procedure,
               progress: Progress | None = None) -> SplitInputs:
        """Load, check and select the split's features (normalised as the procedure says)."""
        from reidbench.adapters import load_features_file

        path = self.paths[evalset.split]
        wanted = evalset.ids()
        ff = load_features_file(path, expected_n=len(wanted))
        ff.check_ids(wanted, self.protocol.id)
        qf = ff.select([i.id for i in evalset.query])
        gf = ff.select([i.id for i in evalset.gallery])
        qf, gf = normalize_features(qf, gf, procedure)
        return SplitInputs(None, qf, gf, {"kind": "features", "path": str(path),
                                          "sha256": ff.sha256, "dim": int(ff.features.shape[1])})

    def record(self, split_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {"kind": "features", "adapter": None,
                "features_sha256": {s: i.get("sha256") for s, i in split_info.items()}}

    def config(self) -> dict[str, Any]:
        return {"features": self.template}


def check_features_for_protocol(path: str, protocol: Protocol, dataset: Any,
                                splits: Sequence[str] | None = None) -> list[str]:
    """What :class:`FeaturesSource` would refuse in a features file, without evaluating.

    Args:
        path: The ``.npz`` (or, for multi-split protocols, a ``{split}`` template or a directory
            of ``<split>.npz`` files).
        protocol: The protocol the features are for.
        dataset: The parsed dataset copy (:func:`reidbench.datasets.load`).
        splits: The splits to check (default: all of the protocol's).

    Returns:
        One message per split with a problem (unreadable file, bad arrays, missing, extra or
        duplicate ids), each starting with the split name; empty if the file would be accepted.
    """
    from reidbench.adapters import load_features_file

    problems = []
    for split in splits or list(protocol.evaluation.splits):
        try:
            resolved = resolve_split_path(path, split, protocol, (".npz",))
            wanted = build_evalset(dataset, protocol, split).ids()
            load_features_file(resolved, expected_n=len(wanted)).check_ids(wanted, protocol.id)
        except ReidbenchError as exc:
            problems.append(f"{split}: {exc}")
    return problems


class AdapterSource:
    """Features (or pairwise scores) computed by a model adapter from the dataset's frames.

    Args:
        adapter_name: Registered adapter name or ``"module:Class"``.
        checkpoint: Checkpoint path (template with ``{split}`` for multi-split protocols), or None.
        config: Constructor options for the adapter.
        device: ``"auto"`` (the GPU when torch sees one, else the CPU), ``"cpu"`` or
            ``"cuda[:i]"``.
        batch_size: Clips per forward pass.
        num_workers: DataLoader workers for decoding, or ``"auto"`` (from the cores available and
            the job's size: :func:`reidbench.engine.pipeline.resolve_workers`).
        cache_dir: Where extracted features are cached (None: no cache).
        autocast: Autocast on a GPU (None: on, bfloat16 where supported, else float16; False:
            float32). No effect on the CPU.

    Raises:
        InputError: A device this torch cannot use, or a batch size or worker count below range.
    """

    kind = "adapter"
    extracts = True

    def __init__(self, adapter_name: str, checkpoint: str | None = None,
                 config: dict[str, Any] | None = None, device: str = "cpu", batch_size: int = 32,
                 num_workers: int | str = "auto", cache_dir: str | None = None,
                 autocast: bool | None = None) -> None:
        if not isinstance(config, dict | None):
            raise InputError(describe("config", "AdapterSource", "a dict of model options",
                                      f"a {type(config).__name__}", "pass e.g. {'M': 10}"),
                             param="config")
        self.adapter_name = adapter_name
        self.checkpoint = checkpoint
        self.options = dict(config or {})
        self.extraction = Extraction(resolve_device(device), batch_size, num_workers, cache_dir,
                                     autocast)

    @property
    def device(self) -> str:
        """The resolved device."""
        return self.extraction.device

    def prepare(self, protocol: Protocol, splits: Sequence[str]) -> _PreparedAdapter:
        """Check every split's checkpoint and the adapter's modes; build the first split's model.

        Each split's checkpoint must exist and be safe to read; one that names the split it was
        trained on must name this split (multi-split protocols). The first split's checkpoint is
        read once, for its metadata and its weights; the other splits' metadata now and their
        weights when their turn comes. The frame size is the one the checkpoint records it was
        trained at (``meta["input_size"]``, written by ``reidbench train``), else the adapter
        card's ``input_size``; the protocol's default size applies to neither.

        Raises:
            CheckpointError: A missing, unsafe or malformed checkpoint.
            ProtocolError: A checkpoint trained on another split, or an adapter without the
                protocol's mode.
        """
        from reidbench.adapters import load_checkpoint, read_checkpoint_meta

        paths = {split: self._checkpoint_path(split, protocol) for split in splits}
        first = load_checkpoint(paths[splits[0]]) if paths[splits[0]] else None
        metas: dict[str, dict[str, Any]] = {}
        for split, ckpt in paths.items():
            if first is not None and split == splits[0]:
                metas[split] = first.meta
            else:
                metas[split] = read_checkpoint_meta(ckpt) if ckpt else {}
            _check_split(metas[split], split, protocol, str(ckpt))
        prepared = _PreparedAdapter(self, protocol, paths, metas)
        adapter = prepared.build(splits[0], first)
        mode = protocol.evaluation.mode
        if mode not in adapter.card.modes:
            raise ProtocolError(describe(f"adapter {adapter.card.name!r}", protocol.id,
                                         f"an adapter whose card lists mode {mode!r}",
                                         f"modes {list(adapter.card.modes)}",
                                         "use a protocol of a mode the adapter supports"))
        # the frame size the checkpoint records it was trained at (meta["input_size"], written
        # by `reidbench train`), else the adapter card's; the protocol's default applies to neither
        trained = _trained_input_size(metas[splits[0]], str(paths[splits[0]]))
        size = trained if trained is not None else tuple(adapter.card.input_size)
        prepared.procedure = adapter.procedure(protocol.procedure.override(input_size=size))
        prepared.uses_scorer = bool(adapter.uses_scorer)
        prepared.name = adapter.card.name
        return prepared

    def _checkpoint_path(self, split: str, protocol: Protocol) -> str | None:
        """The checkpoint of ``split`` (None when the adapter runs without one)."""
        if not self.checkpoint:
            return None
        return str(resolve_split_path(self.checkpoint, split, protocol,
                                      (".safetensors", ".pth", ".pt")))


@dataclass(frozen=True)
class Extraction:
    """How features are extracted: device, batching, decoding workers, cache, autocast.

    Raises:
        InputError: A batch size below 1 or a worker count neither ``"auto"`` nor >= 0.
    """

    device: str = "cpu"
    batch_size: int = 32
    num_workers: int | str = "auto"
    cache_dir: str | None = None
    autocast: bool | None = None

    def __post_init__(self) -> None:
        workers = self.num_workers
        bad_workers = workers != "auto" and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 0)
        if self.batch_size < 1 or bad_workers:
            bad = "batch_size" if self.batch_size < 1 else "num_workers"
            raise InputError(describe(bad, "AdapterSource", "a batch size >= 1 and workers "
                                      "'auto' or >= 0", f"{self.batch_size} and {workers!r}", ""),
                             param=bad)

    def config(self) -> dict[str, Any]:
        """The settings recorded in the result (with the torchrun world size)."""
        from reidbench.engine.distributed import world

        return {"device": self.device, "batch_size": self.batch_size,
                "num_workers": self.num_workers, "autocast": self.autocast,
                "world_size": world()[1], "cache_dir": self.cache_dir}


class _PreparedAdapter:
    """An :class:`AdapterSource` resolved for a protocol: one model per split, one alive."""

    def __init__(self, source: AdapterSource, protocol: Protocol, paths: dict[str, str | None],
                 metas: dict[str, dict[str, Any]]) -> None:
        self.source = source
        self.protocol = protocol
        self.paths = paths
        self.metas = metas
        self.device = source.device
        self.procedure = protocol.procedure
        self.uses_scorer = False
        self.name = source.adapter_name
        self.train_datasets = {split: None if meta.get("train_dataset") is None
                               else str(meta["train_dataset"]) for split, meta in metas.items()}
        self.stored: dict[str, dict[str, Any]] = {}  # checkpoint -> its stored config
        self.resolved = {split: self._resolve(meta, paths[split]) for split, meta in metas.items()}
        self._alive: tuple[str, Any] | None = None
        self._costs: dict[tuple, dict[str, Any]] = {}  # forward GFLOPs, counted once per shape

    def _resolve(self, meta: dict[str, Any], path: str | None) -> dict[str, Any]:
        from reidbench.adapters.build import resolve_options

        stored, resolved = resolve_options(self.source.adapter_name, meta, path,
                                           self.source.options)
        self.stored[path or ""] = stored
        return resolved

    def build(self, split: str, loaded: Any = None) -> Any:
        """The adapter of ``split`` with its weights, on the device in eval mode.

        Only one split's model is held at a time (a 10-split protocol would otherwise hold ten).
        """
        from reidbench.adapters import load_checkpoint
        from reidbench.adapters.build import build_from_meta

        if self._alive is not None and self._alive[0] == split:
            return self._alive[1]
        self._alive = None
        path = self.paths[split]
        if path and loaded is None:
            loaded = load_checkpoint(path)
        adapter = build_from_meta(self.source.adapter_name, self.stored.get(path or "", {}),
                                  self.source.options, path, loaded)
        adapter = adapter.to(self.device).eval()
        self._alive = (split, adapter)
        return adapter

    def inputs(self, evalset: EvalSet, procedure: Procedure,
               progress: Progress | None = None) -> SplitInputs:
        """Extract features with the adapter (or score pairs: the negated score matrix).

        Every distinct item is embedded once: a MARS query that is also a gallery tracklet, and
        a tracklet already in the cache, are not extracted again.
        """
        from reidbench.engine.extract import score_pairs

        adapter = self.build(evalset.split)
        rows, extraction = embed_evalset({"video": adapter, "image": adapter}, evalset,
                                         procedure, self.source.extraction,
                                         self.resolved[evalset.split], progress)
        qf = np.stack([rows[item] for item in evalset.query])
        gf = np.stack([rows[item] for item in evalset.gallery])
        # every split's model has the same architecture: its cost depends only on the shapes
        mode = self.protocol.evaluation.mode
        cost_key = (mode, procedure.seq_len, tuple(procedure.input_size))
        if cost_key not in self._costs:
            from reidbench.engine.flops import forward_gflops

            self._costs[cost_key] = forward_gflops(adapter, procedure, mode)
        info = {"kind": "adapter", **adapter.describe(), "cost": self._costs[cost_key],
                "extraction": extraction}
        if adapter.uses_scorer:
            dist = -score_pairs(adapter, qf, gf, progress=progress)
            return SplitInputs(dist, None, None, info)
        qf, gf = normalize_features(qf, gf, procedure)
        return SplitInputs(None, qf, gf, info)

    def record(self, split_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
        first = next(iter(split_info.values()))
        adapter = {k: first.get(k) for k in ("name", "card", "checkpoint_sha256",
                                             "checkpoint_meta", "n_parameters", "cost")}
        adapter["seconds_per_item"] = seconds_per_item(split_info)
        return {"kind": "adapter", "adapter": adapter, "features_sha256": None}

    def config(self) -> dict[str, Any]:
        return {"adapter": self.source.adapter_name, "checkpoint": self.source.checkpoint,
                "adapter_config": next(iter(self.resolved.values()), dict(self.source.options)),
                **self.source.extraction.config()}


def embed_evalset(adapters: dict[str, Any], evalset: EvalSet, procedure: Procedure,
                  extraction: Extraction, config: dict[str, Any] | None,
                  progress: Progress | None) -> tuple[dict[Any, np.ndarray], dict[str, Any]]:
    """Embed a split's distinct items, each kind with its adapter (``"video"``, ``"image"``).

    Returns:
        ``(item -> feature row, extraction info per side)``.
    """
    from reidbench.engine.extract import extract_features

    unique = list(dict.fromkeys(evalset.query + evalset.gallery))
    rows: dict[Any, np.ndarray] = {}
    info: dict[str, Any] = {}
    for kind, label in (("video", "tracklets"), ("image", "query images")):
        items = [item for item in unique if item.kind == kind]
        if not items:
            continue
        feats, side = extract_features(
            adapters[kind], items, procedure=procedure, side=label,
            batch_size=extraction.batch_size, num_workers=extraction.num_workers,
            cache_dir=extraction.cache_dir, progress=progress, autocast=extraction.autocast,
            dataset_fingerprint=evalset.dataset_fingerprint, config=config)
        rows.update(zip(items, feats, strict=True))
        info[label.replace(" ", "_")] = side
    return rows, info


def seconds_per_item(split_info: dict[str, Any]) -> float | None:
    """Extraction seconds per item actually embedded (cache hits excluded), over all splits."""
    seconds = n = 0.0
    for info in split_info.values():
        for part in (info.get("extraction") or {}).values():
            if part.get("n_extracted"):
                seconds += float(part.get("seconds") or 0.0)
                n += part["n_extracted"]
    return round(seconds / n, 6) if n else None


def _trained_input_size(meta: dict[str, Any], path: str) -> tuple[int, int] | None:
    """``(height, width)`` a checkpoint was trained at; None when not recorded.

    Raises:
        CheckpointError: A recorded size that is not two positive integers.
    """
    from reidbench.adapters.meta import check_input_size

    size = meta.get("input_size")
    return None if size is None else check_input_size(size, "input_size", path)


def _check_split(meta: dict[str, Any], split: str, protocol: Protocol, path: str) -> None:
    """A multi-split checkpoint that names its training split must name the split evaluated."""
    declared = meta.get("split")
    trained_on = meta.get("train_dataset")
    if not protocol.is_multi_split or declared is None:
        return
    if trained_on is not None and trained_on != protocol.evaluation.dataset:
        return  # another dataset's split names say nothing about this one's
    if str(declared) != split:
        raise ProtocolError(describe("checkpoint", path, f"the model trained on {split} (one "
                                     f"model per split of {protocol.id})",
                                     f"a checkpoint that declares split {declared!r}",
                                     "pass the checkpoints as a template, e.g. "
                                     "'ckpt/{split}.safetensors', with each split's own model"))


def resolve_device(device: str) -> str:
    """The device to run on: ``"auto"`` picks ``"cuda"`` when torch sees a GPU, else ``"cpu"``.

    Raises:
        InputError: A device string torch cannot parse or this torch build cannot use.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    _check_device(device)
    return device


def _check_device(device: str) -> None:
    """Refuse a device string torch cannot parse or this torch build cannot use."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(describe("device", "resolve_device", "'auto', 'cpu', 'cuda' or "
                                  "'cuda:N'", repr(device), ""), param="device") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(describe("device", "resolve_device", "a device this torch can use",
                                      f"{device!r}, but torch {torch.__version__} sees no CUDA "
                                      "device", "use device=cpu (or auto), or install a CUDA "
                                      "build of torch on a machine with a GPU"), param="device")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(describe("device", "resolve_device",
                                      f"one of cuda:0..cuda:{torch.cuda.device_count() - 1}",
                                      repr(device), ""), param="device")
    elif dev.type != "cpu":
        raise InputError(describe("device", "resolve_device", "'cpu' or 'cuda[:N]'",
                                  repr(device), ""), param="device")


def normalize_features(qf: np.ndarray, gf: np.ndarray, procedure: Procedure
                       ) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalise query and gallery rows when the procedure says so."""
    if not procedure.normalize:
        return qf, gf
    def l2(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return l2(qf), l2(gf)
