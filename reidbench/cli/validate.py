"""`reidbench validate FILE`: check a leaderboard file, result record or features file."""

from __future__ import annotations

import json

import typer

app = typer.Typer()


@app.command("validate")
def validate_cmd(
    path: str = typer.Argument(..., help="A leaderboard .json, a result directory (or its "
                               "results.json), or a features .npz."),
    kind: str = typer.Option(None, "--kind", help="Force the file kind: leaderboard, result or "
                             "features (default: detected from the file)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Validate FILE against its schema; list every problem (file and field named), exit 2 if any.

    Examples: `reidbench validate leaderboards/published/cosam-table4.json`,
    `reidbench validate runs/mars-demo/`, `reidbench validate feats.npz`.
    """
    from reidbench.leaderboard.validate import validate_file

    report = validate_file(path, kind)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif report.ok:
        typer.echo(f"ok: {report.path} ({report.kind}): {report.summary}")
    else:
        for problem in report.problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"{report.path} ({report.kind}): {len(report.problems)} problem(s)", err=True)
    if not report.ok:
        raise typer.Exit(code=2)
