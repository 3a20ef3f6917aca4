"""`reidbench export`: write a ModuleAdapter (a baseline included) as an ONNX/TorchScript file."""

from __future__ import annotations

import json

import typer

from reidbench.cli._common import CONFIG_HELP, JSON_HELP

app = typer.Typer()


@app.command("export")
def export_cmd(
    adapter: str = typer.Argument(..., help="Adapter name (e.g. stmn) or module:Class."),
    checkpoint: str = typer.Option(None, "--checkpoint", help="Checkpoint to export (its stored "
                                   "config rebuilds the architecture)."),
    fmt: str = typer.Option(..., "--format", help="onnx or torchscript."),
    out: str = typer.Option(..., "--out", "-o", help="Model file to write."),
    config: str = typer.Option(None, "--config", help=CONFIG_HELP),
    height: int = typer.Option(None, "--height", help="Frame height (default: the checkpoint's "
                               "training size, else the adapter card's)."),
    width: int = typer.Option(None, "--width", help="Frame width (with --height)."),
    train_dataset: str = typer.Option(None, "--train-dataset", help="Declared training dataset "
                                      "(default: the checkpoint's)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Export a model adapter's network with its reidbench.* metadata, checked against it."""
    from reidbench.adapters.build import build_adapter
    from reidbench.adapters.export import FORMATS, export_adapter
    from reidbench.cli._common import check_frame_size, check_option, parse_config

    command = "reidbench export"
    check_option(fmt in FORMATS, "--format", command, f"one of {list(FORMATS)}", repr(fmt))
    check_frame_size(height, width, command)
    model = build_adapter(adapter, checkpoint, parse_config(config, command))
    summary = export_adapter(model, fmt, out, train_dataset=train_dataset,
                             input_size=(height, width) if height else None)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    meta = ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in summary["metadata"].items())
    typer.echo(f"wrote {summary['path']} ({fmt}; {meta})")
    typer.echo(f"features match the adapter's: max abs difference {summary['max_abs_diff']:.2e} "
               f"on random clips; evaluate it with `reidbench evaluate --model {summary['path']}`")
