"""`reidbench train`: train a baseline (or any trainable adapter) on a dataset copy."""

from __future__ import annotations

import json
import os
from typing import Any

import typer

app = typer.Typer()


def calm_openmp() -> None:
    """Let torch's idle OpenMP threads sleep instead of spin; call before torch is imported.

    By default the threads spin while they wait. When another process keeps one of two cores busy,
    every parallel region then waits for a descheduled spinner: a small-backbone STMN training
    step took 4.7 s instead of 0.07 s on this project's 2-core machine. With
    ``OMP_WAIT_POLICY=PASSIVE`` it took 0.1-0.3 s. A value the user set is kept; once torch is
    imported this changes nothing.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def split_name(split: str | None) -> str | None:
    """``--split`` as a split name: a whole number ``K`` means ``"splitK"``."""
    if split is None:
        return None
    split = split.strip()
    return f"split{int(split)}" if split.isdigit() else split


def _frame_size(height: int | None, width: int | None, model_config: dict[str, Any],
                default: tuple[int, int]) -> tuple[int, int]:
    """Training frame size: --height/--width, else the config's input_size, else the card's."""
    own = model_config.get("input_size")
    base = (int(own[0]), int(own[1])) if own is not None and len(own) == 2 else default
    return (height or base[0], width or base[1])


def recipe_notice(adapter: str, options: Any, model_config: dict[str, Any]) -> str | None:
    """One line when the paper's full recipe is about to run on a CPU (None otherwise)."""
    import torch

    from reidbench.adapters import adapter_class

    if options.device != "cpu" or options.epochs or options.iters_per_epoch:
        return None
    if torch.cuda.is_available():
        return (f"note: training {adapter} on the CPU although a GPU is present; pass --device "
                "cuda to use it")
    recipe = adapter_class(adapter).recipe
    backbone = model_config.get("backbone", "the paper's backbone")
    h, w = options.input_size
    return (f"note: no GPU found; {adapter} trains with its paper's full recipe ({recipe.epochs} "
            f"epochs of {recipe.P}x{recipe.K} clips of {recipe.seq_len} frames at {h}x{w}, "
            f"backbone {backbone}), which takes days on a CPU. For a CPU run shrink it, e.g. "
            "--config '{\"backbone\": \"small\"}' --epochs 5 --height 128 --width 64 (or "
            "--max-minutes N)")


@app.command("train")
def train_cmd(
    adapter: str = typer.Argument(..., help="Trainable adapter, e.g. stmn or cosam."),
    data: str = typer.Option(..., "--data", help="Root of the dataset copy."),
    dataset: str = typer.Option(..., "--dataset", help="Its layout: mars, dukev, ilidsvid, "
                                "prid2011, lsvid."),
    out: str = typer.Option(..., "--out", help="Output folder for checkpoints and train.json."),
    split: str = typer.Option(None, "--split", help="Split for multi-split datasets: split0.."
                              "split9, or just the number."),
    config: str = typer.Option(None, "--config", help="Model options as JSON, e.g. "
                               "'{\"backbone\": \"small\", \"M\": 10}'."),
    epochs: int = typer.Option(None, "--epochs"),
    iters: int = typer.Option(None, "--iters-per-epoch"),
    lr: float = typer.Option(None, "--lr"),
    seq_len: int = typer.Option(None, "--seq-len"),
    height: int = typer.Option(None, "--height", help="Training frame height (default: the "
                               "config's input_size, else the paper's, 256)."),
    width: int = typer.Option(None, "--width", help="Training frame width (default: the "
                              "config's input_size, else the paper's, 128)."),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Wall-time budget."),
    val_fraction: float = typer.Option(0.1, "--val-fraction"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device"),
    resume: bool = typer.Option(True, "--resume/--no-resume"),
) -> None:
    """Train ADAPTER with its paper's recipe (overridable); resumable, seeded."""
    calm_openmp()
    from reidbench.adapters import adapter_class
    from reidbench.cli.evaluate import _progress_printer
    from reidbench.engine.train import TrainOptions, train
    from reidbench.errors import InputError, describe

    try:
        model_config = json.loads(config) if config else {}
    except json.JSONDecodeError as exc:
        raise InputError(describe("--config", "reidbench train", "a JSON object", exc.msg,
                                  "quote it, e.g. --config '{\"backbone\": \"small\"}'")) from None
    card_size = getattr(adapter_class(adapter).card, "input_size", None) or (256, 128)
    size = _frame_size(height, width, model_config, tuple(card_size))
    options = TrainOptions(epochs=epochs, iters_per_epoch=iters, lr=lr, seq_len=seq_len,
                           input_size=size, val_fraction=val_fraction,
                           max_minutes=max_minutes, seed=seed, device=device, resume=resume)
    notice = recipe_notice(adapter, options, model_config)
    if notice:
        typer.echo(notice, err=True)
    summary = train(adapter, data, dataset, out, split=split_name(split),
                    model_config=model_config, options=options, progress=_progress_printer(),
                    notify=lambda line: typer.echo(line, err=True))
    best = summary["best_val_mAP"]
    typer.echo(f"trained {summary['baseline']} for {summary['epochs_done']} epochs on "
               f"{dataset} {summary['split']}; "
               + (f"best validation mAP {100 * best:.2f}; " if best is not None else "")
               + f"checkpoint {summary['checkpoint']}")
