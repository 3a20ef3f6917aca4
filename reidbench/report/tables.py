r"""Render a :class:`~reidbench.leaderboard.build.Table` as Markdown, LaTeX, HTML or CSV.

Marks: best is bold (``**x**``, ``\\textbf{x}``, ``<b>``), second best underlined (``<u>x</u>``,
``\\underline{x}``, ``<u>``); CSV keeps plain text and lists the marks in a ``marks`` column.
Rows of the *not comparable* section are rendered apart, under their own heading, unmarked.
The output is deterministic (no dates), so committed reports can be compared with regenerated ones.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from reidbench.errors import InputError, describe
from reidbench.fileio import atomic_write
from reidbench.leaderboard.build import NOT_COMPARABLE, RANKED, Column, Table
from reidbench.report.pages import page, site_root_of

__all__ = ["FORMATS", "to_markdown", "to_latex", "to_html", "html_fragment", "notes_html",
           "FRAGMENT_START", "FRAGMENT_END", "to_csv",
           "write_table", "parse_formats"]

FORMATS = ("md", "latex", "html", "csv")
_SUFFIX = {"md": ".md", "latex": ".tex", "html": ".html", "csv": ".csv"}
_SECTION_TITLES = {RANKED: "", NOT_COMPARABLE: "Not comparable (not ranked)"}


def parse_formats(spec: str | Sequence[str]) -> list[str]:
    """Parse ``"md,latex"`` into a list of known formats.

    Raises:
        InputError: On an unknown format name.
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = [s.strip().lower() for s in items if s.strip()]
    bad = [s for s in out if s not in FORMATS]
    if bad or not out:
        raise InputError(describe("formats", "parse_formats", f"a comma list of {FORMATS}",
                                  repr(spec), "e.g. formats=md,latex,html,csv"), param="formats")
    return out


def _header(c: Column, multi_group: bool) -> str:
    return f"{c.group} {c.header}" if (c.group and multi_group) else c.header


def _multi_group(t: Table) -> bool:
    return len({c.group for c in t.metric_columns}) > 1


def _sections(t: Table) -> list[tuple[str, list[int]]]:
    out = []
    for name in (RANKED, NOT_COMPARABLE):
        rows = [i for i, s in enumerate(t.sections) if s == name]
        if rows:
            out.append((name, rows))
    return out


def _mark(t: Table, i: int, c: Column) -> str:
    if c.metric is None or c.key not in t.marks.columns:
        return ""
    return str(t.marks.iloc[i][c.key])


# ----------------------------------------------------------------------------- Markdown
def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def to_markdown(t: Table) -> str:
    """Markdown (GitHub pipe tables); the not-comparable rows follow in a second table."""
    multi = _multi_group(t)
    lines = [f"### {t.title}", "", t.caption, ""]
    for name, rows in _sections(t):
        if _SECTION_TITLES[name]:
            lines += [f"**{_SECTION_TITLES[name]}**", ""]
        lines.append("| " + " | ".join(_md_escape(_header(c, multi)) for c in t.columns) + " |")
        lines.append("|" + "|".join("---:" if c.metric else ":---" for c in t.columns) + "|")
        for i in rows:
            cells = []
            for c in t.columns:
                text = _md_escape(t.cell(i, c.key))
                mark = _mark(t, i, c)
                if text and mark == "best":
                    text = f"**{text}**"
                elif text and mark == "second":
                    text = f"<u>{text}</u>"
                cells.append(text)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"- {n}" for n in t.notes]
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- LaTeX
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
        "±": r"$\pm$", "†": r"$^\dagger$", "‡": r"$^\ddagger$"}


def _tex(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s)


def to_latex(t: Table) -> str:
    """A booktabs ``table`` environment (needs the LaTeX package booktabs)."""
    n = len(t.columns)
    spec = "".join("r" if c.metric else "l" for c in t.columns)
    lines = ["\\begin{table}[t]", "\\centering", "\\small", f"\\begin{{tabular}}{{{spec}}}",
             "\\toprule"]
    if _multi_group(t) or any(c.group for c in t.metric_columns):
        groups: list[tuple[str, int, int]] = []
        for j, c in enumerate(t.columns):
            if groups and groups[-1][0] == c.group and c.group:
                groups[-1] = (c.group, groups[-1][1], j)
            else:
                groups.append((c.group, j, j))
        cells, rules = [], []
        for g, a, b in groups:
            span = b - a + 1
            cells.append(f"\\multicolumn{{{span}}}{{c}}{{{_tex(g)}}}" if g else
                         " & ".join([""] * span))
            if g:
                rules.append(f"\\cmidrule(lr){{{a + 1}-{b + 1}}}")
        lines.append(" & ".join(cells) + " \\\\")
        lines.append(" ".join(rules))
    lines.append(" & ".join(_tex(c.header) for c in t.columns) + " \\\\")
    lines.append("\\midrule")
    for name, rows in _sections(t):
        if _SECTION_TITLES[name]:
            lines.append("\\midrule")
            lines.append(f"\\multicolumn{{{n}}}{{l}}{{\\emph{{{_SECTION_TITLES[name]}}}}} \\\\")
        for i in rows:
            cells = []
            for c in t.columns:
                text = _tex(t.cell(i, c.key))
                mark = _mark(t, i, c)
                if text and mark == "best":
                    text = f"\\textbf{{{text}}}"
                elif text and mark == "second":
                    text = f"\\underline{{{text}}}"
                cells.append(text)
            lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}",
              f"\\caption{{{_tex(t.title)}. {_tex(t.caption)}}}",
              f"\\label{{tab:{t.key}}}", "\\end{table}"]
    lines += [f"% {n}" for n in t.notes]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- HTML
