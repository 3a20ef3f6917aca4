"""A small, complete training loop for trainable adapters (the baselines and ablation sweeps).

P x K identity batches, the method's own losses (``TrainableAdapter.training_loss``), Adam with a
step schedule, whole-tracklet horizontal flips, a validation split of held-out *training*
identities for model selection (never the test set), resumable checkpoints, and a final
safetensors checkpoint that carries the baseline name, its config, the training dataset and split,
and the reidbench version, so ``reidbench evaluate --adapter NAME --checkpoint FILE`` just works.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from reidbench.engine.sampler import PKSampler
from reidbench.errors import InputError, describe
from reidbench.fileio import write_json_atomic

__all__ = ["TrainOptions", "train"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainOptions:
    """Run settings that are not the method's recipe (the recipe is the adapter's).

    Attributes:
        epochs: Override the recipe's epochs.
        iters_per_epoch: Iterations per epoch (default: ``n_ids // P``).
        lr: Override the learning rate.
        P: Override identities per batch.
        K: Override tracklets per identity.
        seq_len: Override frames per clip.
        input_size: ``(height, width)`` of training frames.
        val_fraction: Share of training identities held out for model selection (0: none).
        max_minutes: Stop after this wall time (a checkpoint is written).
        seed: Seed of sampling, flips and the validation split.
        device: ``"cpu"`` or ``"cuda"``.
        resume: Continue from ``out/last.pt`` when present.
    """

    epochs: int | None = None
    iters_per_epoch: int | None = None
    lr: float | None = None
    P: int | None = None
    K: int | None = None
    seq_len: int | None = None
    input_size: tuple[int, int] = (256, 128)
    val_fraction: float = 0.1
    max_minutes: float | None = None
    seed: int = 0
    device: str = "cpu"
    resume: bool = True


def _split_ids(pids: np.ndarray, fraction: float, seed: int) -> tuple[set[int], set[int]]:
    ids = np.unique(pids)
    n_val = int(round(fraction * len(ids))) if fraction > 0 else 0
    n_val = min(n_val, len(ids) - 2)
    rng = np.random.default_rng(seed + 7919)
    val = set(rng.choice(ids, size=max(n_val, 0), replace=False).tolist()) if n_val >= 2 else set()
    return set(ids.tolist()) - val, val


def _load_batch(tracklets: list[Any], recipe: Any, size: tuple[int, int],
                rng: np.random.Generator) -> Any:
    import torch

    from reidbench.datasets.decode import load_clip
    from reidbench.datasets.sampling import sample_train_clip

    clips = []
    for t in tracklets:
        idx = sample_train_clip(recipe.sampling, len(t.frames), recipe.seq_len, rng)
        clip = load_clip([t.frames[i] for i in idx], size)
        if rng.random() < recipe.flip:
            clip = clip.flip(-1)
        clips.append(clip)
    return torch.stack(clips)


def _validate(adapter: Any, val: list[Any], recipe: Any, size: tuple[int, int]) -> float:
    """MAP on held-out training identities: every tracklet queries all others (same-camera junk)."""
    from reidbench.engine.evalset import EvalItem
    from reidbench.engine.extract import extract_features
    from reidbench.metrics import compute_distance, rank_metrics
    from reidbench.protocols import Procedure

    items = [EvalItem(t.id, t.pid, t.camid, tuple(t.frames)) for t in val]
    proc = Procedure(sampling="rrs", seq_len=recipe.seq_len, input_size=size)
    pids = np.array([t.pid for t in val])
    cams = np.array([t.camid for t in val])
    adapter.eval()
    feats, _ = extract_features(adapter, items, procedure=proc, side="validation")
    if adapter.uses_scorer:  # pairwise scorers (READ): first-frame image queries, their own score
        from reidbench.engine.extract import score_pairs

        images = [EvalItem(t.id + "#first", t.pid, t.camid, (t.frames[0],), "image") for t in val]
        qf, _ = extract_features(adapter, images, procedure=proc, side="validation")
        dist = -score_pairs(adapter, qf, feats)
    else:
        dist = compute_distance(feats.astype(np.float64), feats.astype(np.float64))
    adapter.train()
    return float(rank_metrics(dist, pids, pids, cams, cams, no_positive="skip").map)


def train(adapter_name: str, data_root: str | Path, dataset_name: str, out_dir: str | Path, *,
          split: str | None = None, model_config: dict[str, Any] | None = None,
          options: TrainOptions = TrainOptions(), progress: Progress | None = None
          ) -> dict[str, Any]:
    """Train a trainable adapter on a dataset's training split; write checkpoints to ``out_dir``.

    Args:
        adapter_name: Registered trainable adapter (``"stmn"``) or ``"module:Class"``.
        data_root: Root of the dataset copy.
        dataset_name: Its layout (``"mars"``, ``"dukev"``, ...).
        out_dir: Output folder: ``model.safetensors``, ``last.pt`` (resume state), ``train.json``.
        split: Dataset split to train on (multi-split datasets: ``"split3"``; default the first).
        model_config: Architecture options for the adapter (stored in the checkpoint).
        options: Run settings and recipe overrides.
        progress: ``callback(stage, done, total)``.

    Returns:
        The summary written to ``train.json``.
    """
    import torch

    from reidbench.adapters import TrainableAdapter, adapter_class, save_checkpoint
    from reidbench.datasets import load

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ds = load(dataset_name, data_root)
    sp = ds.split(split if split is not None else ds.splits[0].name)
    by_id = {t.id: t for t in ds.tracklets}
    pool = [by_id[i] for i in sp.train if by_id[i].pid >= 0 and len(by_id[i].frames) > 0]
    if not pool:
        raise InputError(describe("training split", f"{dataset_name} {sp.name}", "tracklets",
                                  "none", "check the dataset copy with `reidbench data verify`"))
    train_ids, val_ids = _split_ids(np.array([t.pid for t in pool]), options.val_fraction,
                                    options.seed)
    train_set = [t for t in pool if t.pid in train_ids]
    val_set = [t for t in pool if t.pid in val_ids]
    label_of = {pid: i for i, pid in enumerate(sorted(train_ids))}
    labels = np.array([label_of[t.pid] for t in train_set])

    cls = adapter_class(adapter_name)
    if not issubclass(cls, TrainableAdapter):
        raise InputError(describe(f"adapter {adapter_name!r}", "reidbench train",
                                  "a TrainableAdapter", cls.__name__, "pick a trainable baseline"))
    config = {**(model_config or {}), "num_classes": len(label_of)}
    torch.manual_seed(options.seed)
    adapter = cls(**config)
    overrides = {k: getattr(options, k) for k in ("epochs", "lr", "P", "K", "seq_len")}
    recipe = replace(adapter.recipe, **{k: v for k, v in overrides.items() if v is not None})
    adapter.to(options.device).train()
    model = adapter.model
    optim = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(optim, step_size=recipe.step_size or 10**9,
                                            gamma=recipe.gamma)
    sampler = PKSampler(labels, min(recipe.P, len(label_of)), recipe.K, seed=options.seed)
    iters = options.iters_per_epoch or max(1, len(sampler))
    rng = np.random.default_rng(options.seed)
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_val_map": None}
    last = out / "last.pt"
    if options.resume and last.is_file():
        saved = torch.load(str(last), map_location="cpu", weights_only=True)
        model.load_state_dict(saved["model"])
        optim.load_state_dict(saved["optim"])
        sched.load_state_dict(saved["sched"])
        state = {"epoch": int(saved["epoch"]), "history": list(saved["history"]),
                 "best_val_map": saved["best_val_map"]}
        sampler.rng = np.random.default_rng([options.seed, state["epoch"]])
        rng = np.random.default_rng([options.seed, state["epoch"], 1])

    size = tuple(options.input_size)
    t_start = time.perf_counter()
    total = recipe.epochs * iters
    stopped_early = False
    meta = {"baseline": adapter.card.name, "config": adapter.config,
            "train_dataset": dataset_name, "split": sp.name, "recipe": asdict(recipe),
            "seed": options.seed}
    for epoch in range(state["epoch"], recipe.epochs):
        losses = []
        for it in range(iters):
            batch = sampler.batch()
            clips = _load_batch([train_set[i] for i in batch], recipe, size, rng)
            target = torch.as_tensor(labels[batch], device=options.device)
            loss, logs = adapter.training_loss(clips.to(options.device), target)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            losses.append(float(loss.detach()))
            if progress:
                progress(f"train | loss {np.mean(losses[-20:]):.3f}", epoch * iters + it + 1, total)
            if options.max_minutes and time.perf_counter() - t_start > 60 * options.max_minutes:
                stopped_early = True
                break
        sched.step()
        entry: dict[str, Any] = {"epoch": epoch + 1, "loss": float(np.mean(losses)),
                                 "seconds": round(time.perf_counter() - t_start, 1)}
        if val_set:
            entry["val_mAP"] = _validate(adapter, val_set, recipe, size)
        state["history"].append(entry)
        state["epoch"] = epoch + 1
        improved = val_set and (state["best_val_map"] is None
                                or entry["val_mAP"] >= state["best_val_map"])
        if improved:
            state["best_val_map"] = entry["val_mAP"]
        if improved or not val_set:
            save_checkpoint(out / "model.safetensors", model.state_dict(),
                            {**meta, "epoch": epoch + 1, "val_mAP": entry.get("val_mAP"),
                             "reidbench": _version()})
        torch.save({"model": model.state_dict(), "optim": optim.state_dict(),
                    "sched": sched.state_dict(), "epoch": epoch + 1, "history": state["history"],
                    "best_val_map": state["best_val_map"]}, str(last) + ".tmp")
        Path(str(last) + ".tmp").replace(last)
        if stopped_early:
            break
    summary = {**meta, "epochs_done": state["epoch"], "history": state["history"],
               "best_val_mAP": state["best_val_map"], "stopped_early": stopped_early,
               "n_train_ids": len(train_ids), "n_val_ids": len(val_ids),
               "n_parameters": adapter.n_parameters(),
               "selection": "best validation mAP on held-out training identities" if val_set
               else "last epoch", "checkpoint": str(out / "model.safetensors")}
    write_json_atomic(out / "train.json", summary)
    return summary


def _version() -> str:
    import reidbench

    return reidbench.__version__
