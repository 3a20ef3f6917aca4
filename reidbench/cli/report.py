"""`reidbench report ablations|gallery|cmc|aphist|cost|html`: figures and the HTML report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from reidbench.cli._common import PUBLISHED_HELP

app = typer.Typer(help="Figures from records: ablation grids, retrieval galleries, CMC curves, "
                       "AP histograms, accuracy vs cost, and a static HTML report.",
                  no_args_is_help=True)


FIGURE_OUT_HELP = ("Output figure; the suffix picks the format: .pdf or .svg (vector, for "
                   "papers) or .png (raster, at --dpi).")
DPI_HELP = "Resolution of a .png figure in dots per inch (default 150; vector formats ignore it)."


def _writable(folder: str | Path, command: str) -> None:
    """Refuse, before anything is read or drawn, an --out that cannot be created or written."""
    from reidbench.errors import InputError, describe
    from reidbench.fileio import unwritable_reason

    reason = unwritable_reason(folder)
    if reason:
        raise InputError(describe("--out", f"reidbench report {command}", "a location this user "
                                  "can create and write", reason, "pass a writable --out"))


def _figure(result_dirs: list[str], out: str, dpi: int | None,
            draw: Callable[[list[Any]], Any]) -> None:
    """Check the output's suffix first, read the results, draw, save in the asked format."""
    from reidbench.report._mpl import figure_format, save_figure
    from reidbench.report.curves import named_results

    figure_format(out)  # a bad suffix fails before anything is read
    if Path(out).is_dir():
        from reidbench.errors import InputError, describe

        raise InputError(describe("--out", "reidbench report", "a figure file name", f"{out}, "
                                  "a folder", "name the figure, e.g. --out cmc.png"))
    _writable(Path(out).parent, "figure")
    save_figure(draw(named_results(result_dirs)), out, dpi)
    typer.echo(f"wrote {out}")


@app.command("ablations")
def ablations_cmd(
    out: str = typer.Option("reports/ablations", "--out", "-o", help="Output folder."),
    leaderboards: str = typer.Option("leaderboards", "--leaderboards", help="Leaderboard root."),
    published: str = typer.Option(None, "--published", help=PUBLISHED_HELP),
    sweep: str = typer.Option(None, "--sweep", help="A sweep.json from `reidbench sweep`: render "
                              "its grid instead of the published ablations."),
    metric: str = typer.Option("mAP", "--metric", help="Metric of the sweep figure."),
    figure_format: str = typer.Option("png", "--figure-format", help="png (raster, at --dpi), "
                                      "pdf or svg (vector, for papers)."),
    dpi: int = typer.Option(None, "--dpi", help=DPI_HELP),
) -> None:
    """STMN M x N heatmaps, margin/length curves, COSAM placement grids (published or a sweep).

    Each figure comes with its table and the tidy data it was drawn from (`*.data.csv`).
    """
    if sweep:
        from reidbench.report.site import build_sweep_report

        paths = build_sweep_report(sweep, out, metric, figure_format=figure_format, dpi=dpi)
        typer.echo(f"wrote {len(paths)} files under {out}")
        return
    from reidbench.report.site import build_ablations

    paths = build_ablations(leaderboards, out, published=published,
                            figure_format=figure_format, dpi=dpi)
    typer.echo(f"wrote {len(paths)} files under {out}")


@app.command("gallery")
def gallery_cmd(
    result_dir: str = typer.Argument(..., help="Result directory (results.json + per_query.npz)."),
    data: str = typer.Option(..., "--data", help="Root of the dataset copy the result used."),
    out: str = typer.Option(None, "--out", "-o", help="Output folder (default "
                            "reports/galleries/<result folder name>)."),
    queries: int = typer.Option(5, "--queries", help="Number of queries drawn."),
    topk: int = typer.Option(10, "--topk", help="Gallery tracklets per query."),
    worst_first: bool = typer.Option(False, "--worst-first", help="Worst AP first."),
    junk: str = typer.Option("show", "--junk", help="show (grey border) or skip junk items."),
    frames: int = typer.Option(4, "--frames", help="Frames per tracklet strip."),
    split: str = typer.Option(None, "--split", help="Split of a multi-split protocol: split0.."
                              "split9, or just the number (3 means split3)."),
) -> None:
    """Per query: a strip of query frames and the top-k gallery tracklets, green/red borders."""
    from reidbench.cli._common import split_name
    from reidbench.report.gallery import write_gallery

    target = out or str(Path("reports") / "galleries" / (Path(result_dir).resolve().name))
    _writable(target, "gallery")
    paths = write_gallery(result_dir, data, target, queries=queries, topk=topk,
                          worst_first=worst_first, junk=junk, frames=frames,
                          split=split_name(split))
    typer.echo(f"wrote {len(paths) - 2} query strips, gallery.csv and index.html under {target}")


@app.command("cmc")
def cmc_cmd(
    result_dirs: list[str] = typer.Argument(..., help="One or more result directories."),  # noqa: B008
    out: str = typer.Option(..., "--out", "-o", help=FIGURE_OUT_HELP),
    dpi: int = typer.Option(None, "--dpi", help=DPI_HELP),
    max_rank: int = typer.Option(20, "--max-rank", help="Last rank plotted."),
) -> None:
    """CMC curves of several results on one plot."""
    from reidbench.report.curves import cmc_curve

    _figure(result_dirs, out, dpi, lambda r: cmc_curve(r, max_rank))


@app.command("aphist")
def aphist_cmd(
    result_dirs: list[str] = typer.Argument(..., help="One or more result directories."),  # noqa: B008
    out: str = typer.Option(..., "--out", "-o", help=FIGURE_OUT_HELP),
    dpi: int = typer.Option(None, "--dpi", help=DPI_HELP),
    bins: int = typer.Option(20, "--bins", help="Histogram bins over [0, 100]."),
) -> None:
    """Histogram of per-query AP."""
    from reidbench.report.curves import ap_histogram

    _figure(result_dirs, out, dpi, lambda r: ap_histogram(r, bins))


@app.command("cost")
def cost_cmd(
    result_dirs: list[str] = typer.Argument(..., help="One or more result directories."),  # noqa: B008
    out: str = typer.Option(..., "--out", "-o", help=FIGURE_OUT_HELP),
    dpi: int = typer.Option(None, "--dpi", help=DPI_HELP),
    cost: str = typer.Option("parameters", "--cost", help="parameters, time (per tracklet) or "
                             "flops (GFLOPs per clip)."),
) -> None:
    """Plot mAP against model size, time per tracklet or FLOPs (results that record it)."""
    from reidbench.report.curves import cost_scatter

    _figure(result_dirs, out, dpi, lambda r: cost_scatter(
        r, cost, skipped=lambda line: typer.echo(f"left out: {line}", err=True)))


@app.command("html")
def html_cmd(
    out: str = typer.Option("reports", "--out", "-o", help="Report folder (index.html is "
                            "written there, linking what it holds)."),
    title: str = typer.Option("reidbench report", "--title", help="Page title."),
) -> None:
    """Write the report's index.html: tables embedded, figures shown, galleries linked.

    Every .png/.svg under --out is shown (ablations, and what report cmc/aphist/cost wrote
    there); .pdf figures are linked; what is not embedded is listed on stderr and on the page.
    """
    from reidbench.report.site import write_html_report

    _writable(out, "html")
    path = write_html_report(out, title, skipped=lambda line: typer.echo(f"not embedded: {line}",
                                                                         err=True))
    typer.echo(f"wrote {path}")
