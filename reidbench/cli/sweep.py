"""`reidbench sweep`: an ablation grid trained and evaluated by the suite itself."""

from __future__ import annotations

import typer

from reidbench.cli._common import CONFIG_HELP, DEVICE_HELP

app = typer.Typer()


@app.command("sweep")
def sweep_cmd(
    adapter: str = typer.Argument(..., help="Trainable baseline, e.g. stmn."),
    grid: str = typer.Option(..., "--grid", help="Axes, e.g. 'M=5,10,20 N=5,10,20'."),
    data: str = typer.Option(..., "--data", help="Dataset copy (e.g. a synthetic MARS)."),
    dataset: str = typer.Option("mars", "--dataset", help="Its layout: mars, dukev, ilidsvid, "
                                "prid2011, lsvid."),
    protocol: str = typer.Option("mars/v2v@1", "--protocol", "-p", help="Protocol every cell is "
                                 "evaluated under (its mode is checked before training)."),
    out: str = typer.Option(..., "--out", "-o", help="Sweep folder (resumable under the same "
                            "settings; other settings are refused)."),
    trials: int = typer.Option(1, "--trials", help="Seeds per cell."),
    config: str = typer.Option('{"backbone": "small"}', "--config", help=CONFIG_HELP + " Shared "
                               "by every cell."),
    epochs: int = typer.Option(None, "--epochs", help="Epochs per run (default: the recipe's)."),
    iters: int = typer.Option(None, "--iters-per-epoch", help="Iterations per epoch."),
    lr: float = typer.Option(None, "--lr", help="Learning rate (default: the paper's)."),
    seq_len: int = typer.Option(None, "--seq-len", help="Frames per training clip (default: the "
                                "model's seq_len, else the paper's)."),
    minutes: float = typer.Option(None, "--max-minutes", help="Per-run training budget in "
                                  "minutes."),
    height: int = typer.Option(128, "--height", help="Frame height of training and evaluation."),
    width: int = typer.Option(64, "--width", help="Frame width of training and evaluation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first trial (trial t uses seed + t)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    fresh: bool = typer.Option(False, "--fresh", help="Delete the folder's cells/ and sweep.json "
                               "and start over instead of resuming."),
) -> None:
    """Train + evaluate ADAPTER on every grid cell x trial; write sweep.json (mean +- std later).

    Grid axes must be model options of ADAPTER and the protocol's mode one ADAPTER evaluates
    (both checked before training). Re-running into the same --out resumes only when every setting
    (config, training options, data, protocol) is unchanged.
    """
    import time

    from reidbench.cli._common import ProgressLine, calm_openmp, check_frame_size, parse_config

    calm_openmp()
    from reidbench.engine.sweep import parse_grid, run_sweep
    from reidbench.engine.train import TrainOptions, check_train_options

    t0 = time.perf_counter()
    command = "reidbench sweep"
    model_config = parse_config(config, command)
    check_frame_size(height, width, command)
    options = check_train_options(TrainOptions(
        epochs=epochs, iters_per_epoch=iters, lr=lr, seq_len=seq_len, max_minutes=minutes,
        input_size=(height, width),
        seed=seed, val_fraction=0.0, device=device))
    progress = ProgressLine()
    try:
        result = run_sweep(adapter, data, dataset, protocol, parse_grid(grid), out,
                           trials=trials, model_config=model_config, train_options=options,
                           procedure={"input_size": (height, width)}, fresh=fresh,
                           progress=progress)
    finally:
        progress.close()
    cut = sum(1 for row in result["rows"] if row.get("stopped_early"))
    if cut:
        typer.echo(f"warning: {cut} of {len(result['rows'])} runs were stopped by the "
                   "--max-minutes budget before their last epoch (stopped_early in sweep.json): "
                   "their cells are not trained alike", err=True)
    n, resumed = len(result["rows"]), result["resumed"]
    done = (f"{n} runs" if not resumed else
            f"{n} runs ({resumed} evaluated by an earlier run into {out}, {n - resumed} now)")
    typer.echo(f"{done} in {time.perf_counter() - t0:.1f} s; {out}/sweep.json")
