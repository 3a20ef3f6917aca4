"""`reidbench demo`: the one-command tour. For now it runs the metric parity report."""

from __future__ import annotations

import typer

app = typer.Typer()


@app.command("demo")
def demo_cmd(
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic problem and the bootstrap."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Score a MARS-sized synthetic problem every way papers do (the metric parity report)."""
    from reidbench.cli.metrics import run_parity_command

    if not as_json:
        typer.echo("reidbench demo: one MARS-sized distance matrix, scored the way each codebase "
                   "scores it.\n")
    run_parity_command(seed=seed, as_json=as_json)
