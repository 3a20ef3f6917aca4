"""The extraction pipeline: frames decoded in workers, copied to the device, normalised there.

Workers (``torch.utils.data.DataLoader`` processes, one torch thread each) decode and resize
frames to uint8 and collate them as uint8 (a quarter of float32's bytes through shared memory and
over the bus); the batch is pinned and copied without blocking when the device is a GPU, and
converted to float and ImageNet-normalised on the device (:func:`reidbench.datasets.decode.
normalize_clips`). While the model runs on one batch the workers decode the next ones
(``prefetch_factor`` batches each), and on a GPU the next batch's copy is queued before the
current one is handed over. On a GPU the model also runs ``channels_last`` under autocast
(bfloat16 where the GPU supports it, else float16). Everything chosen is recorded
(:meth:`Pipeline.to_dict`) in the result.

The number of workers, ``auto`` by default, is chosen by :func:`resolve_workers` from the cores
this process may use and the size of the job; the measurements behind it are in
``benchmarks/PROFILE.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any

from reidbench.errors import InputError, ReidbenchError, describe

__all__ = ["Pipeline", "plan_pipeline", "resolve_workers", "available_cores", "device_batches",
           "autocast_dtype", "unwrap_worker_error", "MAX_AUTO_WORKERS", "TINY_JOB_FRAMES"]

#: Most workers ``auto`` starts (more rarely pays: a GPU's model consumes frames faster than
#: ~16 cores decode them only for small backbones).
MAX_AUTO_WORKERS = 16
#: Below this many frames ``auto`` decodes in the main process: starting workers (fork, pipes,
#: the first batch's latency: 70-150 ms for one or two) costs more than the overlap saves
#: (measured in benchmarks/PROFILE.md: break-even near 500 frames on 2 cores).
TINY_JOB_FRAMES = 512


@dataclass(frozen=True)
class Pipeline:
    """How frames reach the model, as recorded in the result.

    Attributes:
        device: The model's device (``cpu``, ``cuda``, ``cuda:1``).
        workers: DataLoader worker processes (0: decoded in the main process).
        workers_requested: What was asked for (``"auto"`` or a number).
        torch_threads: Intra-op threads of the main process while extracting.
        pin_memory: Batches are pinned before the copy (GPU only).
        channels_last: The model and its input batches are ``channels_last`` (GPU only).
        autocast: The autocast dtype (``"bfloat16"``, ``"float16"``) or None (full float32).
        decoder: What decodes JPEG frames (:func:`reidbench.datasets.decode.jpeg_decoder`).
        omp_wait_policy: ``OMP_WAIT_POLICY`` as set when the pipeline was planned (None: unset).
        batch_dtype: dtype of the collated batch crossing to the device.
    """

    device: str
    workers: int
    workers_requested: int | str
    torch_threads: int
    pin_memory: bool
    channels_last: bool
    autocast: str | None
    decoder: str = "pillow"
    omp_wait_policy: str | None = None
    batch_dtype: str = "uint8"

    @property
    def on_gpu(self) -> bool:
        """Whether the device is a CUDA device."""
        return self.device.startswith("cuda")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the pipeline."""
        return asdict(self)


