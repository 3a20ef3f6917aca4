"""Feature extraction in large batches across tracklets, with an on-disk cache.

Every tracklet is turned into a list of clips by the procedure's sampling strategy; all clips of all
tracklets are batched together (a per-tracklet loop, as torchreid's video test loop does, wastes the
batch dimension), embedded, and pooled back per tracklet (mean or max). Features are cached per
item under a key made of what determines them (adapter class, weights, config, sampling, pooling,
flip, input size, dataset fingerprint, device and autocast: :func:`model_key`; the item's id, kind
and frames: :func:`item_key`) and never of the metric settings, so re-scoring under another AP
variant or protocol version costs no extraction, and protocols that share tracklets (the two MARS
galleries) share their features.
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
from reidbench.engine.pipeline import Pipeline, autocast_dtype
from reidbench.fileio import atomic_write
from reidbench.protocols import Procedure

__all__ = ["FeatureCache", "extract_features", "score_pairs", "clip_plan", "item_key",
           "model_key"]

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


#: Procedure fields that change the features themselves (distance, normalisation and re-ranking
#: act on the features afterwards and are not part of a cache key).
EXTRACTION_FIELDS = ("sampling", "seq_len", "pooling", "flip", "input_size")
# Bumped whenever what a key names can compute different features: 3 = the interleaved sampler
# pads short tracklets as STMN's test_all does (0 1 2 3 2 3, was 0 1 2 3 2 2).
_CACHE_FORMAT = 3
# Batches of features kept on the device before they are gathered on the host.
_FLUSH_BATCHES = 64


def model_key(adapter: Any, procedure: Procedure, *, dataset_fingerprint: str = "",
              config: dict[str, Any] | None = None, autocast: bool | None = None) -> str | None:
    """sha256 (32 hex) of everything, apart from the item, that determines an item's features.

    The adapter's class (``module:Class``) and card name, its weights (the checkpoint's sha256, or
    when none was loaded a hash of the model's state dict), its resolved config, the extraction
    fields of the procedure, the dataset fingerprint, and the device type with the autocast dtype
    (:func:`reidbench.engine.pipeline.autocast_dtype`: bfloat16 or float16 on CUDA unless
    ``autocast=False``, none on the CPU). Never the metric settings.

    Returns:
        The key, or None when the adapter's weights cannot be identified (no checkpoint and no
        ``torch.nn.Module`` at ``adapter.model``): such an adapter is not cached.
    """
    weights = _weights_token(adapter)
    if weights is None:
        return None
    device = str(getattr(adapter, "device", "cpu"))
    cls = type(adapter)
    head = {
        "format": _CACHE_FORMAT,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "card": adapter.card.name,
        "weights": weights,
        "config": config if config is not None else getattr(adapter, "config", None),
        "procedure": {f: getattr(procedure, f) for f in EXTRACTION_FIELDS},
        "dataset": dataset_fingerprint,
        "device": device.split(":")[0],
        "autocast": autocast_dtype(device, autocast) or False,
    }
    text = json.dumps(head, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _weights_token(adapter: Any) -> str | None:
    if getattr(adapter, "checkpoint_sha256", None):
        return f"checkpoint:{adapter.checkpoint_sha256}"
    model = getattr(adapter, "model", None)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of extraction
        return None
    if not isinstance(model, torch.nn.Module):
        return None
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return f"state:{h.hexdigest()}"


def item_key(item: EvalItem) -> str:
    """sha256 (32 hex) of an item's id, kind and frame paths: its identity within a model key."""
    text = f"{item.id}|{item.kind}|{'|'.join(item.frames)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class FeatureCache:
    """Per-item features of one model key: a folder of ``.npz`` shards (``keys``, ``features``).

    Items are cached one by one, so a tracklet embedded for one protocol (or as a query) is reused
    by every other protocol and side that holds the same item under the same model key. Shards are
    written atomically with a ``digest`` (sha256 of the keys and the feature bytes) and are
    checked as submitted features files are: a shard that is unreadable, whose digest does not
    match (rows edited, truncated, one dimension short), whose ``features`` are not a finite
    ``(len(keys), D)`` float array, or whose ``D`` differs from the other shards', is ignored (its
    items are extracted again).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def lookup(self, wanted: set[str]) -> dict[str, np.ndarray]:
        """Return the cached rows of the ``wanted`` item keys that the cache holds.

        Rows all have one width: if valid shards disagree on ``D``, only the width most of the
        found rows have is kept.
        """
        from reidbench.fileio import NpzError, read_npz_bounded

        by_dim: dict[int, dict[str, np.ndarray]] = {}
        if not self.folder.is_dir():
            return {}
        for shard in sorted(self.folder.glob("*.npz")):
            try:
                z = read_npz_bounded(shard, max_array_bytes=1 << 30, max_members=4)
            except (NpzError, OSError):  # a damaged shard is only a cache miss
                continue
            keys, feats = z.get("keys"), z.get("features")
            if not _valid_shard(keys, feats, z.get("digest")):
                continue
            rows = by_dim.setdefault(int(feats.shape[1]), {})
            for k, row in zip(keys.tolist(), feats, strict=True):
                if k in wanted:
                    rows[k] = row
        if not by_dim:
            return {}
        return max(by_dim.values(), key=len)

    def add(self, keys: list[str], features: np.ndarray) -> None:
        """Store ``features`` (one row per key) as one new shard."""
        name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
        atomic_write(self.folder / f"{name}.npz",
                     lambda tmp: _save_npz(tmp, np.array(keys), features))


def _digest(keys: np.ndarray, features: np.ndarray) -> str:
    h = hashlib.sha256("\n".join(str(k) for k in keys.tolist()).encode())
    h.update(f"|{features.dtype.str}|{features.shape}|".encode())
    h.update(np.ascontiguousarray(features).tobytes())
    return h.hexdigest()


def _valid_shard(keys: Any, feats: Any, digest: Any) -> bool:
    """A shard's rows are used only if they are what was written: shapes, values, digest."""
    if keys is None or feats is None or digest is None:
        return False
    if keys.ndim != 1 or keys.dtype.kind != "U" or feats.ndim != 2 or feats.dtype.kind != "f":
        return False
    if feats.shape[0] != keys.shape[0] or feats.shape[1] == 0 or not np.isfinite(feats).all():
        return False
    return digest.ndim == 0 and str(digest) == _digest(keys, feats)


