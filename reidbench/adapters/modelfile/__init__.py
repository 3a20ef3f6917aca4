"""Models submitted as files: ONNX or TorchScript, evaluated without running submitter code.

:func:`open_model_file` reads a file once (bounded), recognises its format, checks it as data
(:mod:`~reidbench.adapters.modelfile.onnx_file`,
:mod:`~reidbench.adapters.modelfile.torchscript_file`), parses its ``reidbench.*`` metadata
(:mod:`~reidbench.adapters.modelfile.metadata`), and returns a :class:`ModelFile`;
:meth:`ModelFile.adapter` builds the runtime and a :class:`FileModelAdapter` around it, which the
engine drives like any adapter (its clip pipeline, sampling, pooling, cache). A probe forward on
two zero inputs checks the batch axis and the ``(N, D)`` output before any frame is decoded.

torch.export archives (``.pt2``) are refused: ``torch.export.load`` falls back to
``torch.load(weights_only=False)``, which runs arbitrary pickled Python, when its constants do
not load with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reidbench.adapters.base import Adapter, AdapterCard
from reidbench.adapters.modelfile.metadata import KEYS, ModelMeta, parse_metadata, read_sidecar
from reidbench.adapters.modelfile.onnx_file import (
    EXPORT_HINT,
    MAX_ONNX_BYTES,
    OnnxModel,
    inspect_onnx,
    io_shapes,
    not_a_model,
)
from reidbench.adapters.modelfile.torchscript_file import (
    MAX_TORCHSCRIPT_BYTES,
    TorchScriptModel,
    inspect_torchscript,
    is_torchscript,
)
from reidbench.errors import CheckpointError, describe, first_line

__all__ = ["KEYS", "FileModelAdapter", "ModelFile", "ModelMeta", "open_model_file"]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelFile:
    """A model file read and checked as data (nothing of it has run yet).

    Attributes:
        path: Where it was read from.
        format: ``"onnx"`` or ``"torchscript"``.
        sha256: Hex sha256 of the file's bytes.
        meta: Its parsed ``reidbench.*`` declarations (sidecar applied).
        data: The bytes read.
        onnx: ``(ModelProto, uses external data)`` for ONNX files.
    """

    path: Path
    format: str
    sha256: str
    meta: ModelMeta
    data: bytes
    onnx: tuple[Any, bool] | None = None

    def adapter(self, device: str = "cpu") -> FileModelAdapter:
        """Build the runtime (onnxruntime session or TorchScript module) and probe it.

        Raises:
            CheckpointError: The runtime refuses the model, or the probe finds a fixed batch
                axis, a wrong input rank or an output that is not ``(N, D)`` finite.
        """
        if self.format == "onnx":
            if self.onnx is None:  # only open_model_file's checks fill it in
                raise CheckpointError(describe("ONNX model", str(self.path), "a file read and "
                                               "checked by open_model_file", "an unchecked "
                                               "ModelFile", "open it with open_model_file"))
            runner: Any = OnnxModel(self.data, self.path, self.onnx[1], device)
        else:
            runner = TorchScriptModel(self.data, self.path, device)
        adapter = FileModelAdapter(self, runner, device)
        adapter.probe()
        return adapter

    def describe(self) -> dict[str, Any]:
        """What the record says of the file (format, sha256, metadata, path)."""
        return {"format": self.format, "path": str(self.path), "sha256": self.sha256,
                "metadata": dict(self.meta.raw)}


def open_model_file(path: str | Path) -> ModelFile:
    """Read, recognise and check a model file and its metadata; nothing of it runs.

    Raises:
        CheckpointError: A missing, oversized or unrecognised file, one refused by the format
            checks, or missing or malformed ``reidbench.*`` metadata.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(describe("model file", str(p), "an existing file", "nothing there",
                                       "check the path"))
    size = p.stat().st_size
    limit = max(MAX_ONNX_BYTES, MAX_TORCHSCRIPT_BYTES)
    if size > limit:
        raise CheckpointError(describe("model file", str(p), f"at most {limit} bytes",
                                       f"{size} bytes", ""))
    with open(p, "rb") as f:
        data = f.read(limit + 1)
    sha = hashlib.sha256(data).hexdigest()
    sidecar = read_sidecar(p)
    if data[:4] == b"PK\x03\x04":
        names = _zip_names(data, p)
        if any(n.endswith("archive_format") for n in names) or p.suffix == ".pt2":
            raise CheckpointError(describe("model file", str(p), "ONNX or TorchScript",
                                           "a torch.export archive (.pt2), refused: "
                                           "torch.export.load falls back to unpickling arbitrary "
                                           "Python", "export to ONNX or TorchScript instead"))
        if not is_torchscript(names):
            raise not_a_model(p)
        found = inspect_torchscript(data, p)
        meta = parse_metadata(found, str(p), sidecar)
        return ModelFile(p, "torchscript", sha, meta, data)
    if len(data) > MAX_ONNX_BYTES:
        raise CheckpointError(describe("ONNX model", str(p), f"at most {MAX_ONNX_BYTES} bytes",
                                       f"{len(data)} bytes", ""))
    model, external, props = inspect_onnx(data, p)
    meta = parse_metadata(props, str(p), sidecar)
    _check_onnx_io(model, meta, str(p))
    return ModelFile(p, "onnx", sha, meta, data, (model, external))


