"""`reidbench metrics ...`: Metric engine: parity demo, presets."""

from __future__ import annotations

import typer

app = typer.Typer(help="Metric engine: parity demo, presets.", no_args_is_help=True)
