"""`reidbench data ...`: Dataset copies: verify a copy, synthesize a miniature one."""

from __future__ import annotations

import typer

app = typer.Typer(help="Dataset copies: verify a copy, synthesize a miniature one.", no_args_is_help=True)
