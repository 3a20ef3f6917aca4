"""Write a :class:`~reidbench.adapters.ModuleAdapter` as an ONNX or TorchScript model file.

The file holds the network of :meth:`ModuleAdapter.forward_features`, clips ``(B, T, 3, H, W)``
(ImageNet-normalised, as the engine feeds adapters) to features ``(B, D)``, with a dynamic batch
axis, and the ``reidbench.*`` metadata (:mod:`reidbench.adapters.modelfile.metadata`): input
``clip``, the frame size the checkpoint was trained at (else the adapter's card), normalisation
``imagenet``, the adapter's test clip length, its name and the checkpoint's training dataset.
The exported file is read back through the same checks ``reidbench evaluate --model`` applies and
its features compared with the adapter's on random clips of another batch size; a file that
differs by more than :data:`TOLERANCE` is not written.

Pairwise scorers (READ) are refused: ``--model`` ranks by a distance between features, while
READ ranks every (query, gallery) pair with its learned discriminator, attending over the gallery
tracklet's per-frame memory. Its two embedding networks alone would evaluate a different method.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reidbench.adapters.base import Adapter
from reidbench.adapters.module import ModuleAdapter
from reidbench.errors import CheckpointError, InputError, describe, first_line
from reidbench.fileio import unwritable_reason
from reidbench.protocols import Procedure

__all__ = ["FORMATS", "TOLERANCE", "export_adapter"]

FORMATS = ("onnx", "torchscript")
#: Largest absolute difference accepted between the file's features and the adapter's.
TOLERANCE = 1e-4
OPSET = 17


class _Features:
    """``forward(clips) = adapter.forward_features(clips)`` as a torch module."""

    def __new__(cls, adapter: ModuleAdapter) -> Any:
        import torch

        class Features(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = adapter.model

            def forward(self, clips: torch.Tensor) -> torch.Tensor:
                return adapter.forward_features(clips)

        return Features().eval()


def export_adapter(adapter: Adapter, fmt: str, out: str | Path, *,
                   train_dataset: str | None = None, input_size: tuple[int, int] | None = None,
                   seed: int = 0) -> dict[str, Any]:
    """Export ``adapter``'s network to ``out`` and check the file against the adapter.

    Args:
        adapter: A :class:`ModuleAdapter` (weights loaded).
        fmt: ``"onnx"`` or ``"torchscript"``.
        out: The file to write (written atomically, only when the check passes).
        train_dataset: Declared training dataset (default: the checkpoint's ``train_dataset``).
        input_size: Frame size (default: the checkpoint's trained size, else the card's).
        seed: Seed of the random check clips.

    Returns:
        ``{"path", "format", "metadata", "max_abs_diff", "sha256"}``.

    Raises:
        InputError: An unknown format, an adapter that is not a ModuleAdapter, a pairwise
            scorer, or an ``out`` that cannot be written (a folder, under a file, read-only).
        CheckpointError: The exported file fails the model-file checks or differs from the
            adapter by more than :data:`TOLERANCE`.
    """
    import torch

    from reidbench.adapters.meta import check_input_size
    from reidbench.adapters.modelfile import open_model_file

    if fmt not in FORMATS:
        raise InputError(describe("format", "export_adapter", f"one of {list(FORMATS)}",
                                  repr(fmt), ""), param="format")
    name = adapter.card.name
    if adapter.uses_scorer:
        raise InputError(describe(f"adapter {name!r}", "export", "a feature extractor ranked "
                                  "by a distance", "a pairwise scorer (it ranks each query-"
                                  "gallery pair with a learned network)", "evaluate it with "
                                  "--adapter; a model file has no pairwise scorer"))
    if not isinstance(adapter, ModuleAdapter):
        raise InputError(describe(f"adapter {name!r}", "export", "a ModuleAdapter (one torch "
                                  "module behind forward_features)", type(adapter).__name__, ""))
    meta_ckpt = dict(adapter.checkpoint_meta)
    trained = meta_ckpt.get("input_size")
    size = input_size or (check_input_size(trained, "input_size", "the checkpoint metadata")
                          if trained is not None else tuple(adapter.card.input_size))
    proc = adapter.procedure(Procedure(input_size=(int(size[0]), int(size[1]))))
    h, w = (int(v) for v in proc.input_size)
    seq_len = int(proc.seq_len)
    train = train_dataset or meta_ckpt.get("train_dataset")
    meta = {"reidbench.input": "clip", "reidbench.input_size": f"{h},{w}",
            "reidbench.normalize": "imagenet", "reidbench.seq_len": str(seq_len),
            "reidbench.name": name}
    if train:
        meta["reidbench.train_dataset"] = str(train)
    out = Path(out)
    reason = f"{out} is a folder" if out.is_dir() else unwritable_reason(out.parent)
    if reason:
        raise InputError(describe("out", "export", "a model file this user can write", reason,
                                  "pass a writable file path"), param="out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    net = _Features(adapter)
    gen = torch.Generator().manual_seed(seed)
    example = torch.randn(2, seq_len, 3, h, w, generator=gen)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            if fmt == "onnx":
                _onnx(net, example, tmp, out, meta)
            else:
                _torchscript(net, example, tmp, out, meta)
        try:
            diff, sha = _check(adapter, open_model_file(tmp), seq_len, h, w, gen)
        except CheckpointError as exc:  # the checks name the temporary file: name --out
            raise CheckpointError(str(exc).replace(str(tmp), str(out))) from None
        if diff > TOLERANCE:
            raise CheckpointError(describe("exported file", str(out), f"features within "
                                           f"{TOLERANCE} of the adapter's", f"a max abs "
                                           f"difference of {diff:.3g}", f"the {fmt} export does "
                                           "not reproduce this network; try the other format"))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"path": str(out), "format": fmt, "metadata": meta, "max_abs_diff": diff,
            "sha256": sha}


@contextlib.contextmanager
def _stdout_discarded() -> Iterator[None]:
    """Point file descriptor 1 at the null device while torch's ONNX exporter runs.

    On failure the exporter prints its whole graph there: its ``setup_onnx_logging`` turns the
    ONNX log on whatever ``verbose`` says.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _onnx(net: Any, example: Any, path: Path, out: Path, meta: dict[str, str]) -> None:
    import onnx
    import torch

    try:
        with _stdout_discarded():
            torch.onnx.export(net, (example,), str(path), dynamo=False, input_names=["clips"],
                              output_names=["features"], opset_version=OPSET,
                              dynamic_axes={"clips": {0: "batch"}, "features": {0: "batch"}})
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types
        first = first_line(exc)
        raise CheckpointError(describe("ONNX export", str(out), "a network torch.onnx.export "
                                       f"can write at opset {OPSET}", first.strip()[:200],
                                       "try --format torchscript")) from None
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, str(path))


def _torchscript(net: Any, example: Any, path: Path, out: Path, meta: dict[str, str]) -> None:
    import torch

    try:
        traced = torch.jit.trace(net, (example,), check_trace=False)
    except Exception as exc:  # noqa: BLE001 - the tracer raises many types
        first = first_line(exc)
        raise CheckpointError(describe("TorchScript export", str(out), "a network "
                                       "torch.jit.trace can record (one tensor out)",
                                       first.strip()[:200], "try --format onnx")) from None
    torch.jit.save(traced, str(path), _extra_files=meta)


def _check(adapter: Adapter, file: Any, seq_len: int, h: int, w: int, gen: Any
           ) -> tuple[float, str]:
    import torch

    clips = torch.randn(3, seq_len, 3, h, w, generator=gen)  # another batch size than traced
    runner = file.adapter("cpu")
    with torch.inference_mode():
        want = adapter.embed_clips(clips).float()
        got = runner.embed_clips(clips).float()
    return float((want - got).abs().max()), file.sha256
