"""`reidbench train`: train a baseline (or any trainable adapter) on a dataset copy."""

from __future__ import annotations

import json

import typer

app = typer.Typer()


@app.command("train")
def train_cmd(
    adapter: str = typer.Argument(..., help="Trainable adapter, e.g. stmn or cosam."),
    data: str = typer.Option(..., "--data", help="Root of the dataset copy."),
    dataset: str = typer.Option(..., "--dataset", help="Its layout: mars, dukev, ilidsvid, "
                                "prid2011, lsvid."),
    out: str = typer.Option(..., "--out", help="Output folder for checkpoints and train.json."),
    split: str = typer.Option(None, "--split", help="Split for multi-split datasets (split0..9)."),
    config: str = typer.Option(None, "--config", help="Model options as JSON, e.g. "
                               "'{\"backbone\": \"small\", \"M\": 10}'."),
    epochs: int = typer.Option(None, "--epochs"),
    iters: int = typer.Option(None, "--iters-per-epoch"),
    lr: float = typer.Option(None, "--lr"),
    seq_len: int = typer.Option(None, "--seq-len"),
    height: int = typer.Option(256, "--height"),
    width: int = typer.Option(128, "--width"),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Wall-time budget."),
    val_fraction: float = typer.Option(0.1, "--val-fraction"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device"),
    resume: bool = typer.Option(True, "--resume/--no-resume"),
) -> None:
    """Train ADAPTER with its paper's recipe (overridable); resumable, seeded."""
    from reidbench.cli.evaluate import _progress_printer
    from reidbench.engine.train import TrainOptions, train
    from reidbench.errors import InputError, describe

    try:
        model_config = json.loads(config) if config else {}
    except json.JSONDecodeError as exc:
        raise InputError(describe("--config", "reidbench train", "a JSON object", exc.msg,
                                  "quote it, e.g. --config '{\"backbone\": \"small\"}'")) from None
    options = TrainOptions(epochs=epochs, iters_per_epoch=iters, lr=lr, seq_len=seq_len,
                           input_size=(height, width), val_fraction=val_fraction,
                           max_minutes=max_minutes, seed=seed, device=device, resume=resume)
    summary = train(adapter, data, dataset, out, split=split, model_config=model_config,
                    options=options, progress=_progress_printer())
    best = summary["best_val_mAP"]
    typer.echo(f"trained {summary['baseline']} for {summary['epochs_done']} epochs on "
               f"{dataset} {summary['split']}; "
               + (f"best validation mAP {100 * best:.2f}; " if best is not None else "")
               + f"checkpoint {summary['checkpoint']}")
