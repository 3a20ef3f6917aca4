"""`reidbench sweep`: an ablation grid trained and evaluated by the suite itself."""

from __future__ import annotations

import json

import typer

app = typer.Typer()


@app.command("sweep")
def sweep_cmd(
    adapter: str = typer.Argument(..., help="Trainable baseline, e.g. stmn."),
    grid: str = typer.Option(..., "--grid", help="Axes, e.g. 'M=5,10,20 N=5,10,20'."),
    data: str = typer.Option(..., "--data", help="Dataset copy (e.g. a synthetic MARS)."),
    dataset: str = typer.Option("mars", "--dataset"),
    protocol: str = typer.Option("mars/v2v@1", "--protocol", "-p"),
    out: str = typer.Option(..., "--out", help="Sweep folder (resumable under the same "
                            "settings; other settings are refused)."),
    trials: int = typer.Option(1, "--trials", help="Seeds per cell."),
    config: str = typer.Option('{"backbone": "small"}', "--config", help="Shared model options."),
    epochs: int = typer.Option(None, "--epochs"),
    iters: int = typer.Option(None, "--iters-per-epoch"),
    minutes: float = typer.Option(None, "--max-minutes", help="Per-run training budget."),
    height: int = typer.Option(128, "--height"),
    width: int = typer.Option(64, "--width"),
    seed: int = typer.Option(0, "--seed"),
    fresh: bool = typer.Option(False, "--fresh", help="Delete the folder's cells/ and sweep.json "
                               "and start over instead of resuming."),
) -> None:
    """Train + evaluate ADAPTER on every grid cell x trial; write sweep.json (mean +- std later).

    Grid axes must be model options of ADAPTER (checked before training). Re-running into the same
    --out resumes only when every setting (config, training options, data, protocol) is unchanged.
    """
    from reidbench.cli.evaluate import _progress_printer
    from reidbench.engine.sweep import parse_grid, run_sweep
    from reidbench.engine.train import TrainOptions
    from reidbench.errors import InputError, describe

    try:
        model_config = json.loads(config) if config else {}
    except json.JSONDecodeError as exc:
        raise InputError(describe("--config", "reidbench sweep", "a JSON object", exc.msg,
                                  "")) from None
    options = TrainOptions(epochs=epochs, iters_per_epoch=iters, max_minutes=minutes,
                           input_size=(height, width), seed=seed, val_fraction=0.0)
    result = run_sweep(adapter, data, dataset, protocol, parse_grid(grid), out, trials=trials,
                       model_config=model_config, train_options=options,
                       procedure={"input_size": (height, width)}, fresh=fresh,
                       progress=_progress_printer())
    typer.echo(f"{len(result['rows'])} runs; {out}/sweep.json")
