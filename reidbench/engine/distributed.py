"""Multi-process feature extraction under ``torchrun`` (torch.distributed, NCCL or gloo).

Each rank embeds a contiguous shard of the clip list; the clip features are all-gathered, so every
rank holds the same full matrix and pooling and scoring give identical results; only rank 0 writes.
Launch: ``torchrun --nproc_per_node N -m reidbench evaluate ...``.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["world", "shard", "all_gather_rows", "barrier", "maybe_init", "is_main"]


def maybe_init() -> None:
    """Initialise the default process group when launched by torchrun (``WORLD_SIZE`` > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        import torch

        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside torch.distributed."""
    try:
        import torch.distributed as dist
    except ImportError:
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process is rank 0 (or not distributed)."""
    return world()[0] == 0


def barrier() -> None:
    """Wait for every rank (a no-op outside torch.distributed)."""
    if world()[1] > 1:
        import torch.distributed as dist

        dist.barrier()


def shard(n: int, rank: int, size: int) -> tuple[int, int]:
    """Contiguous ``[start, stop)`` of ``n`` items for ``rank`` of ``size``.

    Shard sizes differ by at most 1.
    """
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def all_gather_rows(local: np.ndarray, n_total: int) -> np.ndarray:
    """Concatenate every rank's rows in rank order (each rank passes its shard's rows)."""
    rank, size = world()
    if size == 1:
        return local
    import torch
    import torch.distributed as dist

    counts = [shard(n_total, r, size)[1] - shard(n_total, r, size)[0] for r in range(size)]
    width = local.shape[1] if local.ndim == 2 and local.shape[0] else 0
    widths = [torch.zeros(1, dtype=torch.int64) for _ in range(size)]
    dist.all_gather(widths, torch.tensor([width], dtype=torch.int64))
    width = int(max(w.item() for w in widths))
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    pad = torch.zeros(max(counts), width, dtype=torch.float32, device=device)
    if local.shape[0]:
        pad[: local.shape[0]] = torch.from_numpy(np.ascontiguousarray(local, np.float32)).to(device)
    parts = [torch.zeros_like(pad) for _ in range(size)]
    dist.all_gather(parts, pad)
    return np.concatenate([p[:c].cpu().numpy() for p, c in zip(parts, counts, strict=True)], axis=0)
