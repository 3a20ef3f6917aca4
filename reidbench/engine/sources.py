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
from reidbench.errors import ProtocolError, ReidbenchError, describe
from reidbench.protocols import Procedure, Protocol

__all__ = ["SplitInputs", "FeaturesSource", "AdapterSource", "resolve_split_path"]

Progress = Callable[[str, int, int], None]


@dataclass
class SplitInputs:
    """What a source hands the scorer for one split.

    Attributes:
        distmat: ``(Q, G)`` float64, lower = more similar.
        query_features: ``(Q, D)`` (None for pairwise scorers), kept for re-ranking.
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

    def declared_train_dataset(self) -> str | None:
        """Features files do not declare their training data."""
        return None

    def inputs(self, evalset: EvalSet, protocol: Protocol, procedure: Procedure,
               progress: Progress | None = None) -> SplitInputs:
        """Load, check and select the split's features; compute the distance matrix."""
        from reidbench.adapters import load_features_file
        from reidbench.metrics import compute_distance

        path = resolve_split_path(self.path, evalset.split, protocol, (".npz",))
        ff = load_features_file(path)
        ff.check_ids(evalset.ids(), protocol.id)
        qf = ff.select([i.id for i in evalset.query])
        gf = ff.select([i.id for i in evalset.gallery])
        qf, gf = _normalize(qf, gf, procedure)
        return SplitInputs(compute_distance(qf, gf, metric=procedure.distance), qf, gf,
                           {"kind": "features", "path": str(path), "sha256": ff.sha256,
                            "dim": int(ff.features.shape[1])})


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
            load_features_file(resolved).check_ids(
                build_evalset(dataset, protocol, split).ids(), protocol.id)
        except ReidbenchError as exc:
            problems.append(f"{split}: {exc}")
    return problems


class AdapterSource:
    """Features (or pairwise scores) computed by a model adapter from the dataset's frames.

    Args:
        adapter_name: Registered adapter name or ``"module:Class"``.
        checkpoint: Checkpoint path (template with ``{split}`` for multi-split protocols), or None.
        config: Constructor options for the adapter.
        device: ``"cpu"`` or ``"cuda[:i]"``.
        batch_size: Clips per forward pass.
        num_workers: DataLoader workers for decoding.
        cache_dir: Where extracted features are cached (None: no cache).
    """

    kind = "adapter"

    def __init__(self, adapter_name: str, checkpoint: str | None = None,
                 config: dict[str, Any] | None = None, device: str = "cpu", batch_size: int = 32,
                 num_workers: int = 0, cache_dir: str | None = None) -> None:
        self.adapter_name = adapter_name
        self.checkpoint = checkpoint
        self.config = dict(config or {})
        self.device = device
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.cache_dir = cache_dir
        self._adapter_cache: dict[str, Any] = {}
        self._costs: dict[tuple, dict[str, Any]] = {}  # forward GFLOPs, counted once per shape

    def adapter(self, split: str, protocol: Protocol) -> Any:
        """Build the adapter for ``split`` and load its checkpoint."""
        from reidbench.adapters import get_adapter, load_checkpoint

        ckpt = (str(resolve_split_path(self.checkpoint, split, protocol,
                                       (".safetensors", ".pth", ".pt")))
                if self.checkpoint else None)
        key = ckpt or ""
        if key not in self._adapter_cache:
            # A checkpoint written by `reidbench train` carries the architecture's config, so the
            # same model is rebuilt; options given by the user win.
            loaded = load_checkpoint(ckpt) if ckpt else None
            stored = loaded.meta.get("config", {}) if loaded else {}
            adapter = get_adapter(self.adapter_name, **{**stored, **self.config})
            if loaded:
                adapter.apply_checkpoint(loaded)
            self._adapter_cache = {key: adapter.to(self.device).eval()}
        return self._adapter_cache[key]

    def declared_train_dataset(self, protocol: Protocol) -> str | None:
        """The training dataset the (first split's) checkpoint declares, if any."""
        if not self.checkpoint:
            return None
        meta = self.adapter(protocol.evaluation.splits[0], protocol).checkpoint_meta
        return meta.get("train_dataset")

    def procedure_for(self, protocol: Protocol) -> Procedure:
        """The adapter's own procedure, starting from the protocol's default."""
        return self.adapter(protocol.evaluation.splits[0], protocol).procedure(protocol.procedure)

    def inputs(self, evalset: EvalSet, protocol: Protocol, procedure: Procedure,
               progress: Progress | None = None) -> SplitInputs:
        """Extract features with the adapter (or score pairs) and return the distance matrix."""
        from reidbench.engine.extract import extract_features, score_pairs
        from reidbench.metrics import compute_distance

        adapter = self.adapter(evalset.split, protocol)
        kw = dict(procedure=procedure, batch_size=self.batch_size, num_workers=self.num_workers,
                  cache_dir=self.cache_dir, progress=progress)
        qf, q_info = extract_features(adapter, evalset.query, side="query", **kw)
        gf, g_info = extract_features(adapter, evalset.gallery, side="gallery", **kw)
        # every split's model has the same architecture: its cost depends only on the shapes
        cost_key = (protocol.evaluation.mode, procedure.seq_len, tuple(procedure.input_size))
        if cost_key not in self._costs:
            from reidbench.engine.flops import forward_gflops

            self._costs[cost_key] = forward_gflops(adapter, procedure, protocol.evaluation.mode)
        info = {"kind": "adapter", **adapter.describe(), "cost": self._costs[cost_key],
                "extraction": {"query": q_info, "gallery": g_info}}
        if adapter.uses_scorer:
            dist = -score_pairs(adapter, qf, gf, progress=progress)
            return SplitInputs(dist, None, None, info)
        qf, gf = _normalize(qf, gf, procedure)
        return SplitInputs(compute_distance(qf, gf, metric=procedure.distance), qf, gf, info)


def _normalize(qf: np.ndarray, gf: np.ndarray, procedure: Procedure
               ) -> tuple[np.ndarray, np.ndarray]:
    if not procedure.normalize:
        return qf, gf
    def l2(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return l2(qf), l2(gf)
