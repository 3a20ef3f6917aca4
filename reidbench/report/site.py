"""Write the committed ``reports/`` artefacts from the records, and the static HTML report.

``reports/`` is produced by three commands, each a function here:

* ``reidbench leaderboard build --out reports`` -> :func:`build_tables`: ``tables/`` (every
  published table in its printed layout) and ``leaderboards/`` (one per dataset and protocol);
* ``reidbench report ablations --out reports/ablations`` -> :func:`build_ablations`: STMN's
  M x N heatmaps, margin and length curves, COSAM's placement grids, each with a table and the
  tidy data (``*.data.csv``) the figure was drawn from;
* ``reidbench report ablations --sweep OUT/sweep.json`` -> :func:`build_sweep_report`: the same
  figure, table and tidy data for a sweep the suite ran itself;
* ``reidbench report html --out reports`` -> :func:`write_html_report`: ``index.html`` embedding
  the tables and linking every figure and gallery found under the folder.

Everything is deterministic (sorted inputs, no dates), so a test can regenerate the folder and
compare it with the committed one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reidbench.errors import DataError, InputError, describe
from reidbench.fileio import atomic_write, write_texts_atomic
from reidbench.leaderboard.add import checked_submissions
from reidbench.leaderboard.build import (
    evaluated_entry,
    leaderboard_tables,
    missing_leaderboards,
    paper_tables,
    published_entries,
)
from reidbench.leaderboard.records import load_leaderboards
from reidbench.report.pages import CSS, STYLESHEET, page, site_root_of, write_stylesheet
from reidbench.report.tables import (
    FORMATS,
    FRAGMENT_END,
    FRAGMENT_START,
    notes_html,
    render_table,
    write_table,
)

__all__ = ["build_tables", "build_ablations", "build_sweep_report", "write_html_report",
           "ABLATIONS"]

# name -> (published table, kind, axes, metrics)
ABLATIONS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "stmn-memory-grid": ("stmn-table1", "heatmap", ("M", "N"), ("rank1", "mAP")),
    "stmn-margin": ("stmn-table2", "curve", ("alpha",), ("rank1", "mAP")),
    "stmn-length": ("stmn-table3", "curve", ("L",), ("rank1", "mAP")),
    "cosam-placement": ("cosam-table4", "placement", ("backbone", "cosam_stages"),
                        ("mAP", "rank1")),
}


def _write_text(path: Path, text: str) -> Path:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def build_tables(leaderboards: str | Path, out_dir: str | Path,
                 formats: Sequence[str] = FORMATS, protocols: Sequence[str] | None = None,
                 sort_by: str | None = None, warn: Callable[[str], None] | None = None,
                 published: str | Path | None = None) -> list[Path]:
    """Write ``out_dir/tables/<paper table>.*`` and ``out_dir/leaderboards/leaderboard-*.*``.

    Args:
        leaderboards: The leaderboard root (``published/`` and ``submissions/`` below it).
        out_dir: Output folder (``reports``).
        formats: Any of ``md``, ``latex``, ``html``, ``csv``.
        protocols: Reference protocols of the leaderboards (default: see
            :func:`~reidbench.leaderboard.build.leaderboard_tables`).
        sort_by: Metric the leaderboards are sorted by.
        warn: Called with one sentence per requested protocol that gets no leaderboard, saying
            why (the CLI prints it on stderr).
        published: Folder of published records (default: ``<leaderboards>/published`` if it
            exists, else the records shipped with reidbench).

    Returns:
        The files written.

    Every table is built and rendered before the first file is written, and the files are then
    written all or nothing (:func:`~reidbench.fileio.write_texts_atomic`): a build that fails
    (a bad record, an inconsistent submission, a full disk) leaves ``out_dir`` as it was.
    """
    files = load_leaderboards(leaderboards, published)
    out = Path(out_dir)
    rendered: list[tuple[Path, str]] = []
    for t in paper_tables(files):
        rendered += render_table(t, out / "tables", formats)
    entries = published_entries(files)
    entries += [evaluated_entry(s.record, s.name, s.verification)
                for s in checked_submissions(leaderboards)]
    tables = leaderboard_tables(entries, protocols, sort_by)
    for t in tables:
        rendered += render_table(t, out / "leaderboards", formats)
    if "html" in formats:
        rendered.append((out / STYLESHEET, CSS))  # the pages' one stylesheet, at the site root
    try:
        paths = write_texts_atomic(rendered)
    except OSError as exc:
        raise DataError(describe("out_dir", str(out), "a folder the tables can be written to",
                                 f"{type(exc).__name__}: {exc.strerror or exc}",
                                 "pass a writable folder; nothing was written"),
                        param="out_dir") from None
    if protocols and warn is not None:
        for message in missing_leaderboards(protocols, tables, files):
            warn(message)
    return paths


def build_ablations(leaderboards: str | Path | None, out_dir: str | Path,
                    formats: Sequence[str] = FORMATS,
                    published: str | Path | None = None, figure_format: str = "png",
                    dpi: int | None = None) -> list[Path]:
    """Render the published ablation grids and curves with their tables and tidy data.

    Figures are written as ``figure_format`` (``png`` at ``dpi``, or vector ``pdf`` / ``svg``).

    ``leaderboards`` and ``published`` choose the records as in :func:`build_tables`.

    Returns:
        The files written (PNGs, tables, ``*.data.csv``).
    """
    from reidbench.report._mpl import save_figure
    from reidbench.report.ablations import (
        ablation_table,
        curve,
        heatmap,
        placement_grid,
        published_ablation,
        table_groups,
    )

    ext = _figure_ext(figure_format)
    files = load_leaderboards(leaderboards, published)
    out = Path(out_dir)
    paths: list[Path] = []
    for name, (key, kind, axes, metrics) in ABLATIONS.items():
        df = published_ablation(files, key)
        f = next(f for f in files if f.key == key)
        source = f"{f.data['paper']['authors']} ({f.data['paper']['key'].upper()}), " \
            f"supplement Table {f.data['table']['number']}"
        if f.data["table"].get("measured_on"):
            source += f", measured on {f.data['table']['measured_on']}"
        if kind == "heatmap":
            for m in metrics:
                fig = heatmap(df, axes[0], axes[1], m, title=f"{source}: {m} (%), "
                              f"{axes[0]} x {axes[1]}")
                paths.append(save_figure(fig, out / f"{name}-{m}.{ext}", dpi))
        elif kind == "curve":
            fig = curve(df, axes[0], list(metrics), title=f"{source}: vs {axes[0]}")
            paths.append(save_figure(fig, out / f"{name}.{ext}", dpi))
        else:
            for m in metrics:
                fig = placement_grid(df, m, title=f"{source}: {m} (%) by COSAM placement")
                paths.append(save_figure(fig, out / f"{name}-{m}.{ext}", dpi))
        table = ablation_table(df, list(axes), list(metrics), key=name,
                               title=f"{source}: {f.data['table']['caption'].split('.')[0]}",
                               caption=f.data["table"]["caption"], groups=table_groups(f))
        paths += write_table(table, out, formats)
        paths.append(_write_data(df, axes, out / f"{name}.data.csv"))
    if "html" in formats:
        paths.append(write_stylesheet(site_root_of(out, 1)[0]))
    return paths


def _figure_ext(figure_format: str) -> str:
    if figure_format not in ("png", "pdf", "svg"):
        raise InputError(describe("figure_format", "the ablation report", "png, pdf or svg",
                                  repr(figure_format), ""), param="figure_format")
    return figure_format


def _write_data(df: Any, axes: Sequence[str], path: Path) -> Path:
    """The tidy data a figure was drawn from, as CSV (axes, dataset, metric, mean, std...)."""
    cols = [*axes, "dataset", "metric", "mean", "std", "printed", "std_printed"]
    data = df[[c for c in cols if c in df.columns]]
    return _write_text(path, data.to_csv(index=False, lineterminator="\n"))


def build_sweep_report(sweep: str | Path, out_dir: str | Path, metric: str = "mAP",
                       formats: Sequence[str] = FORMATS, figure_format: str = "png",
                       dpi: int | None = None) -> list[Path]:
    """Render a ``reidbench sweep`` record: figure, table and the tidy data behind them.

    Writes ``sweep-<baseline>.png``, the table in each format and ``sweep-<baseline>.data.csv``
    (mean and std over trials per cell and metric, percent), like the published ablations.

    Raises:
        DataError: A missing or malformed sweep record.
        InputError: No rows for ``metric``, or more than two axes.
    """
    from reidbench.records import read_sweep
    from reidbench.report._mpl import save_figure
    from reidbench.report.ablations import sweep_ablation, sweep_figures

    ext = _figure_ext(figure_format)
    record = read_sweep(sweep)
    fig, table = sweep_figures(record, metric)
    out = Path(out_dir)
    name = f"sweep-{record['baseline']}"
    paths = [save_figure(fig, out / f"{name}.{ext}", dpi), *write_table(table, out, formats)]
    paths.append(_write_data(sweep_ablation(record), list(record["grid"]),
                             out / f"{name}.data.csv"))
    if "html" in formats:
        paths.append(write_stylesheet(site_root_of(out, 1)[0]))
    return paths


#: Figure files the index shows (a browser displays them in an <img>); PDFs are linked.
_EMBEDDED = (".png", ".svg")
# folders with their own section (their figures are not repeated under "Figures")
_OWN_SECTIONS = ("ablations", "galleries", "tables", "leaderboards")


def _fragment(page_path: Path) -> tuple[str, list[str]] | None:
    """The table and its notes from a table page (None: not a reidbench table page)."""
    text = page_path.read_text(encoding="utf-8")
    m = re.search(re.escape(FRAGMENT_START) + r"\n?(.*?)" + re.escape(FRAGMENT_END), text, re.S)
    if not m:
        return None
    body = m.group(1)
    notes: list[str] = []
    n = re.search(r'<ul class="notes">(.*?)</ul>', body, re.S)
    if n:
        notes = [html.unescape(x) for x in re.findall(r"<li>(.*?)</li>", n.group(1), re.S)]
        body = body[:n.start()] + body[n.end():]
    return body, notes


def _page_title(page_path: Path) -> str:
    m = re.search(r"<title>(.*?)</title>", page_path.read_text(encoding="utf-8"), re.S)
    return html.unescape(m.group(1)) if m else page_path.parent.name


def _rel(p: Path, root: Path) -> str:
    return html.escape(p.relative_to(root).as_posix())


def write_html_report(out_dir: str | Path, title: str = "reidbench report",
                      skipped: Callable[[str], None] | None = None) -> Path:
    """Write ``out_dir/index.html`` (and the stylesheet): the report's front page.

    Sections: leaderboards (``leaderboards/*.html``, sortable, provenance on hover), ablations
    (``ablations/``: figures and tables), published tables (``tables/*.html``), figures (every
    ``.png`` / ``.svg`` anywhere else under ``out_dir``, as ``report cmc|aphist|cost -o`` wrote
    them; ``.pdf`` files are linked, a browser cannot embed them) and galleries (each
    ``galleries/<name>/index.html``, named by its title). The footnotes of a section's tables are
    listed once, under the section. Paths are relative, so the folder can be moved.

    Args:
        out_dir: The report folder.
        title: Page title.
        skipped: Called with one line per file the index does not embed (a PDF it links
            instead, a page that is not a reidbench table, a gallery without its page); the CLI
            prints them. The page lists them too.
    """
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    e = html.escape
    toc: list[str] = []
    body: list[str] = []
    not_shown: list[str] = []

    def skip(path: Path, why: str) -> None:
        not_shown.append(f"{path.relative_to(root).as_posix()}: {why}")

    def section(key: str, heading: str, content: list[str], notes: list[str] = ()) -> None:
        if content:
            toc.append(f'<li><a href="#{key}">{e(heading)}</a></li>')
            body.append(f'<section id="{key}">\n<h2>{e(heading)}</h2>\n' + "\n".join(content)
                        + ("\n" + notes_html(notes) if notes else "") + "\n</section>\n")

    def tables(folder: str) -> tuple[list[str], list[str]]:
        blocks, notes = [], []
        for p in sorted((root / folder).glob("*.html")):
            got = _fragment(p)
            if got is None:
                skip(p, "not a reidbench table page (regenerate it)")
                continue
            blocks.append(f'<div class="table"><p><a href="{_rel(p, root)}">page</a> '
                          f"&middot; {e(p.stem)}</p>\n{got[0]}</div>")
            notes += got[1]
        return blocks, notes

    def figure(p: Path) -> str:
        return (f'<figure><img src="{_rel(p, root)}" alt="{e(p.stem)}" loading="lazy">'
                f"<figcaption>{e(p.relative_to(root).as_posix())}</figcaption></figure>")

    def figures(paths: list[Path]) -> list[str]:
        out = []
        for p in paths:
            if p.suffix.lower() in _EMBEDDED:
                out.append(figure(p))
            else:
                out.append(f'<p><a href="{_rel(p, root)}">{e(p.relative_to(root).as_posix())}'
                           "</a> (PDF, linked)</p>")
                skip(p, "PDF: linked, not embedded (a browser cannot show it inline)")
        return out

    boards, board_notes = tables("leaderboards")
    section("leaderboards", "Leaderboards", boards, board_notes)
    abl_tables, abl_notes = tables("ablations")
    abl_figs = sorted(p for p in (root / "ablations").glob("*")
                      if p.suffix.lower() in (*_EMBEDDED, ".pdf"))
    section("ablations", "Ablations", figures(abl_figs) + abl_tables, abl_notes)
    paper, paper_notes = tables("tables")
    section("tables", "Published tables", paper, paper_notes)
    others = sorted(p for p in root.rglob("*") if p.is_file()
                    and p.suffix.lower() in (*_EMBEDDED, ".pdf")
                    and p.relative_to(root).parts[0] not in _OWN_SECTIONS)
    section("figures", "Figures", figures(others))
    links = []
    for d in sorted(p for p in (root / "galleries").glob("*") if p.is_dir()):
        if (d / "index.html").is_file():
            links.append(f'<p><a href="{_rel(d / "index.html", root)}">'
                         f"{e(_page_title(d / 'index.html'))}</a></p>")
        else:
            skip(d, "a gallery folder without its index.html (re-run `reidbench report gallery`)")
    section("galleries", "Retrieval galleries", links)
    intro = ("<p>Generated by reidbench from the published records (numbers printed in papers, "
             "with provenance) and the evaluated submissions under <code>leaderboards/</code>. "
             "Leaderboard columns sort with a click; a row's provenance shows on hover.</p>\n")
    nav = "<ul>" + "".join(toc) + "</ul>\n"
    missing = ("" if not not_shown else '<p class="skipped">Not embedded: '
               + "; ".join(e(x) for x in not_shown) + ".</p>\n")
    write_stylesheet(root)
    if skipped is not None:
        for line in not_shown:
            skipped(line)
    return _write_text(root / "index.html", page(title, intro + nav + "".join(body) + missing,
                                                 index=True, sortable=True))
