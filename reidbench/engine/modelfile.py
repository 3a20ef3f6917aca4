"""A model submitted as a file (ONNX or TorchScript): the third :class:`~.sources.Source`.

The file declares what it computes (``reidbench.*`` metadata: clip or frame input, frame size,
normalisation, clip length, name, training dataset; see
:mod:`reidbench.adapters.modelfile.metadata`), so no submitter code is installed or run. The
engine's own pipeline extracts features with it (sampling, pooling, flip, cache), exactly as for
an adapter. Under I2V the same network embeds the query images unless a second file
(``query_model``) is given for methods with two networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from reidbench.engine.evalset import EvalSet
from reidbench.engine.sources import (
    Extraction,
    Progress,
    SplitInputs,
    embed_evalset,
    normalize_features,
    resolve_device,
    resolve_split_path,
    seconds_per_item,
)
from reidbench.errors import ProtocolError, describe
from reidbench.protocols import Procedure, Protocol

__all__ = ["ModelFileSource"]

_SUFFIXES = (".onnx", ".pt", ".ts", ".ptl", ".zip")


class ModelFileSource:
    """Features computed by a model file from the dataset's frames.

    Args:
        path: The ``.onnx`` or TorchScript file (a ``{split}`` template or a directory of
            ``<split>.onnx`` files for multi-split protocols).
        query_model: A second file embedding the query images under I2V (default: ``path``).
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:i]"`` (ONNX: the CUDA execution provider).
        batch_size: Clips per forward pass.
        num_workers: DataLoader workers for decoding, or ``"auto"``.
        cache_dir: Where extracted features are cached (None: no cache).
        autocast: Autocast on a GPU for TorchScript files (None: on; False: float32); an ONNX
            session runs the precision it was exported in.
    """

    kind = "model"
    extracts = True

    def __init__(self, path: str, query_model: str | None = None, device: str = "cpu",
                 batch_size: int = 32, num_workers: int | str = "auto",
                 cache_dir: str | None = None, autocast: bool | None = None) -> None:
        self.path = path
        self.query_model = query_model
        self.extraction = Extraction(resolve_device(device), batch_size, num_workers, cache_dir,
                                     autocast)

    def prepare(self, protocol: Protocol, splits: Sequence[str]) -> _PreparedModelFile:
        """Read and check every split's file (and the query model); build the first split's.

        Raises:
            CheckpointError: A file refused by the format checks, missing metadata, a fixed
                batch axis, a wrong input rank or an output that is not ``(N, D)``.
            ProtocolError: A query model given for a V2V protocol.
        """
        from reidbench.adapters.modelfile import open_model_file

        if self.query_model and protocol.evaluation.mode != "i2v":
            raise ProtocolError(describe("query_model", protocol.id, "an I2V protocol (the query "
                                         "model embeds query images)",
                                         f"mode {protocol.evaluation.mode!r}",
                                         "drop the query model"), param="query_model")
        files = {split: open_model_file(resolve_split_path(self.path, split, protocol, _SUFFIXES))
                 for split in splits}
        query = open_model_file(self.query_model) if self.query_model else None
        return _PreparedModelFile(self, protocol, files, query)


class _PreparedModelFile:
    """A :class:`ModelFileSource` resolved: checked files, one runtime alive at a time."""

    def __init__(self, source: ModelFileSource, protocol: Protocol, files: dict[str, Any],
                 query: Any) -> None:
        self.source = source
        self.protocol = protocol
        self.files = files
        self.device = source.extraction.device
        self.uses_scorer = False
        first = next(iter(files.values()))
        self.name = first.meta.name
        self.train_datasets = {split: f.meta.train_dataset for split, f in files.items()}
        base = protocol.procedure.override(input_size=first.meta.input_size)
        if first.meta.seq_len is not None:
            base = base.override(seq_len=first.meta.seq_len)
        self.procedure = base
        self._alive: tuple[str, Any] | None = None
        self._costs: dict[tuple, dict[str, Any]] = {}
        self.query = query.adapter(self.device) if query is not None else None
        self.build(next(iter(files)))

    def build(self, split: str) -> Any:
        """The runtime of ``split``'s file (probed), on the device."""
        if self._alive is None or self._alive[0] != split:
            self._alive = None
            self._alive = (split, self.files[split].adapter(self.device))
        return self._alive[1]

    def inputs(self, evalset: EvalSet, procedure: Procedure,
               progress: Progress | None = None) -> SplitInputs:
        """Extract features with the file's network and return the distance matrix."""
        from reidbench.metrics import compute_distance

        adapter = self.build(evalset.split)
        query = self.query or adapter
        for a in {id(adapter): adapter, id(query): query}.values():
            a.clip_pooling = procedure.pooling
        cache_config = {"model": adapter.file.describe(),
                        "query_model": query.file.describe() if self.query else None,
                        "clip_pooling": procedure.pooling}
        rows, extraction = embed_evalset({"video": adapter, "image": query}, evalset, procedure,
                                         self.source.extraction, cache_config, progress)
        qf = np.stack([rows[item] for item in evalset.query])
        gf = np.stack([rows[item] for item in evalset.gallery])
        info = {"kind": "model", **adapter.describe(), "cost": self._cost(adapter, procedure),
                "extraction": extraction,
                "model": {**adapter.file.describe(), **adapter.runtime()}}
        if self.query is not None:
            info["query_model"] = {**self.query.file.describe(), **self.query.runtime()}
        if qf.shape[1] != gf.shape[1]:
            raise ProtocolError(describe("query model", str(self.source.query_model),
                                         f"features of the gallery model's dimension "
                                         f"{gf.shape[1]}", f"dimension {qf.shape[1]}",
                                         "pair the two networks that were trained together"))
        qf, gf = normalize_features(qf, gf, procedure)
        return SplitInputs(compute_distance(qf, gf, metric=procedure.distance), qf, gf, info)

    def _cost(self, adapter: Any, procedure: Procedure) -> dict[str, Any]:
        """Forward GFLOPs of one clip (and one query image under I2V), as for adapters.

        TorchScript files are counted by torch's counter; ONNX files from their graph
        (:mod:`reidbench.engine.onnx_flops`), ``{}`` when the graph cannot be counted.
        """
        from reidbench.engine.flops import forward_gflops

        key = (adapter.file.sha256, procedure.seq_len, tuple(procedure.input_size))
        if key not in self._costs:
            mode = self.protocol.evaluation.mode
            self._costs[key] = (forward_gflops(adapter, procedure, mode)
                                if adapter.model is not None
                                else _onnx_cost(adapter.file, procedure, mode))
        return self._costs[key]

    def record(self, split_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
        first = next(iter(split_info.values()))
        adapter = {k: first.get(k) for k in ("name", "card", "checkpoint_sha256",
                                             "checkpoint_meta", "n_parameters", "cost")}
        adapter["seconds_per_item"] = seconds_per_item(split_info)
        model = dict(first["model"])
        if len(split_info) > 1:
            model["sha256_per_split"] = {s: i["model"]["sha256"] for s, i in split_info.items()}
        model["query_model"] = first.get("query_model")
        return {"kind": "model", "adapter": adapter, "features_sha256": None, "model": model}

    def config(self) -> dict[str, Any]:
        return {"model": self.source.path, "query_model": self.source.query_model,
                **self.source.extraction.config()}


def _onnx_cost(file: Any, procedure: Procedure, mode: str) -> dict[str, Any]:
    """GFLOPs of an ONNX file's graph on one clip (a frame model: its T frames) and one image."""
    from reidbench.engine.onnx_flops import ONNX_FLOPS_COUNTER, onnx_graph_flops

    h, w = (int(v) for v in procedure.input_size)
    t = int(procedure.seq_len)
    clip = (1, t, 3, h, w) if file.meta.input == "clip" else (t, 3, h, w)
    flops = onnx_graph_flops(file.onnx[0], clip)
    if flops is None:
        return {}
    out: dict[str, Any] = {"clip_shape": [1, t, 3, h, w], "flops_counter": ONNX_FLOPS_COUNTER,
                           "gflops_per_clip": flops / 1e9}
    if mode == "i2v":  # a clip model sees an image as a clip of seq_len copies of it
        image = ((1, int(file.meta.seq_len or 1), 3, h, w) if file.meta.input == "clip"
                 else (1, 3, h, w))
        per_image = onnx_graph_flops(file.onnx[0], image)
        if per_image is None:
            return {}
        out["gflops_per_image"] = per_image / 1e9
    return out