def available_cores() -> int:
    """CPU cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_workers(requested: int | str, n_frames: int, device: str,
                    cores: int | None = None) -> int:
    """The number of decoding workers for a job.

    Args:
        requested: ``"auto"`` or a number >= 0 (used as given).
        n_frames: Frames the job decodes.
        device: The model's device.
        cores: Cores available (default :func:`available_cores`, shared by the processes of
            this node under torchrun: divided by ``LOCAL_WORLD_SIZE``).

    ``auto``: none for a job under :data:`TINY_JOB_FRAMES` frames (worker start-up would
    dominate); on a GPU every core but one (the main process feeds the GPU), at most
    :data:`MAX_AUTO_WORKERS`. On the CPU the model's threads use the same cores: with
    ``OMP_WAIT_POLICY=PASSIVE`` (set by ``reidbench evaluate``; torch's idle threads then sleep)
    one worker per core, else half as many (spinning threads and busy workers oversubscribe the
    cores); the measurements are in benchmarks/PROFILE.md.

    Raises:
        InputError: ``requested`` is neither ``"auto"`` nor an integer >= 0.
    """
    if requested == "auto":
        n = available_cores() // _local_world_size() if cores is None else cores
        if n_frames < TINY_JOB_FRAMES:
            return 0
        if device.startswith("cuda"):
            return max(1, min(MAX_AUTO_WORKERS, n - 1))
        if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
            return min(MAX_AUTO_WORKERS, n)
        return max(1, min(MAX_AUTO_WORKERS, n // 2))
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise InputError(describe("num_workers", "feature extraction",
                                  "'auto' or an integer >= 0", repr(requested), ""),
                         param="num_workers")
    return requested


def _local_world_size() -> int:
    """Processes of this job on this node (torchrun's ``LOCAL_WORLD_SIZE``; 1 otherwise)."""
    text = os.environ.get("LOCAL_WORLD_SIZE", "1")
    return max(1, int(text)) if text.isdigit() else 1


def autocast_dtype(device: str, enabled: bool | None = None) -> str | None:
    """The autocast dtype for ``device``: None on the CPU or when disabled.

    ``enabled=None`` means on for CUDA. bfloat16 where the GPU supports it (Ampere and later),
    else float16.
    """
    if not device.startswith("cuda") or enabled is False:
        return None
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def plan_pipeline(device: str, workers: int | str = "auto", n_frames: int = 0,
                  autocast: bool | None = None) -> Pipeline:
    """Choose the pipeline for a job of ``n_frames`` frames on ``device``."""
    import torch

    from reidbench.datasets.decode import jpeg_decoder

    n_workers = resolve_workers(workers, n_frames, device)
    gpu = device.startswith("cuda")
    return Pipeline(device=device, workers=n_workers, workers_requested=workers,
                    torch_threads=torch.get_num_threads(), pin_memory=gpu, channels_last=gpu,
                    autocast=autocast_dtype(device, autocast), decoder=jpeg_decoder(),
                    omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"))


def autocast_context(pipe: Pipeline) -> AbstractContextManager[Any]:
    """``torch.autocast`` for the pipeline's dtype, or a no-op context."""
    if pipe.autocast is None:
        return nullcontext()
    import torch

    return torch.autocast("cuda", dtype=getattr(torch, pipe.autocast))


def _worker_init(_: int) -> None:
    """Each decoding worker uses one torch thread (the cores belong to the other workers)."""
    import torch

    torch.set_num_threads(1)


def device_batches(clips: Sequence[Sequence[str]], size: tuple[int, int], batch_size: int,
                   pipe: Pipeline) -> Iterator[Any]:
    """Yield ``(B, T, 3, H, W)`` float32 batches of ``clips``, normalised, on the device.

    On a GPU the batches keep each frame channels-last in memory (``flatten(0, 1)`` gives a
    ``channels_last`` batch) and the next batch's copy is queued before the current one is
    yielded; on the CPU they are contiguous, as :func:`reidbench.datasets.decode.load_clip`
    makes them.

    Raises:
        ReidbenchError: A frame could not be read (the error raised where it was decoded, one
            line, also when that was in a worker process).
    """
    from torch.utils.data import DataLoader

    from reidbench.datasets.decode import (
        Uint8ClipDataset,
        collate_uint8,
        normalize_clips,
        raise_failed,
    )

    extra: dict[str, Any] = {}
    if pipe.workers:
        extra = {"worker_init_fn": _worker_init, "prefetch_factor": 4,
                 "multiprocessing_context": _mp_context()}
    loader = DataLoader(Uint8ClipDataset(clips, size), batch_size=batch_size, shuffle=False,
                        num_workers=pipe.workers, collate_fn=collate_uint8,
                        pin_memory=pipe.pin_memory, **extra)
    pending = None
    batches = iter(loader)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except ReidbenchError as exc:  # raised in a worker outside an item: drop its traceback
            raise unwrap_worker_error(exc) from None
        moved = raise_failed(batch).to(pipe.device, non_blocking=pipe.pin_memory)
        if pending is not None:
            yield normalize_clips(pending, contiguous=not pipe.channels_last)
        pending = moved
    if pending is not None:
        yield normalize_clips(pending, contiguous=not pipe.channels_last)


def unwrap_worker_error(exc: ReidbenchError) -> ReidbenchError:
    """The one-line error a DataLoader worker raised, without the worker's traceback.

    torch re-raises a worker's exception in the main process as the same class whose message is
    ``"Caught X in DataLoader worker process N. Original Traceback ..."``; its last line is the
    original ``module.X: message``. Other errors are returned as they are.
    """
    text = str(exc)
    if "DataLoader worker process" not in text or "Original Traceback" not in text:
        return exc
    last = text.rstrip().splitlines()[-1]
    name = type(exc).__name__
    head, sep, message = last.partition(": ")
    if not sep or not head.endswith(name):
        return exc
    out = type(exc)(message)
    out.param = getattr(exc, "param", None)
    return out


def _mp_context() -> Any:
    """``fork`` where the platform has it (workers start in milliseconds, torch already loaded)."""
    import multiprocessing as mp

    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
