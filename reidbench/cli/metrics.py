"""`reidbench metrics ...`: Metric engine: parity demo, presets."""

from __future__ import annotations

import typer

from reidbench.cli._parity import (  # re-exported: the parity report's rendering lives there
    check_parity_options,
    format_parity_table,
    load_parity_npz,
    run_parity_command,
)

__all__ = ["app", "check_parity_options", "format_parity_table", "load_parity_npz",
           "run_parity_command"]

app = typer.Typer(help="Metric engine: parity demo, presets.", no_args_is_help=True)


# --------------------------------------------------------------------------- parity


@app.command("parity")
def parity_cmd(
    distmat: str = typer.Option(None, "--distmat", help=".npz with distmat, query_pids, "
                                "gallery_pids, query_camids, gallery_camids (optional: "
                                "query_gallery_index). Default: a synthetic MARS-sized problem."),
    queries: int = typer.Option(1980, "--queries", help="Synthetic problem: number of queries."),
    gallery: int = typer.Option(11310, "--gallery", help="Synthetic problem: gallery size."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic problem and the bootstrap."),
    ties: int = typer.Option(None, "--ties", help="Synthetic problem: quantise the distances to "
                             "this many levels, so the tie policies differ."),
    kind: str = typer.Option("model", "--kind", help="Synthetic problem: 'model' or 'random'."),
    n_boot: int = typer.Option(1000, "--boot", help="Bootstrap resamples per interval."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Score one distance matrix every way the field does, side by side, with bootstrap CIs."""
    run_parity_command(distmat, queries, gallery, seed, ties, kind, n_boot, as_json)


# --------------------------------------------------------------------------- presets


@app.command("presets")
def presets_cmd(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the metric presets: which codebase each reproduces and what it computes."""
    import json

    from reidbench.metrics import AP_VARIANTS, PRESETS

    rows = [PRESETS.get(name) for name in PRESETS.names()]
    if as_json:
        typer.echo(json.dumps([{"name": p.name, **p.options(),
                                "junk_pids": list(p.metric.junk_pids),
                                "codebase": p.codebase, "description": p.description}
                               for p in rows], indent=2))
        return
    for p in rows:
        m = p.metric
        typer.echo(f"{p.name}: ap={m.ap} ties={m.ties} no_positive={m.no_positive} "
                   f"junk_pids={list(m.junk_pids)} same_camera={m.same_camera} cmc={m.cmc}")
        typer.echo(f"    {p.codebase}")
        typer.echo(f"    {p.description}")
    typer.echo("")
    typer.echo("AP variants:")
    for name, v in AP_VARIANTS.items():
        typer.echo(f"  {name} (v{v.version}): {v.formula}")