def _zip_names(data: bytes, p: Path) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise not_a_model(p) from None


def _check_onnx_io(model: Any, meta: ModelMeta, where: str) -> None:
    """The declared input's rank, a dynamic batch axis and a 2-D output, read from the graph."""
    name, dims, out = io_shapes(model)
    rank = 5 if meta.input == "clip" else 4
    layout = "(B, T, 3, H, W)" if meta.input == "clip" else "(N, 3, H, W)"
    if dims and len(dims) != rank:
        raise CheckpointError(describe(f"input {name!r}", where, f"rank {rank} {layout}, as "
                                       f"reidbench.input = {meta.input!r} declares",
                                       f"rank {len(dims)} {tuple(dims)}",
                                       "fix reidbench.input (clip: (B,T,3,H,W), frame: "
                                       "(N,3,H,W)) or export the network for that input"))
    if dims and isinstance(dims[0], int) and dims[0] > 0:
        raise CheckpointError(describe(f"batch axis 0 of input {name!r}", where, "a dynamic "
                                       "axis", f"the fixed size {dims[0]}", EXPORT_HINT))
    if out and len(out) != 2:
        raise CheckpointError(describe("output", where, "features (N, D)",
                                       f"rank {len(out)} {tuple(out)}", "export forward to "
                                       "return the (N, D) embedding"))
    size = dims[-2:] if len(dims) == rank else []
    if all(isinstance(d, int) and d > 0 for d in size) and len(size) == 2 \
            and tuple(size) != meta.input_size:
        raise CheckpointError(describe(f"input {name!r}", where, "frames of reidbench.input_size "
                                       f"{meta.input_size[0]},{meta.input_size[1]}",
                                       f"a graph fixed at {size[0]}x{size[1]}",
                                       f'set reidbench.input_size to "{size[0]},{size[1]}"'))


