"""`reidbench train`: train a baseline (or any trainable adapter) on a dataset copy."""

from __future__ import annotations

from typing import Any

import typer

from reidbench.cli._common import CONFIG_HELP, DEVICE_HELP

app = typer.Typer()


def _frame_size(height: int | None, width: int | None, model_config: dict[str, Any],
                default: tuple[int, int]) -> tuple[int, int]:
    """Training frame size: --height/--width, else the config's input_size, else the card's."""
    own = model_config.get("input_size")
    ok = isinstance(own, list | tuple) and len(own) == 2 and all(isinstance(v, int) for v in own)
    base = (int(own[0]), int(own[1])) if ok else default
    return (base[0] if height is None else height, base[1] if width is None else width)


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
    out: str = typer.Option(..., "--out", "-o", help="Output folder for checkpoints and "
                            "train.json."),
    split: str = typer.Option(None, "--split", help="Split of a multi-split dataset: split0.."
                              "split9, or just the number (default: the first)."),
    config: str = typer.Option(None, "--config", help=CONFIG_HELP),
    epochs: int = typer.Option(None, "--epochs", help="Epochs (default: the paper's recipe)."),
    iters: int = typer.Option(None, "--iters-per-epoch", help="Iterations per epoch (default: "
                              "identities / P, one pass over the identities)."),
    lr: float = typer.Option(None, "--lr", help="Learning rate (default: the paper's)."),
    seq_len: int = typer.Option(None, "--seq-len", help="Frames per training clip (default: the "
                                "model's seq_len, else the paper's)."),
    height: int = typer.Option(None, "--height", help="Training frame height (default: the "
                               "config's input_size, else the paper's, 256)."),
    width: int = typer.Option(None, "--width", help="Training frame width (default: the "
                              "config's input_size, else the paper's, 128)."),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Wall-time budget in minutes; "
                                      "the run stops after the iteration that exceeds it and "
                                      "says so."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Share of the training "
                                       "identities held out to pick the best epoch, in [0, 1) "
                                       "(0: keep the last epoch)."),
    seed: int = typer.Option(0, "--seed", help="Seed of sampling, augmentation, initialisation "
                             "and the validation split."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from OUT/last.pt "
                                "when it holds a run of the same settings (default), or start "
                                "over."),
) -> None:
    """Train ADAPTER with its paper's recipe (overridable); resumable, seeded."""
    from reidbench.cli._common import (
        ProgressLine,
        calm_openmp,
        check_frame_size,
        parse_config,
        render_notice,
        split_name,
    )

    calm_openmp()
    from reidbench.adapters import adapter_class
    from reidbench.engine.train import TrainOptions, check_train_options, train

    command = "reidbench train"
    model_config = parse_config(config, command)
    check_frame_size(height, width, command, both=False)
    card_size = getattr(adapter_class(adapter).card, "input_size", None) or (256, 128)
    size = _frame_size(height, width, model_config, tuple(card_size))
    options = check_train_options(TrainOptions(
        epochs=epochs, iters_per_epoch=iters, lr=lr, seq_len=seq_len, input_size=size,
        val_fraction=val_fraction, max_minutes=max_minutes, seed=seed, device=device,
        resume=resume))
    notice = recipe_notice(adapter, options, model_config)
    if notice:
        typer.echo(notice, err=True)
    progress = ProgressLine()
    try:
        summary = train(adapter, data, dataset, out, split=split_name(split),
                        model_config=model_config, options=options, progress=progress,
                        notify=lambda line: typer.echo(render_notice(line), err=True))
    finally:
        progress.close()
    typer.echo(train_line(summary, dataset))


def train_line(summary: dict[str, Any], dataset: str) -> str:
    """The closing line of a training run: epochs, why it stopped, validation, checkpoint."""
    best = summary["best_val_mAP"]
    planned = summary.get("recipe", {}).get("epochs")
    done = summary["epochs_done"]
    stopped = ""
    if summary.get("stopped_early"):
        stopped = (f" (stopped by the --max-minutes budget; {planned} planned; the checkpoint is "
                   "of the run so far)")
    val = ""
    if best is not None:
        val = (f"best validation mAP {100 * best:.2f} on {summary.get('n_val_ids', '?')} "
               "held-out identities; ")
    return (f"trained {summary['baseline']} for {done} epoch{'s' if done != 1 else ''}{stopped} "
            f"on {dataset} {summary['split']}; {val}checkpoint {summary['checkpoint']}")
