"""A small, complete training loop for trainable adapters (the baselines and ablation sweeps).

P x K identity batches, the method's own losses (``TrainableAdapter.training_loss``), Adam with a
step schedule, the recipe's augmentations (:mod:`reidbench.engine.trainbatch`), a validation split
of held-out *training* identities for model selection (never the test set), resumable checkpoints,
and a final safetensors checkpoint that carries the baseline name, its config, the training
dataset and split, the training input size and the reidbench version, so ``reidbench evaluate
--adapter NAME --checkpoint FILE`` just works.

Reproducibility: every generator the loop uses (the P x K sampler, frame sampling and
augmentations, torch, Python's ``random``) is reseeded from ``(seed, epoch)`` at the start of each
epoch, so a run resumed from ``last.pt`` draws exactly what an uninterrupted run draws (on CPU;
GPU kernels may add their own non-determinism). ``last.pt`` records the run's settings (baseline,
model config, dataset, split, input size, seed, validation fraction); resuming under other settings
is refused. A ``max_minutes`` stop ends the epoch early and counts it as done.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from reidbench.engine.sampler import PKSampler
from reidbench.engine.trainbatch import load_batch
from reidbench.errors import InputError, describe, first_line, is_allocation_failure
from reidbench.fileio import unwritable_reason, write_json_atomic

__all__ = ["TrainOptions", "check_train_options", "train"]

Progress = Callable[[str, int, int], None]
Notify = Callable[[str], None]


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
        input_size: ``(height, width)`` of training frames; also given to adapters whose model
            config has an ``input_size`` (COSAM, READ) when the model config does not set it.
        val_fraction: Share of training identities held out for model selection (0: none).
        max_minutes: Stop after this wall time (a checkpoint is written).
        seed: Seed of sampling, augmentations, initialisation and the validation split.
        device: ``"auto"`` (the GPU when torch sees one), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
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
    device: str = "auto"
    resume: bool = True


#: Fewer held-out identities than this make the validation mAP too noisy to pick an epoch by.
_FEW_VAL_IDS = 10

#: Upper bounds of the run settings: far beyond any real run, low enough that nothing overflows
#: (``itertools.islice`` takes at most ``sys.maxsize``; JSON records need finite numbers).
_LIMITS = {"epochs": 100_000, "iters_per_epoch": 10_000_000, "P": 4096, "K": 4096,
           "seq_len": 4096}


def check_train_options(options: TrainOptions) -> TrainOptions:
    """Check every run setting before anything is read or written; resolve ``device="auto"``.

    Returns:
        ``options`` with the device resolved (``"auto"`` -> ``"cuda"`` or ``"cpu"``).

    Raises:
        InputError: The first setting out of range, naming its parameter (e.g. ``epochs``).
    """
    import math

    from reidbench.engine.sources import resolve_device

    def need(ok: bool, name: str, expected: str, got: object, fix: str = "") -> None:
        if not ok:
            raise InputError(describe(name, "train", expected, got, fix), param=name)

    def whole(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    for name, top in _LIMITS.items():
        v = getattr(options, name)
        need(v is None or (whole(v) and 1 <= v <= top), name,
             f"a whole number in 1..{top:,} (or None: the recipe's)", v)
    lr = options.lr
    need(lr is None or (isinstance(lr, int | float) and math.isfinite(lr) and 0 < lr <= 10),
         "lr", "a learning rate in (0, 10]", lr)
    size = tuple(options.input_size) if isinstance(options.input_size, list | tuple) else ()
    need(len(size) == 2 and all(whole(v) and 1 <= v <= 4096 for v in size), "input_size",
         "(height, width), two whole numbers of pixels in 1..4096", options.input_size)
    vf = options.val_fraction
    need(isinstance(vf, int | float) and 0 <= vf < 1, "val_fraction",
         "a share of the training identities in [0, 1)", vf, "e.g. val_fraction=0.1, or 0 for "
         "no validation")
    mm = options.max_minutes
    need(mm is None or (isinstance(mm, int | float) and math.isfinite(mm) and mm > 0),
         "max_minutes", "a positive number of minutes (or None: no budget)", mm)
    need(whole(options.seed) and 0 <= options.seed < 2**32, "seed",
         "a whole number in 0..2**32-1", options.seed)
    return replace(options, device=resolve_device(options.device),
                   input_size=(int(size[0]), int(size[1])))


def _split_ids(pids: np.ndarray, fraction: float, seed: int) -> tuple[set[int], set[int]]:
    ids = np.unique(pids)
    n_val = int(round(fraction * len(ids))) if fraction > 0 else 0
    n_val = min(n_val, len(ids) - 2)
    rng = np.random.default_rng(seed + 7919)
    val = set(rng.choice(ids, size=max(n_val, 0), replace=False).tolist()) if n_val >= 2 else set()
    return set(ids.tolist()) - val, val


def _validate(adapter: Any, val: list[Any], recipe: Any, size: tuple[int, int],
              progress: Progress | None = None) -> float:
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
    feats, _ = extract_features(adapter, items, procedure=proc, side="validation",
                                progress=progress)
    if adapter.uses_scorer:  # pairwise scorers (READ): first-frame image queries, their own score
        from reidbench.engine.extract import score_pairs

        images = [EvalItem(t.id + "#first", t.pid, t.camid, (t.frames[0],), "image") for t in val]
        qf, _ = extract_features(adapter, images, procedure=proc, side="validation")
        dist = -score_pairs(adapter, qf, feats)
    else:
        dist = compute_distance(feats.astype(np.float64), feats.astype(np.float64))
    adapter.train()
    return float(rank_metrics(dist, pids, pids, cams, cams, no_positive="skip").map)


def _seed_epoch(seed: int, epoch: int, sampler: PKSampler) -> np.random.Generator:
    """Reseed the sampler, torch and ``random`` from ``(seed, epoch)``; return the clip generator.

    Both an uninterrupted run and a resumed one call this at the start of every epoch, so they
    draw the same batches, frames, augmentations and dropout masks.
    """
    import torch

    s_sampler, s_clips, s_torch, s_python = np.random.SeedSequence([seed, epoch]).spawn(4)
    sampler.rng = np.random.default_rng(s_sampler)
    torch.manual_seed(int(s_torch.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    random.seed(int(s_python.generate_state(1)[0]))
    return np.random.default_rng(s_clips)


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``"key old -> new"`` for every setting that differs (config keys one by one)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if key == "config" and isinstance(a, dict) and isinstance(b, dict):
            out += [f"config.{k} {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b))
                    if a.get(k) != b.get(k)]
        elif a != b:
            out.append(f"{key} {a!r} -> {b!r}")
    return out


def _resume(last: Path, run: dict[str, Any], modules: dict[str, Any]) -> dict[str, Any]:
    """Load ``last.pt`` into model, optimiser and scheduler; refuse another run's state.

    ``last.pt`` is untrusted like any checkpoint: read with ``weights_only=True`` through the
    checkpoint reader (bounded, never unpickled), and every field typed before it is used.

    Raises:
        InputError: ``last.pt`` is unreadable, malformed, written under other settings or does
            not fit the model.
    """
    fix = f"train into a new out_dir, or start over in {last.parent} with resume=false"
    saved = _read_resume_state(last, fix)
    old = saved["run"]
    if old is not None and old != run:
        raise InputError(describe(str(last), "train (resume)",
                                  "a run of the same settings", "; ".join(_changes(old, run)), fix),
                         param="resume")
    try:
        for name, module in modules.items():
            module.load_state_dict(saved[name])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        reason = first_line(exc)
        raise InputError(describe(str(last), "train (resume)", "a resume state of "
                                  f"this {run['baseline']} model", reason[:200], fix),
                         param="resume") from None
    return {"epoch": saved["epoch"], "history": saved["history"],
            "best_val_map": saved["best_val_map"]}


def _read_resume_state(last: Path, fix: str) -> dict[str, Any]:
    """``last.pt`` read safely and checked field by field (what :func:`_train` writes there)."""
    from reidbench.adapters.checkpoint import read_torch_file
    from reidbench.errors import CheckpointError
    from reidbench.fileio import json_problem, loads_bounded

    def bad(got: str) -> InputError:
        return InputError(describe(str(last), "train (resume)", "a resume state written by "
                                   "reidbench train", got, fix), param="resume")

    try:
        saved = read_torch_file(last)
    except CheckpointError as exc:
        found = re.search(r", got (.*?)\. [A-Z]", str(exc))
        raise bad(found.group(1) if found else str(exc)) from None
    if not isinstance(saved, dict):
        raise bad(f"a {type(saved).__name__}, not a dict")
    missing = [k for k in ("model", "optim", "sched", "epoch", "history") if k not in saved]
    if missing:
        raise bad(f"no {missing[0]!r} entry")
    epoch, history, best = saved["epoch"], saved["history"], saved.get("best_val_map")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise bad(f"epoch {epoch!r}"[:120])
    if not isinstance(history, list) or len(history) != epoch or json_problem(history) or \
            not all(isinstance(h, dict) for h in history):
        raise bad(f"a history that is not one plain JSON object per epoch done ({epoch:,})")
    if best is not None and not (isinstance(best, float | int) and not isinstance(best, bool)
                                 and 0.0 <= best <= 1.0):
        raise bad(f"best_val_map {best!r}"[:120])
    old = saved.get("run")
    if old is not None:
        try:
            old = loads_bounded(old, max_chars=1 << 20) if isinstance(old, str) else old
        except ValueError as exc:
            raise bad(f"run settings that are not JSON ({str(exc)[:80]})") from None
        if not isinstance(old, dict):
            raise bad(f"run settings of type {type(old).__name__}")
    return {"model": saved["model"], "optim": saved["optim"], "sched": saved["sched"],
            "epoch": epoch, "history": list(history),
            "best_val_map": None if best is None else float(best), "run": old}


def _shown_total(done: int, total: int, elapsed: float, budget_s: float | None) -> int:
    """The iteration count the progress bar shows: the run's, or what the time budget allows."""
    if not budget_s or done == 0:
        return total
    per_iter = elapsed / done
    return min(total, done + int(max(budget_s - elapsed, 0.0) / per_iter))


