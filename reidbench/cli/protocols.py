"""`reidbench protocols list|show|ids`: the versioned evaluation protocols."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Versioned evaluation protocols: list, show, and the ids a features file "
                       "must hold.", no_args_is_help=True)


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List every registered protocol with its fingerprint."""
    from reidbench.protocols import list_protocols

    protocols = list_protocols()
    if as_json:
        typer.echo(json.dumps([p.to_dict() for p in protocols], indent=2))
        return
    width = max(len(p.id) for p in protocols)
    for p in protocols:
        typer.echo(f"{p.id:<{width}}  {p.fingerprint}  {p.title}")


@app.command("show")
def show_cmd(protocol: str = typer.Argument(..., help="Protocol id, e.g. mars/v2v@1.")) -> None:
    """Print a protocol in full (JSON): evaluation part, default procedure, notes."""
    from reidbench.protocols import get_protocol

    typer.echo(json.dumps(get_protocol(protocol).to_dict(), indent=2))


@app.command("ids")
def ids_cmd(
    protocol: str = typer.Argument(..., help="Protocol id, e.g. mars/v2v@1."),
    data: str = typer.Option(..., "--data", help="Root of the dataset copy."),
    split: str = typer.Option(None, "--split", help="The split, e.g. split3 or 3 (required for "
                              "multi-split protocols: each split's file holds its own ids)."),
) -> None:
    """Print the item ids a features file must hold for PROTOCOL, one per line.

    A V2V protocol lists its query and gallery tracklets, each once; an I2V protocol adds one id
    per query image, `<tracklet id>#first`.
    """
    from reidbench.cli._common import split_name
    from reidbench.datasets import load
    from reidbench.engine.evalset import build_evalset
    from reidbench.errors import ProtocolError, describe
    from reidbench.protocols import get_protocol

    p = get_protocol(protocol)
    splits = list(p.evaluation.splits)
    split = split_name(split)
    if split is None and p.is_multi_split:
        raise ProtocolError(describe("--split", f"reidbench protocols ids {p.id}",
                                     f"one of {splits}", "none", "each split's features file "
                                     "holds that split's ids: pass e.g. --split split0"))
    if split is not None and split not in splits:
        raise ProtocolError(describe("--split", f"reidbench protocols ids {p.id}",
                                     f"one of {splits}", repr(split), ""))
    dataset = load(p.evaluation.dataset, data)
    for item_id in build_evalset(dataset, p, split or splits[0]).ids():
        typer.echo(item_id)
