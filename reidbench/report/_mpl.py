"""Matplotlib set-up shared by the report modules: Agg backend, pyplot-free figures, stable files.

:func:`save_figure` writes the format the file name asks for: ``.pdf`` and ``.svg`` as vector
graphics (for papers), ``.png`` as a raster image at ``dpi`` dots per inch (default
:data:`DEFAULT_DPI`). Every format is written without a timestamp or software tag, so the same
figure gives the same bytes (SVG element ids are salted with a constant).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reidbench.errors import InputError, describe  # noqa: E402
from reidbench.fileio import atomic_write  # noqa: E402

__all__ = ["new_figure", "save_figure", "figure_format", "FIGURE_FORMATS", "DEFAULT_DPI",
           "percent_ylim", "GREEN", "RED", "GREY"]

GREEN = "#1a9850"
RED = "#d73027"
GREY = "#9e9e9e"

#: File suffix -> matplotlib format. PDF and SVG are vector graphics; PNG is raster.
FIGURE_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}

#: PNG resolution when none is given (a 5.5 x 4 inch figure is 825 x 600 pixels).
DEFAULT_DPI = 150

# metadata keys set to None are left out of the file (no date, no software version)
_METADATA = {"png": {"Software": None},
             "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
             "svg": {"Creator": None, "Date": None}}


def new_figure(width: float, height: float) -> Figure:
    """A figure with an Agg canvas attached, outside pyplot (no global state, no leaks)."""
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_format(path: str | Path, where: str = "--out") -> str:
    """The format a figure file's suffix asks for (``png``, ``pdf`` or ``svg``).

    Raises:
        InputError: Any other suffix (the message names ``where``, the option or parameter).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise InputError(describe(where, str(path), "a figure file ending in "
                                  f"{', '.join(FIGURE_FORMATS)}", repr(suffix or "no suffix"),
                                  "e.g. cmc.pdf (vector, for papers) or cmc.png"))
    return FIGURE_FORMATS[suffix]


def save_figure(fig: Figure, path: str | Path, dpi: int | None = None) -> Path:
    """Save atomically in the format of ``path``'s suffix, without a timestamp or software tag.

    Args:
        fig: The figure.
        path: Target file: ``.png``, ``.pdf`` or ``.svg``.
        dpi: PNG resolution (default :data:`DEFAULT_DPI`); vector formats ignore it.

    Raises:
        InputError: Unknown suffix, or a dpi outside 10..2400.
    """
    target = Path(path)
    fmt = figure_format(target)
    if dpi is not None and (isinstance(dpi, bool) or not isinstance(dpi, int)
                            or not 10 <= dpi <= 2400):
        raise InputError(describe("dpi", str(target), "an integer in 10..2400", repr(dpi),
                                  "e.g. dpi=300 for print"), param="dpi")

    def _write(tmp: Path) -> None:
        with matplotlib.rc_context({"svg.hashsalt": "reidbench", "svg.fonttype": "path"}):
            fig.savefig(tmp, format=fmt, dpi=dpi or DEFAULT_DPI, metadata=_METADATA[fmt])

    atomic_write(target, _write)
    return target


def percent_ylim(ax: Axes, values: Sequence[float] | np.ndarray, *, min_span: float = 10.0,
                 top: float = 100.0) -> tuple[float, float]:
    """Set a percent y-axis that shows at least ``min_span`` points around the data.

    Autoscaling stretches any spread, however small, over the whole plot (a 0.03-point
    difference looks like a collapse); here the axis spans at least ``min_span`` points,
    centred on the data and kept inside ``[0, top]``.

    Returns:
        The ``(low, high)`` limits set.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, top)
    pad = max(0.05 * (hi - lo), 0.5)
    lo, hi = lo - pad, hi + pad
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    if hi > top:
        lo, hi = lo - (hi - top), top
    if lo < 0.0:
        lo, hi = 0.0, min(top, hi - lo)
    ax.set_ylim(lo, hi)
    return lo, hi
