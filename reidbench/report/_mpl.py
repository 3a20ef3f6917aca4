"""Matplotlib set-up shared by the report modules: Agg backend, pyplot-free figures, stable PNGs."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reidbench.fileio import atomic_write  # noqa: E402

__all__ = ["new_figure", "save_figure", "GREEN", "RED", "GREY"]

GREEN = "#1a9850"
RED = "#d73027"
GREY = "#9e9e9e"


def new_figure(width: float, height: float) -> Figure:
    """A figure with an Agg canvas attached, outside pyplot (no global state, no leaks)."""
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save as PNG atomically, without a timestamp or software tag (deterministic bytes)."""
    target = Path(path)

    def _write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", metadata={"Software": None})

    atomic_write(target, _write)
    return target