def _build(cls: type, model_config: dict[str, Any], num_classes: int, size: tuple[int, int],
           seed: int) -> Any:
    """Build the adapter; adapters whose config has ``input_size`` get the training size.

    Raises:
        InputError: The model config's ``input_size`` differs from the training frames' size.
    """
    import torch

    torch.manual_seed(seed)
    adapter = cls(**{**model_config, "num_classes": num_classes})
    own = adapter.config.get("input_size")
    if own is None or tuple(own) == tuple(size):
        return adapter
    if "input_size" in model_config:
        raise InputError(describe("input_size", f"train {cls.__name__}",
                                  f"the model config's input_size {own[0]}x{own[1]}",
                                  f"training frames of {size[0]}x{size[1]}", "give the training "
                                  "frames the model config's input_size, or drop one of them"),
                         param="input_size")
    torch.manual_seed(seed)
    return cls(**{**model_config, "input_size": list(size), "num_classes": num_classes})


def train(adapter_name: str, data_root: str | Path, dataset_name: str, out_dir: str | Path, *,
          split: str | None = None, model_config: dict[str, Any] | None = None,
          options: TrainOptions = TrainOptions(), progress: Progress | None = None,
          notify: Notify | None = None) -> dict[str, Any]:
    """Train a trainable adapter on a dataset's training split; write checkpoints to ``out_dir``.

    Args:
        adapter_name: Registered trainable adapter (``"stmn"``) or ``"module:Class"``.
        data_root: Root of the dataset copy.
        dataset_name: Its layout (``"mars"``, ``"dukev"``, ...).
        out_dir: Output folder: ``model.safetensors``, ``last.pt`` (resume state), ``train.json``.
            A folder this call creates is removed again if it fails before writing anything.
        split: Dataset split to train on (multi-split datasets: ``"split3"``; default the first).
        model_config: Architecture options for the adapter (stored in the checkpoint).
        options: Run settings and recipe overrides.
        progress: ``callback(stage, done, total)``.
        notify: ``callback(line)`` for one-line notices (e.g. that validation is off).

    Returns:
        The summary written to ``train.json``.

    Raises:
        InputError: A run setting out of range (checked first, see :func:`check_train_options`),
            model options the adapter refuses, no training tracklets, an untrainable adapter,
            conflicting input sizes, or a ``last.pt`` of another run in ``out_dir`` (with
            ``resume``).
    """
    from reidbench.adapters.meta import check_option_values

    options = check_train_options(options)
    check_option_values(model_config or {}, f"train {adapter_name}")  # M=10**12: terabytes
    out = Path(out_dir)
    reason = unwritable_reason(out)
    if reason:  # before any training: checkpoints that cannot be written are not computed
        raise InputError(describe("out_dir", str(out), "a folder this user can create and write "
                                  "checkpoints in", reason, "pass a writable folder"),
                         param="out_dir")
    created = not out.exists()
    try:
        return _train(adapter_name, data_root, dataset_name, out, split, model_config or {},
                      options, progress, notify)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def _train(adapter_name: str, data_root: str | Path, dataset_name: str, out: Path,
           split: str | None, model_config: dict[str, Any], options: TrainOptions,
           progress: Progress | None, notify: Notify | None) -> dict[str, Any]:
    import torch

    from reidbench.adapters import TrainableAdapter, adapter_class, save_checkpoint
    from reidbench.datasets import load

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
        raise InputError(describe(f"adapter {adapter_name!r}", "train",
                                  "a TrainableAdapter", cls.__name__, "pick a trainable baseline"))
    size = (int(options.input_size[0]), int(options.input_size[1]))
    try:
        adapter = _build(cls, model_config, len(label_of), size, options.seed)
    except (TypeError, ValueError, MemoryError, RuntimeError) as exc:
        if isinstance(exc, InputError) or (isinstance(exc, RuntimeError)
                                           and not is_allocation_failure(exc)):
            raise
        reason = first_line(exc)
        unknown = re.search(r"unexpected keyword argument '(\w+)'", reason)
        if unknown:
            reason = f"unknown option {unknown.group(1)!r}"
        raise InputError(describe("model_config", f"train {adapter_name}", "model options "
                                  f"{adapter_name} accepts", reason[:200], "fix the model "
                                  "options"), param="model_config") from None
    if notify and not val_ids:
        notify(_no_validation_notice(len(train_ids), options.val_fraction))
    elif notify and len(val_ids) < _FEW_VAL_IDS:
        notify(f"warning: validation on only {len(val_ids)} held-out identities: its mAP is "
               "noisy and easily 100.00, so the epoch it picks is close to arbitrary (raise "
               "val_fraction or train on more identities)")
    for line in adapter.training_notices() if notify else ():
        notify(line)
    adapter.prepare_training()  # ImageNet weights etc., before any resume state
    overrides = {k: getattr(options, k) for k in ("epochs", "lr", "P", "K", "seq_len")}
    recipe = replace(adapter.recipe, **{k: v for k, v in overrides.items() if v is not None})
    adapter.to(options.device).train()
    model = adapter.model
    optim = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(optim, step_size=recipe.step_size or 10**9,
                                            gamma=recipe.gamma)
    sampler = PKSampler(labels, min(recipe.P, len(label_of)), recipe.K, seed=options.seed)
    iters = options.iters_per_epoch or max(1, len(sampler))
    run = json.loads(json.dumps({
        "baseline": adapter.card.name, "config": adapter.config, "train_dataset": dataset_name,
        "split": sp.name, "input_size": list(size), "seed": options.seed,
        "val_fraction": options.val_fraction}))
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_val_map": None}
    last = out / "last.pt"
    for name in ("last.pt", "last.pt.tmp", "model.safetensors", "train.json"):
        if (out / name).exists() and not (out / name).is_file():
            raise InputError(describe(str(out / name), "train", "a file (or nothing) where "
                                      "train writes its output", "a folder",
                                      "remove it, or train into another out_dir"),
                             param="out_dir")
    if options.resume and last.is_file():
        state = _resume(last, run, {"model": model, "optim": optim, "sched": sched})
    out.mkdir(parents=True, exist_ok=True)

    t_start = time.perf_counter()
    budget_s = 60 * options.max_minutes if options.max_minutes else None
    total = recipe.epochs * iters
    stopped_early = False
    meta = {"baseline": adapter.card.name, "config": adapter.config,
            "train_dataset": dataset_name, "split": sp.name, "input_size": list(size),
            "recipe": asdict(recipe), "seed": options.seed}
    for epoch in range(state["epoch"], recipe.epochs):
        rng = _seed_epoch(options.seed, epoch, sampler)
        losses = []
        for it in range(iters):
            batch = sampler.batch()
            clips = load_batch([train_set[i] for i in batch], recipe, size, rng)
            target = torch.as_tensor(labels[batch], device=options.device)
            loss, logs = adapter.training_loss(clips.to(options.device), target)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            losses.append(float(loss.detach()))
            done, elapsed = epoch * iters + it + 1, time.perf_counter() - t_start
            stopped_early = bool(budget_s) and elapsed > budget_s
            if progress:
                shown = done if stopped_early else _shown_total(done, total, elapsed, budget_s)
                progress(f"train | loss {np.mean(losses[-20:]):.3f}", done, shown)
            if stopped_early:
                break
        sched.step()
        entry: dict[str, Any] = {"epoch": epoch + 1, "loss": float(np.mean(losses)),
                                 "seconds": round(time.perf_counter() - t_start, 1)}
        if val_set:
            entry["val_mAP"] = _validate(adapter, val_set, recipe, size, progress)
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
                    "best_val_map": state["best_val_map"], "run": json.dumps(run)},
                   str(last) + ".tmp")
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


def _no_validation_notice(n_ids: int, fraction: float) -> str:
    if fraction <= 0:
        return ("warning: no validation split (val_fraction 0): the last epoch's checkpoint is "
                "kept")
    return (f"warning: validation is off: {n_ids} training identities at val_fraction "
            f"{fraction:g} hold out fewer than 2; the last epoch's checkpoint is kept (raise "
            "val_fraction or train on more identities)")


def _version() -> str:
    import reidbench

    return reidbench.__version__
