"""`reidbench demo`: the whole product in one command (renders :func:`reidbench.demo.run_demo`).

``reidbench demo --parity`` instead runs the metric parity report (why papers' numbers differ).
"""

from __future__ import annotations

import json

import typer

app = typer.Typer()


@app.command("demo")
def demo_cmd(
    out: str = typer.Option("demo-out", "--out", "-o", help="Folder for the dataset, runs and "
                            "reports."),
    ids: int = typer.Option(40, "--ids", help="Identities in the synthetic MARS copy."),
    iters: int = typer.Option(60, "--iters", help="Training iterations, in 2 epochs (fixed, so "
                              "the result does not depend on the machine's speed)."),
    minutes: float = typer.Option(None, "--max-minutes", help="Optional wall-time cap on "
                                  "training in minutes (the result then depends on the "
                                  "machine's speed)."),
    baseline: str = typer.Option("stmn", "--baseline", help="Baseline to train."),
    seed: int = typer.Option(0, "--seed", help="Seed of the data, the training and the "
                             "bootstrap."),
    quick: bool = typer.Option(False, "--quick", help="Tiny sizes (for tests)."),
    published: str = typer.Option(None, "--published", help="Folder of published leaderboard "
                                  "records to rank the demo model beside (default: the ones "
                                  "shipped with reidbench)."),
    parity: bool = typer.Option(False, "--parity", help="Run the metric parity report instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the final records as JSON."),
    old_minutes: float = typer.Option(None, "--minutes", hidden=True,
                                      help="Deprecated: --max-minutes."),
) -> None:
    """Synthesise MARS, train a small baseline, evaluate it under mars/v2v@1, report."""
    if parity:
        from reidbench.cli._parity import run_parity_command

        run_parity_command(seed=seed, as_json=as_json)
        return
    from reidbench.cli._common import ProgressLine, calm_openmp, format_summary

    if old_minutes is not None:
        typer.echo("note: --minutes is deprecated in reidbench demo; use --max-minutes", err=True)
        minutes = old_minutes if minutes is None else minutes
    calm_openmp()
    from reidbench.demo import run_demo

    progress = ProgressLine()
    try:
        run = run_demo(out, ids=ids, iters=iters, max_minutes=minutes, baseline=baseline,
                       seed=seed, quick=quick, published=published, progress=progress,
                       notify=lambda line: typer.echo(
                           line if line.startswith(" ") else f"\n== {line}", err=True))
    finally:
        progress.close()
    if as_json:
        typer.echo(json.dumps({k: r.record.to_json() for k, r in run.results.items()}, indent=2))
        return
    typer.echo("")
    typer.echo(format_summary(run.results["trained"].record))
    before, after = run.results["untrained"].value("mAP"), run.results["trained"].value("mAP")
    typer.echo(f"\n{baseline}: mAP {100 * before:.2f} untrained -> {100 * after:.2f} after "
               f"{run.train_summary['epochs_done']} epochs ({run.seconds:.0f} s in all)")
    if run.train_summary.get("stopped_early"):
        typer.echo("training was stopped by the --max-minutes budget before its last iteration: "
                   "these numbers depend on this machine's speed")
    typer.echo(f"leaderboard: {run.reports['leaderboard']}")
    typer.echo(f"retrieval gallery: {run.reports['gallery']}")
    typer.echo(f"HTML report: {run.reports['html']}")
    typer.echo(f"results in {run.root / 'results'}; try `reidbench compare "
               f"{run.result_dir('untrained')} {run.result_dir('trained')}`")