def html_fragment(t: Table, *, notes: bool = True) -> str:
    """The ``<table>`` element (and its notes) alone, for embedding in a page.

    Leaderboards are ``sortable`` (a click on a header sorts each section, see
    :mod:`reidbench.report.pages`); a row with provenance (:attr:`Table.row_titles`) shows it on
    hover (its ``title``).
    """
    e = html.escape
    cls = "reidbench sortable" if t.key.startswith("leaderboard-") else "reidbench"
    out = [f'<table class="{cls}" id="{e(t.key)}">',
           f"<caption><strong>{e(t.title)}</strong><br>{e(t.caption)}</caption>", "<thead>"]
    if any(c.group for c in t.metric_columns):
        out.append("<tr>")
        j = 0
        while j < len(t.columns):
            g = t.columns[j].group
            k = j
            while k + 1 < len(t.columns) and g and t.columns[k + 1].group == g:
                k += 1
            out.append(f'<th colspan="{k - j + 1}">{e(g)}</th>' if g else "<th></th>")
            j = k + 1
        out.append("</tr>")
    out.append("<tr>" + "".join(f"<th>{e(c.header)}</th>" for c in t.columns) + "</tr>")
    out.append("</thead>")
    for name, rows in _sections(t):
        cls = "ranked" if name == RANKED else "not-comparable"
        out.append(f'<tbody class="{cls}">')
        if _SECTION_TITLES[name]:
            out.append(f'<tr class="section"><th colspan="{len(t.columns)}">'
                       f"{e(_SECTION_TITLES[name])}</th></tr>")
        for i in rows:
            cells = []
            for c in t.columns:
                text = e(t.cell(i, c.key))
                mark = _mark(t, i, c)
                if text and mark == "best":
                    text = f'<b class="best">{text}</b>'
                elif text and mark == "second":
                    text = f'<u class="second">{text}</u>'
                align = ' class="num"' if c.metric else ""
                cells.append(f"<td{align}>{text}</td>")
            row_title = t.row_titles[i] if i < len(t.row_titles) else ""
            tr = f'<tr title="{e(row_title)}">' if row_title else "<tr>"
            out.append(tr + "".join(cells) + "</tr>")
        out.append("</tbody>")
    out.append("</table>")
    if notes and t.notes:
        out.append(notes_html(t.notes))
    return "\n".join(out) + "\n"


def notes_html(notes: Iterable[str]) -> str:
    """Footnotes as one ``<ul class="notes">`` (each note once, in first-seen order)."""
    unique = list(dict.fromkeys(notes))
    return '<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in unique) + "</ul>"


#: Marks around the table in a standalone page, so the report index can embed it.
FRAGMENT_START, FRAGMENT_END = "<!-- reidbench:table -->", "<!-- /reidbench:table -->"


def to_html(t: Table, root: str = "..") -> str:
    """A standalone page: title, link back to the report index, the table and its notes once.

    Args:
        t: The table.
        root: Relative path from the page to the report's root (its ``index.html`` and
            stylesheet; ``""`` for a page that is its own site).
    """
    body = f"{FRAGMENT_START}\n{html_fragment(t)}{FRAGMENT_END}\n"
    return page(t.title, body, root=root, index=not root,
                sortable=t.key.startswith("leaderboard-"))


# ----------------------------------------------------------------------------- CSV
def to_csv(t: Table) -> str:
    """Plain printed text, one row per table row, with ``section`` and ``marks`` columns."""
    multi = _multi_group(t)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section"] + [_header(c, multi) for c in t.columns] + ["marks"])
    for i, section in enumerate(t.sections):
        marks = [f"{_header(c, multi)}:{_mark(t, i, c)}" for c in t.metric_columns
                 if _mark(t, i, c)]
        w.writerow([section] + [t.cell(i, c.key) for c in t.columns] + ["; ".join(marks)])
    return buf.getvalue()


_RENDER = {"md": to_markdown, "latex": to_latex, "html": to_html, "csv": to_csv}


def _render(t: Table, fmt: str, out_dir: str | Path) -> str:
    if fmt == "html":  # a page links the report's index and stylesheet from where it lies
        return _RENDER["html"](t, site_root_of(out_dir, 1)[1])
    return _RENDER[fmt](t)


def render_table(t: Table, out_dir: str | Path, formats: Iterable[str] = FORMATS
                 ) -> list[tuple[Path, str]]:
    """``(<out_dir>/<t.key>.<suffix>, text)`` for each format, nothing written.

    An HTML page links the report index and stylesheet one folder up when ``out_dir`` is a
    report's ``tables/``, ``leaderboards/`` or ``ablations/`` (else it is its own site).
    """
    return [(Path(out_dir) / f"{t.key}{_SUFFIX[fmt]}", _render(t, fmt, out_dir))
            for fmt in parse_formats(list(formats))]


def write_table(t: Table, out_dir: str | Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write ``<out_dir>/<t.key>.<suffix>`` for each format, atomically; return the paths."""
    paths = []
    for fmt in parse_formats(list(formats)):
        text = _render(t, fmt, out_dir)
        path = Path(out_dir) / f"{t.key}{_SUFFIX[fmt]}"
        atomic_write(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
        paths.append(path)
    return paths
