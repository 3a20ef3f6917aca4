"""Reports: tables, ablation grids, curves, retrieval galleries and a static HTML report.

Tables are rendered from leaderboard records; figures are CMC curves, per-query AP histograms,
accuracy-vs-cost scatters, ablation grids and video retrieval galleries.

The only package of reidbench that imports matplotlib (always through :mod:`._mpl`, which selects
the Agg backend and never touches pyplot's global state). Figures are built from records (result
directories and leaderboard files) only; each figure function returns a
:class:`matplotlib.figure.Figure` whose plotted data tests can read back.
"""

from __future__ import annotations

__all__ = ["ablations", "curves", "gallery", "html", "site", "tables"]
