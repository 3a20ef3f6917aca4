"""Where a split's features (or scores) come from: a submitted features file or a model adapter.

Multi-split protocols take one model per split, so test identities never leak into training: the
path given is a template containing ``{split}`` (e.g. ``ckpt/{split}.safetensors``) or a directory
holding one file per split (``<dir>/<split>.npz`` / ``<dir>/<split>.safetensors``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reidbench.engine.evalset import EvalSet, build_evalset
from reidbench.errors import (
    CheckpointError,
    DataError,
    InputError,
    ProtocolError,
    ReidbenchError,
    describe,
)
from reidbench.protocols import Procedure, Protocol

__all__ = ["SplitInputs", "FeaturesSource", "AdapterSource", "resolve_split_path"]

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


class FeaturesSource:
    """Features from a submitted ``.npz`` (one per split for multi-split protocols)."""

    kind = "features"

    def __init__(self, path: str) -> None:
        self.path = path

    def preflight(self, protocol: Protocol, splits: Sequence[str]) -> dict[str, str | None]:
        """Check that every split's file exists before anything is computed.

        Returns:
            The training dataset declared for each split: always None (a features file declares
            none).

        Raises:
            ProtocolError: A multi-split protocol given a single file.
            DataError: A split's file is missing.
        """
        for split in splits:
            path = resolve_split_path(self.path, split, protocol, (".npz",))
            if not path.is_file():
                raise DataError(describe("features file", str(path), f"an existing .npz for "
                                         f"split {split}", "nothing there", "check the path"))
        return {split: None for split in splits}

    def config(self) -> dict[str, Any]:
        """The resolved configuration recorded in the result."""
        return {"features": self.path}

    def inputs(self, evalset: EvalSet, protocol: Protocol, procedure: Procedure,
               progress: Progress | None = None) -> SplitInputs:
        """Load, check and select the split's features (normalised as the procedure says)."""
        from reidbench.adapters import load_features_file

        path = resolve_split_path(self.path, evalset.split, protocol, (".npz",))
        wanted = evalset.ids()
        ff = load_features_file(path, expected_n=len(wanted))
        ff.check_ids(wanted, protocol.id)
        qf = ff.select([i.id for i in evalset.query])
        gf = ff.select([i.id for i in evalset.gallery])
        qf, gf = _normalize(qf, gf, procedure)
        return SplitInputs(None, qf, gf, {"kind": "features", "path": str(path),
                                          "sha256": ff.sha256, "dim": int(ff.features.shape[1])})


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

    def __init__(self, adapter_name: str, checkpoint: str | None = None,
                 config: dict[str, Any] | None = None, device: str = "cpu", batch_size: int = 32,
                 num_workers: int | str = "auto", cache_dir: str | None = None,
                 autocast: bool | None = None) -> None:
        if not isinstance(config, dict | None):
            raise InputError(describe("config", "AdapterSource", "a dict of model options",
                                      f"a {type(config).__name__}", "pass e.g. {'M': 10}"),
                             param="config")
        device = resolve_device(device)
        bad_workers = num_workers != "auto" and (
            isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0)
        if batch_size < 1 or bad_workers:
            bad = "batch_size" if batch_size < 1 else "num_workers"
            raise InputError(describe(bad, "AdapterSource", "a batch size >= 1 and workers "
                                      "'auto' or >= 0", f"{batch_size} and {num_workers!r}", ""),
                             param=bad)
        self.adapter_name = adapter_name
        self.checkpoint = checkpoint
        self.options = dict(config or {})
        self.device = device
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.cache_dir = cache_dir
        self.autocast = autocast
        self._adapter_cache: dict[str, Any] = {}
        self._resolved: dict[str, dict[str, Any]] = {}  # checkpoint -> resolved adapter config
        self._costs: dict[tuple, dict[str, Any]] = {}  # forward GFLOPs, counted once per shape

    def checkpoint_path(self, split: str, protocol: Protocol) -> str | None:
        """The checkpoint of ``split`` (None when the adapter runs without one)."""
        if not self.checkpoint:
            return None
        return str(resolve_split_path(self.checkpoint, split, protocol,
                                      (".safetensors", ".pth", ".pt")))

    def adapter(self, split: str, protocol: Protocol) -> Any:
        """Build the adapter for ``split`` and load its checkpoint."""
        from reidbench.adapters import get_adapter, load_checkpoint

        ckpt = self.checkpoint_path(split, protocol)
        key = ckpt or ""
        if key not in self._adapter_cache:
            # A checkpoint written by `reidbench train` carries the architecture's config, so the
            # same model is rebuilt; options given by the user win.
            loaded = load_checkpoint(ckpt) if ckpt else None
            stored = loaded.meta.get("config", {}) if loaded else {}
            if not isinstance(stored, dict):
                raise CheckpointError(describe("metadata 'config'", str(ckpt), "a JSON object of "
                                               "adapter options", f"a {type(stored).__name__}",
                                               "re-save the checkpoint with a dict config"))
            if loaded:
                from reidbench.adapters.meta import check_owner

                check_owner(self.adapter_name, loaded.meta, str(ckpt))
            if stored:
                from reidbench.adapters import adapter_class

                stored = adapter_class(self.adapter_name).checkpoint_config(stored)
            resolved = {**stored, **self.options}
            from reidbench.adapters.meta import build_from_checkpoint

            adapter = build_from_checkpoint(
                lambda: get_adapter(self.adapter_name, **resolved), stored, self.options,
                str(ckpt), self.adapter_name)
            if loaded:
                adapter.apply_checkpoint(loaded)
            self._adapter_cache = {key: adapter.to(self.device).eval()}
            self._resolved[key] = resolved
        return self._adapter_cache[key]

    def preflight(self, protocol: Protocol, splits: Sequence[str]) -> dict[str, str | None]:
        """Check every split's checkpoint and the adapter's modes before anything is computed.

        Each split's checkpoint must exist and be safe to read; one that names the split it was
        trained on must name this split (multi-split protocols).

        Returns:
            The training dataset each split's checkpoint declares (None: undeclared).

        Raises:
            CheckpointError: A missing, unsafe or malformed checkpoint.
            ProtocolError: A checkpoint trained on another split, or an adapter without the
                protocol's mode.
        """
        from reidbench.adapters import read_checkpoint_meta

        declared: dict[str, str | None] = {}
        for split in splits:
            ckpt = self.checkpoint_path(split, protocol)
            meta = read_checkpoint_meta(ckpt) if ckpt else {}
            _check_split(meta, split, protocol, str(ckpt))
            train = meta.get("train_dataset")
            declared[split] = None if train is None else str(train)
        adapter = self.adapter(splits[0], protocol)
        mode = protocol.evaluation.mode
        if mode not in adapter.card.modes:
            raise ProtocolError(describe(f"adapter {adapter.card.name!r}", protocol.id,
                                         f"an adapter whose card lists mode {mode!r}",
                                         f"modes {list(adapter.card.modes)}",
                                         "use a protocol of a mode the adapter supports"))
        return declared

    def config(self) -> dict[str, Any]:
        """The resolved configuration recorded in the result (adapter options, batching)."""
        from reidbench.engine.distributed import world

        return {"adapter": self.adapter_name, "checkpoint": self.checkpoint,
                "adapter_config": next(iter(self._resolved.values()), dict(self.options)),
                "device": self.device, "batch_size": self.batch_size,
                "num_workers": self.num_workers, "autocast": self.autocast,
                "world_size": world()[1],
                "cache_dir": self.cache_dir}

    def procedure_for(self, protocol: Protocol) -> Procedure:
        """The adapter's own procedure, starting from the protocol's default.

        The frame size is the one the checkpoint records it was trained at (``meta["input_size"]``,
        written by ``reidbench train``), else the adapter card's ``input_size``; the protocol's
        default size applies to neither.
        """
        split = protocol.evaluation.splits[0]
        adapter = self.adapter(split, protocol)
        trained = self.trained_input_size(split, protocol)
        size = trained if trained is not None else tuple(adapter.card.input_size)
        return adapter.procedure(protocol.procedure.override(input_size=size))

    def trained_input_size(self, split: str, protocol: Protocol) -> tuple[int, int] | None:
        """``(height, width)`` the split's checkpoint was trained at; None when not recorded.

        Raises:
            CheckpointError: A recorded size that is not two positive integers.
        """
        from reidbench.adapters import read_checkpoint_meta

        ckpt = self.checkpoint_path(split, protocol)
        from reidbench.adapters.meta import check_input_size

        size = read_checkpoint_meta(ckpt).get("input_size") if ckpt else None
        if size is None:
            return None
        return check_input_size(size, "input_size", str(ckpt))

    def inputs(self, evalset: EvalSet, protocol: Protocol, procedure: Procedure,
               progress: Progress | None = None) -> SplitInputs:
        """Extract features with the adapter (or score pairs: the negated score matrix).

        Every distinct item is embedded once: a MARS query that is also a gallery tracklet, and
        a tracklet already in the cache, are not extracted again.
        """
        from reidbench.engine.extract import score_pairs

        adapter = self.adapter(evalset.split, protocol)
        config = self._resolved.get(self.checkpoint_path(evalset.split, protocol) or "", {})
        rows, extraction = self._embed(adapter, evalset, procedure, config, progress)
        qf = np.stack([rows[item] for item in evalset.query])
        gf = np.stack([rows[item] for item in evalset.gallery])
        # every split's model has the same architecture: its cost depends only on the shapes
        cost_key = (protocol.evaluation.mode, procedure.seq_len, tuple(procedure.input_size))
        if cost_key not in self._costs:
            from reidbench.engine.flops import forward_gflops

            self._costs[cost_key] = forward_gflops(adapter, procedure, protocol.evaluation.mode)
        info = {"kind": "adapter", **adapter.describe(), "cost": self._costs[cost_key],
                "extraction": extraction}
        if adapter.uses_scorer:
            dist = -score_pairs(adapter, qf, gf, progress=progress)
            return SplitInputs(dist, None, None, info)
        qf, gf = _normalize(qf, gf, procedure)
        return SplitInputs(None, qf, gf, info)

    def _embed(self, adapter: Any, evalset: EvalSet, procedure: Procedure,
               config: dict[str, Any], progress: Progress | None
               ) -> tuple[dict[Any, np.ndarray], dict[str, Any]]:
        """Embed the split's distinct items, tracklets and query images separately."""
        from reidbench.engine.extract import extract_features

        unique = list(dict.fromkeys(evalset.query + evalset.gallery))
        rows: dict[Any, np.ndarray] = {}
        extraction: dict[str, Any] = {}
        for kind, label in (("video", "tracklets"), ("image", "query images")):
            items = [item for item in unique if item.kind == kind]
            if not items:
                continue
            feats, info = extract_features(
                adapter, items, procedure=procedure, side=label, batch_size=self.batch_size,
                num_workers=self.num_workers, cache_dir=self.cache_dir, progress=progress,
                autocast=self.autocast,
                dataset_fingerprint=evalset.dataset_fingerprint, config=config)
            rows.update(zip(items, feats, strict=True))
            extraction[label.replace(" ", "_")] = info
        return rows, extraction


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


def _normalize(qf: np.ndarray, gf: np.ndarray, procedure: Procedure
               ) -> tuple[np.ndarray, np.ndarray]:
    if not procedure.normalize:
        return qf, gf
    def l2(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return l2(qf), l2(gf)