class FileModelAdapter(Adapter):
    """A model file behind the adapter interface (the engine's clip pipeline drives it).

    Clips arrive ImageNet-normalised (the decoder's output) and are renormalised to the file's
    declared ``reidbench.normalize``. A frame model embeds every frame of a clip; the frame
    features are pooled per clip with :attr:`clip_pooling` (the procedure's pooling, which then
    pools clips per tracklet). An image (I2V query) is one frame for a frame model and a clip of
    ``seq_len`` copies of itself for a clip model.

    Args:
        file: The checked file.
        runner: Its runtime (:class:`OnnxModel` or :class:`TorchScriptModel`).
        device: Where the runtime runs.
    """

    def __init__(self, file: ModelFile, runner: Any, device: str = "cpu") -> None:
        super().__init__()
        self.file = file
        self.runner = runner
        meta = file.meta
        self.card = AdapterCard(name=meta.name, modes=("v2v", "i2v"),
                                input_size=meta.input_size, license="unknown",
                                notes=f"{file.format} model file run with {runner.runtime} "
                                      f"{runner.version}")
        self.checkpoint_sha256 = file.sha256
        self.checkpoint_meta = dict(meta.raw)
        self.config = {"model_file": dict(meta.raw), "format": file.format}
        self.clip_pooling = "mean"
        self._torch = file.format == "torchscript"
        self.model = runner.module if self._torch else None
        self.device = device if self._torch else "cpu"  # onnxruntime takes host arrays

    def to(self, device: str) -> FileModelAdapter:
        """TorchScript modules move; an onnxruntime session keeps its provider."""
        if self._torch:
            super().to(device)
        return self

    def n_parameters(self) -> int | None:
        """The TorchScript module's parameters, or the ONNX graph's floating-point tensors.

        See :func:`~reidbench.adapters.modelfile.onnx_file.onnx_parameter_count` for how an
        exported graph's count can differ from the module it came from.
        """
        if self._torch:
            return super().n_parameters()
        from reidbench.adapters.modelfile.onnx_file import onnx_parameter_count

        return onnx_parameter_count(self.file.onnx[0]) if self.file.onnx else None

    def runtime(self) -> dict[str, Any]:
        """Runtime, its version and the providers (or device) it runs on."""
        return {"runtime": self.runner.runtime, "runtime_version": self.runner.version,
                "providers": list(self.runner.providers)}

    def _renormalize(self, x: Any) -> Any:
        meta = self.file.meta
        if meta.is_imagenet:
            return x
        import torch

        def col(v: tuple[float, ...]) -> Any:
            shape = [1] * x.ndim
            shape[-3] = 3
            return torch.tensor(v, dtype=x.dtype, device=x.device).view(shape)

        pixels = x * col(_IMAGENET_STD) + col(_IMAGENET_MEAN)
        return (pixels - col(meta.mean)) / col(meta.std)

    def _run(self, x: Any) -> Any:
        import torch

        try:
            if self._torch:
                out = self.runner(x.to(self.device))
            else:
                out = torch.from_numpy(np.ascontiguousarray(
                    self.runner(x.detach().float().cpu().numpy())))
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - the runtimes raise many types
            first = first_line(exc)
            raise CheckpointError(describe("model file", str(self.file.path), "a network that "
                                           f"runs on input {tuple(x.shape)} (reidbench.input "
                                           f"{self.file.meta.input!r}, input_size "
                                           f"{self.file.meta.input_size})", first.strip()[:200],
                                           "check reidbench.input and reidbench.input_size; "
                                           + EXPORT_HINT)) from None
        self._check_output(out, int(x.shape[0]))
        return out

    def _check_output(self, out: Any, n: int) -> None:
        import torch

        where = str(self.file.path)
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != n:
            got = (f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
                   else f"a {type(out).__name__}")
            fix = (EXPORT_HINT if isinstance(out, torch.Tensor) and out.ndim == 2
                   else "return the (N, D) embedding from forward")
            raise CheckpointError(describe("output", where, f"features ({n}, D) for a batch of "
                                           f"{n}", got, fix))
        if not torch.isfinite(out).all():
            raise CheckpointError(describe("output", where, "finite features", "NaN or inf",
                                           "check the exported network (and "
                                           "reidbench.normalize)"))

    def embed_clips(self, clips: Any) -> Any:
        """Clips ``(B, T, 3, H, W)`` -> ``(B, D)``."""
        x = self._renormalize(clips)
        if self.file.meta.input == "clip":
            return self._run(x)
        b, t = x.shape[:2]
        frames = self._run(x.reshape(b * t, *x.shape[2:])).reshape(b, t, -1)
        return frames.amax(dim=1) if self.clip_pooling == "max" else frames.mean(dim=1)

    def embed_images(self, images: Any) -> Any:
        """Images ``(B, 3, H, W)`` -> ``(B, D)``."""
        x = self._renormalize(images)
        if self.file.meta.input == "frame":
            return self._run(x)
        t = int(self.file.meta.seq_len or 1)
        return self._run(x.unsqueeze(1).expand(-1, t, -1, -1, -1).contiguous())

    def probe(self) -> int:
        """One forward on two zero inputs; return the feature dimension.

        Raises:
            CheckpointError: The network fails on a batch of two, or its output is not
                ``(2, D)`` finite.
        """
        import torch

        h, w = self.file.meta.input_size
        shape = ((2, int(self.file.meta.seq_len or 1), 3, h, w)
                 if self.file.meta.input == "clip" else (2, 3, h, w))
        with torch.inference_mode():
            return int(self._run(torch.zeros(shape)).shape[1])
