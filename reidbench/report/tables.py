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

__all__ = ["FORMATS", "to_markdown", "to_latex", "to_html", "html_fragment", "to_csv",
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
        raise InputError(describe("--format", "leaderboard build", f"a comma list of {FORMATS}",
                                  repr(spec), "e.g. --format md,latex,html,csv"))
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
def html_fragment(t: Table) -> str:
    """The ``<table>`` element alone (for embedding in the HTML report)."""
    e = html.escape
    out = [f'<table class="reidbench" id="{e(t.key)}">',
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
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody>")
    out.append("</table>")
    out.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in t.notes) + "</ul>")
    return "\n".join(out) + "\n"


CSS = ("body{font-family:sans-serif;margin:2em;max-width:80em}"
       "table.reidbench{border-collapse:collapse;margin:1em 0}"
       "table.reidbench th,table.reidbench td{border-bottom:1px solid #ccc;padding:2px 8px}"
       "td.num{text-align:right}tr.section th{text-align:left;font-style:italic;"
       "background:#f3f3f3}tbody.not-comparable td{color:#777}caption{text-align:left}"
       "img{max-width:100%;border:1px solid #ddd}")


def to_html(t: Table) -> str:
    """A standalone HTML page holding the table."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(t.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"{html_fragment(t)}</body>\n</html>\n")


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


def render_table(t: Table, out_dir: str | Path, formats: Iterable[str] = FORMATS
                 ) -> list[tuple[Path, str]]:
    """``(<out_dir>/<t.key>.<suffix>, text)`` for each format, nothing written."""
    return [(Path(out_dir) / f"{t.key}{_SUFFIX[fmt]}", _RENDER[fmt](t))
            for fmt in parse_formats(list(formats))]


def write_table(t: Table, out_dir: str | Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write ``<out_dir>/<t.key>.<suffix>`` for each format, atomically; return the paths."""
    paths = []
    for fmt in parse_formats(list(formats)):
        text = _RENDER[fmt](t)
        path = Path(out_dir) / f"{t.key}{_SUFFIX[fmt]}"
        atomic_write(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
        paths.append(path)
    return paths