def _save_npz(tmp: Path, keys: np.ndarray, features: np.ndarray) -> None:
    with open(tmp, "wb") as f:
        np.savez(f, keys=keys, features=features, digest=np.array(_digest(keys, features)))


def extract_features(adapter: Any, items: Sequence[EvalItem], *, procedure: Procedure,
                     side: str = "gallery", batch_size: int = 32,
                     num_workers: int | str = "auto", cache_dir: str | None = None,
                     progress: Progress | None = None, dataset_fingerprint: str = "",
                     config: dict[str, Any] | None = None, autocast: bool | None = None
                     ) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed every item; return ``(features (N, D) float32, info)``.

    Args:
        adapter: The model adapter (already on its device, in eval mode).
        items: Tracklets (video) or single frames (image); all of one kind.
        procedure: Sampling, pooling, flip and input size.
        side: Progress label.
        batch_size: Clips per forward pass.
        num_workers: DataLoader decoding workers, or ``"auto"``
            (:func:`reidbench.engine.pipeline.resolve_workers`).
        cache_dir: Cache folder, or None. Features are cached per item under :func:`model_key`.
        progress: ``callback(stage, done, total)``.
        dataset_fingerprint: Part of the cache key (:func:`reidbench.engine.dataset_fingerprint`).
        config: The adapter's resolved config, part of the cache key (default
            ``adapter.config``).
        autocast: Autocast on a GPU (default on: bfloat16 where supported, else float16);
            ignored on the CPU. Part of the cache key.

    The ``info`` returned holds, besides the cache state and counts, the ``pipeline`` used
    (:meth:`reidbench.engine.pipeline.Pipeline.to_dict`: workers, pinning, channels_last,
    autocast) and the extraction's frames per second.
    """
    mkey = (model_key(adapter, procedure, dataset_fingerprint=dataset_fingerprint, config=config,
                      autocast=autocast) if cache_dir else None)
    keys = [item_key(item) for item in items]
    cache = FeatureCache(Path(cache_dir) / mkey) if mkey and cache_dir else None
    rows = cache.lookup(set(keys)) if cache else {}
    todo = list(dict.fromkeys(k for k in keys if k not in rows))
    by_key = dict(zip(keys, items, strict=True))
    info: dict[str, Any] = {"cache": _cache_state(cache, len(todo), len(set(keys))), "key": mkey,
                            "n_items": len(items), "n_extracted": len(todo)}
    if todo:
        feats, run = _extract([by_key[k] for k in todo], adapter, procedure, batch_size,
                              num_workers, autocast, side, progress)
        info.update(run)
        if rows and feats.shape[1] != next(iter(rows.values())).shape[0]:
            # cached rows of another width than the model gives now: none of them is used
            stale = list(dict.fromkeys(k for k in keys if k in rows))
            again, _ = _extract([by_key[k] for k in stale], adapter, procedure, batch_size,
                                num_workers, autocast, side, progress)
            rows = dict(zip(stale, again, strict=True))
            todo, feats = todo + stale, np.concatenate([feats, again])
            info["n_extracted"] = len(todo)
        rows.update(zip(todo, feats, strict=True))
        if cache:
            _store(cache, todo, feats)
    out = (np.stack([rows[k] for k in keys]).astype(np.float32, copy=False) if keys
           else np.zeros((0, 0), np.float32))
    return out, info


def _cache_state(cache: FeatureCache | None, n_todo: int, n_unique: int) -> str:
    if cache is None:
        return "off"
    return "hit" if n_todo == 0 else "miss" if n_todo == n_unique else "partial"


def _store(cache: FeatureCache, keys: list[str], feats: np.ndarray) -> None:
    """Write a new shard on rank 0; under torchrun every rank waits for it.

    The next lookup then agrees on every rank (the ranks must extract the same items together).
    """
    from reidbench.engine.distributed import barrier, is_main

    if is_main():
        cache.add(keys, feats)
    barrier()


def _extract(items: list[EvalItem], adapter: Any, procedure: Procedure, batch_size: int,
             num_workers: int | str, autocast: bool | None, side: str,
             progress: Progress | None) -> tuple[np.ndarray, dict[str, Any]]:
    from reidbench.engine.pipeline import plan_pipeline

    t0 = time.perf_counter()
    owner, clips = clip_plan(items, procedure)
    images = bool(items) and all(item.kind == "image" for item in items)
    n_frames = sum(len(c) for c in clips)
    pipe = plan_pipeline(str(getattr(adapter, "device", "cpu")), num_workers, n_frames, autocast)
    # the bar counts clips (an item may be cut into several): say how many items they make up
    label = side if len(clips) == len(items) else f"{side} ({len(items)} as clips)"
    clip_feats = _embed_clips(adapter, clips, procedure, batch_size, pipe, label, progress,
                              images)
    feats = _pool(clip_feats, owner, len(items), procedure.pooling)
    seconds = time.perf_counter() - t0
    return feats, {"n_clips": len(clips), "n_frames": n_frames, "seconds": round(seconds, 3),
                   "frames_per_second": round(n_frames / seconds, 1) if seconds > 0 else None,
                   "pipeline": pipe.to_dict()}


def _embed_clips(adapter: Any, clips: list[list[str]], procedure: Procedure, batch_size: int,
                 pipe: Pipeline, side: str, progress: Progress | None,
                 images: bool) -> np.ndarray:
    import torch

    from reidbench.engine.distributed import all_gather_rows, shard, world
    from reidbench.engine.pipeline import autocast_context, device_batches

    rank, size = world()
    start, stop = shard(len(clips), rank, size)
    if pipe.channels_last and isinstance(getattr(adapter, "model", None), torch.nn.Module):
        adapter.model.to(memory_format=torch.channels_last)
    host: list[np.ndarray] = []
    pending: list[Any] = []  # features left on the device: no synchronisation per batch
    done = 0
    adapter.eval()  # the engine owns inference: eval mode and inference mode, whatever the adapter
    with torch.inference_mode():
        for batch in device_batches(clips[start:stop], procedure.input_size, batch_size, pipe):
            with autocast_context(pipe):
                feats = _forward(adapter, batch, images)
                if procedure.flip:
                    feats = (feats + _forward(adapter, batch.flip(-1), images)) / 2
            pending.append(feats.float())
            if len(pending) >= _FLUSH_BATCHES:
                host.append(torch.cat(pending).cpu().numpy())
                pending.clear()
            done += batch.shape[0]
            if progress:
                progress(f"extract {side}", done, stop - start)
    if pending:
        host.append(torch.cat(pending).cpu().numpy())
    local = np.concatenate(host, axis=0) if host else np.zeros((0, 0), np.float32)
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
                chunk: int = 256, gallery_bytes: int = 1 << 30,
                progress: Progress | None = None) -> np.ndarray:
    """Score every (query, gallery) pair with the adapter's pairwise scorer.

    Queries go in chunks of ``chunk`` rows and the gallery in blocks of at most ``gallery_bytes``,
    each moved to the adapter's device only while it is scored: a MARS gallery of READ
    representations is 14.8 GB with ResNet-50, more than a GPU should hold beside the model.
    """
    import torch

    row_bytes = max(1, gallery_feats[:1].nbytes)
    g_step = max(1, gallery_bytes // row_bytes)
    gallery = torch.from_numpy(gallery_feats)
    rows = []
    adapter.eval()
    with torch.inference_mode():
        for start in range(0, query_feats.shape[0], chunk):
            q = torch.from_numpy(query_feats[start:start + chunk]).to(adapter.device)
            blocks = [adapter.score(q, gallery[g:g + g_step].to(adapter.device)).float().cpu()
                      for g in range(0, gallery.shape[0], g_step)]
            rows.append(torch.cat(blocks, dim=1).numpy() if blocks
                        else np.zeros((q.shape[0], 0), np.float32))
            if progress:
                progress("score pairs", min(start + chunk, query_feats.shape[0]),
                         query_feats.shape[0])
    return np.concatenate(rows, axis=0).astype(np.float64)
