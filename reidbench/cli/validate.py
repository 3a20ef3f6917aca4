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
    protocol: str = typer.Option(None, "--protocol", "-p", help="Features files: also check "
                                 "the ids against this protocol (as `evaluate` would), with "
                                 "--data."),
    data: str = typer.Option(None, "--data", help="Root of the dataset copy (with --protocol)."),
    split: str = typer.Option(None, "--split", help="With --protocol: only this split (3 means "
                              "split3)."),
) -> None:
    """Validate FILE against its schema; list every problem (file and field named), exit 2 if any.

    Examples: `reidbench validate reidbench/leaderboard/published/cosam-table4.json`,
    `reidbench validate runs/mars-demo/`, `reidbench validate feats.npz --protocol mars/v2v@1
    --data /data/MARS` (every check `evaluate` makes of a features file, without evaluating; a
    multi-split protocol takes a `{split}` template or a folder of `<split>.npz`).
    """
    from reidbench.cli._common import split_name
    from reidbench.leaderboard.validate import validate_file

    if (protocol is None) != (data is None):
        typer.echo("error: --protocol and --data go together: the ids a features file must hold "
                   "come from the protocol applied to the dataset copy", err=True)
        raise typer.Exit(code=2)
    if protocol is not None:
        report = _features_for_protocol(path, protocol, data, split_name(split))
    else:
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


def _features_for_protocol(path: str, protocol: str, data: str, split: str | None) -> object:
    """A validation report of a features file (or split template) against a protocol."""
    from reidbench.datasets import load
    from reidbench.engine import check_features_for_protocol
    from reidbench.leaderboard.validate import ValidationReport
    from reidbench.protocols import get_protocol

    p = get_protocol(protocol)
    splits = [split] if split else list(p.evaluation.splits)
    problems = check_features_for_protocol(path, p, load(p.evaluation.dataset, data), splits)
    summary = f"the ids of {p.id} ({len(splits)} split{'s' if len(splits) != 1 else ''})"
    return ValidationReport(path=path, kind="features", problems=problems, summary=summary)
