"""`reidbench leaderboard build|add`: regenerate the tables, file an evaluated result."""

from __future__ import annotations

import json

import typer

from reidbench.cli._common import DEVICE_HELP, PUBLISHED_HELP, SUBMISSION_HELP

app = typer.Typer(help="Leaderboard tables from the records in leaderboards/, and submissions.",
                  no_args_is_help=True)


@app.command("build")
def build_cmd(
    out: str = typer.Option("reports", "--out", "-o", help="Output folder: tables/ (published "
                            "tables as printed) and leaderboards/ (one per dataset/protocol)."),
    fmt: str = typer.Option("md,latex,html,csv", "--format", help="Comma list of md, latex, "
                            "html, csv."),
    protocol: list[str] = typer.Option(None, "--protocol", "-p", help="Reference protocol of a "  # noqa: B008
                                       "leaderboard (repeatable; default: each dataset's base "
                                       "protocol plus every protocol a submission used)."),
    sort_by: str = typer.Option(None, "--sort-by", help="Metric to sort by (mAP, rank1, ...; "
                                "default mAP where the table has it, else rank1)."),
    leaderboards: str = typer.Option("leaderboards", "--leaderboards", help="Leaderboard root "
                                     "(submissions/, and published/ if it has one)."),
    published: str = typer.Option(None, "--published", help=PUBLISHED_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the files written as JSON."),
) -> None:
    """Regenerate the leaderboard tables (Markdown, LaTeX, HTML, CSV) from the records."""
    from reidbench.report.site import build_tables
    from reidbench.report.tables import parse_formats

    def warn(message: str) -> None:
        typer.echo(f"warning: {message}", err=True)

    paths = build_tables(leaderboards, out, parse_formats(fmt), protocol or None, sort_by, warn,
                         published=published)
    if as_json:
        typer.echo(json.dumps([str(p) for p in paths], indent=2))
    else:
        typer.echo(f"wrote {len(paths)} files under {out}")


@app.command("add")
def add_cmd(
    result_dir: str = typer.Argument(..., help="A result directory written by `reidbench "
                                     "evaluate` (results.json + per_query.npz)."),
    leaderboards: str = typer.Option("leaderboards", "--leaderboards", help="Leaderboard root."),
    verify: str = typer.Option(None, "--verify", help="The features file or checkpoint the "
                               "result was computed from ({split} template for multi-split "
                               "protocols): re-run the evaluation and file the entry as "
                               "verified only if every number matches."),
    data: str = typer.Option(None, "--data", help="With --verify: the dataset copy to re-run "
                             "on (default: the dataset root the record names)."),
    device: str = typer.Option("auto", "--device", help="With --verify: where a checkpoint "
                               "runs: " + DEVICE_HELP),
    name: str = typer.Option(None, "--name", help=SUBMISSION_HELP["name"] + " Replaces the "
                             "record's own in the filed copy."),
    description: str = typer.Option(None, "--description", help=SUBMISSION_HELP["description"]),
    backbone: str = typer.Option(None, "--backbone", help=SUBMISSION_HELP["backbone"]),
    url: str = typer.Option(None, "--url", help=SUBMISSION_HELP["url"]),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Validate a result record and file it under leaderboards/submissions/.

    Filing is atomic; duplicates and invalid records are refused. Without --verify the entry is
    self-reported; with it, verified (leaderboards/SCHEMA.md, verification levels).
    """
    from reidbench.leaderboard.add import add_submission, checked_record
    from reidbench.records import SubmissionInfo

    submission = SubmissionInfo.from_options(name=name, description=description,
                                             backbone=backbone, url=url)
    verification = None
    if verify is not None:
        from reidbench.engine.verify import verify_result

        checked_record(result_dir)  # the record's own checks first: no re-run for a bad record
        verification = verify_result(result_dir, verify, data, device=device)
    elif data is not None:
        typer.echo("error: --data goes with --verify (the dataset copy the evaluation is re-run "
                   "on)", err=True)
        raise typer.Exit(code=2)
    sub = add_submission(result_dir, leaderboards, verification, submission)
    if as_json:
        typer.echo(json.dumps({"name": sub.name, "path": str(sub.path),
                               "protocol": sub.record.protocol.id,
                               "verification": sub.verification}, indent=2))
    else:
        typer.echo(f"filed {sub.path} (protocol {sub.record.protocol.id}, "
                   f"{sub.verification})")
