"""Feature extraction in large batches across tracklets, with an on-disk cache.

Every tracklet is turned into a list of clips by the procedure's sampling strategy; all clips of all
tracklets are batched together (a per-tracklet loop, as torchreid's video test loop does, wastes the
batch dimension), embedded, and pooled back per tracklet (mean or max). Features are cached under a
key made of what determines them (adapter, checkpoint sha256, config, items and their frames,
sampling, pooling, flip, input size) and never of the metric settings, so re-scoring under another
AP variant or protocol version costs no extraction.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reidbench.engine.evalset import EvalItem
from reidbench.fileio import atomic_write
from reidbench.protocols import Procedure

__all__ = ["extract_features", "score_pairs", "clip_plan", "cache_key"]

Progress = Callable[[str, int, int], None]


def clip_plan(
    items: Sequence[EvalItem], procedure: Procedure,
) -> tuple[np.ndarray, list[list[str]]]:
    """Return ``(owner, clips)``: for every clip, the index of its item and its frame paths.

    Images (I2V queries) are one one-frame clip; videos follow ``procedure.sampling``.
    """
    from reidbench.datasets.sampling import sample_test_clips

    owner: list[int] = []
    clips: list[list[str]] = []
    for idx, item in enumerate(items):
        if item.kind == "image":
            owner.append(idx)
            clips.append([item.frames[0]])
            continue
        for clip in sample_test_clips(procedure.sampling, len(item.frames), procedure.seq_len):
            owner.append(idx)
            clips.append([item.frames[i] for i in clip])
    return np.asarray(owner, dtype=np.int64), clips


def cache_key(adapter: Any, items: Sequence[EvalItem], procedure: Procedure) -> str:
    """sha256 of everything that determines the features, and nothing else."""
    h = hashlib.sha256()
    head = {
        "adapter": adapter.card.name,
        "checkpoint": adapter.checkpoint_sha256,
        "config": repr(getattr(adapter, "config", None)),
        "sampling": procedure.sampling, "seq_len": procedure.seq_len,
        "pooling": procedure.pooling, "flip": procedure.flip,
        "input_size": list(procedure.input_size),
    }
    h.update(json.dumps(head, sort_keys=True).encode())
    for item in items:
        h.update(f"{item.id}|{item.kind}|{'|'.join(item.frames)}\n".encode())
    return h.hexdigest()[:32]


def extract_features(adapter: Any, items: Sequence[EvalItem], *, procedure: Procedure,
                     side: str = "gallery", batch_size: int = 32, num_workers: int = 0,
                     cache_dir: str | None = None, progress: Progress | None = None
                     ) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed every item; return ``(features (N, D) float32, info)``.

    Args:
        adapter: The model adapter (already on its device, in eval mode).
        items: Tracklets (video) or single frames (image).
        procedure: Sampling, pooling, flip and input size.
        side: ``"query"`` or ``"gallery"`` (progress label only).
        batch_size: Clips per forward pass.
        num_workers: DataLoader decoding workers.
        cache_dir: Cache folder, or None.
        progress: ``callback(stage, done, total)``.
    """
    key = cache_key(adapter, items, procedure) if cache_dir else None
    if key:
        cached = Path(cache_dir) / f"{key}.npy"
        if cached.is_file():
            return np.load(cached, allow_pickle=False), {"cache": "hit", "key": key}
    t0 = time.perf_counter()
    owner, clips = clip_plan(items, procedure)
    images = bool(items) and all(item.kind == "image" for item in items)
    clip_feats = _embed_clips(adapter, clips, procedure, batch_size, num_workers, side, progress,
                              images)
    feats = _pool(clip_feats, owner, len(items), procedure.pooling)
    seconds = time.perf_counter() - t0
    n_frames = sum(len(c) for c in clips)
    info = {"cache": "miss" if key else "off", "key": key, "n_clips": len(clips),
            "n_frames": n_frames, "seconds": round(seconds, 3),
            "frames_per_second": round(n_frames / seconds, 1) if seconds > 0 else None}
    if key:
        atomic_write(Path(cache_dir) / f"{key}.npy", lambda tmp: _save_npy(tmp, feats))
    return feats, info


def _save_npy(tmp: Path, arr: np.ndarray) -> None:
    with open(tmp, "wb") as f:
        np.save(f, arr)


def _embed_clips(adapter: Any, clips: list[list[str]], procedure: Procedure, batch_size: int,
                 num_workers: int, side: str, progress: Progress | None,
                 images: bool) -> np.ndarray:
    import torch
    from torch.utils.data import DataLoader

    from reidbench.datasets.decode import ClipDataset
    from reidbench.engine.distributed import all_gather_rows, shard, world

    rank, size = world()
    start, stop = shard(len(clips), rank, size)
    loader = DataLoader(ClipDataset(clips[start:stop], size=procedure.input_size),
                        batch_size=batch_size,
                        num_workers=num_workers, shuffle=False)
    on_gpu = str(adapter.device).startswith("cuda")
    out: list[np.ndarray] = []
    done = 0
    for batch in loader:  # (B, T, 3, H, W)
        batch = batch.to(adapter.device, non_blocking=on_gpu)
        with torch.autocast("cuda", enabled=on_gpu):
            feats = _forward(adapter, batch, images)
            if procedure.flip:
                feats = (feats + _forward(adapter, batch.flip(-1), images)) / 2
        out.append(feats.float().cpu().numpy())
        done += batch.shape[0]
        if progress:
            progress(f"extract {side}", done, stop - start)
    local = np.concatenate(out, axis=0) if out else np.zeros((0, 0), np.float32)
    return all_gather_rows(local, len(clips))


def _forward(adapter: Any, batch: Any, images: bool) -> Any:
    """I2V query images go through ``embed_images``; everything else through ``embed_clips``."""
    return adapter.embed_images(batch[:, 0]) if images else adapter.embed_clips(batch)


def _pool(clip_feats: np.ndarray, owner: np.ndarray, n_items: int, pooling: str) -> np.ndarray:
    dim = clip_feats.shape[1]
    if pooling == "max":
        out = np.full((n_items, dim), -np.inf, dtype=np.float32)
        np.maximum.at(out, owner, clip_feats)
        return out
    sums = np.zeros((n_items, dim), dtype=np.float64)
    np.add.at(sums, owner, clip_feats)
    counts = np.bincount(owner, minlength=n_items).astype(np.float64)
    return (sums / counts[:, None]).astype(np.float32)


def score_pairs(adapter: Any, query_feats: np.ndarray, gallery_feats: np.ndarray, *,
                chunk: int = 256, progress: Progress | None = None) -> np.ndarray:
    """Score every (query, gallery) pair with the adapter's pairwise scorer, in query chunks."""
    import torch

    q = torch.from_numpy(query_feats).to(adapter.device)
    g = torch.from_numpy(gallery_feats).to(adapter.device)
    rows = []
    with torch.inference_mode():
        for start in range(0, q.shape[0], chunk):
            rows.append(adapter.score(q[start:start + chunk], g).float().cpu().numpy())
            if progress:
                progress("score pairs", min(start + chunk, q.shape[0]), q.shape[0])
    return np.concatenate(rows, axis=0).astype(np.float64)
