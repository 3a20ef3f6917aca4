"""The HTML shell shared by every page of a report: one stylesheet, a heading, a way back.

A report folder (``reports/`` by default) is a small static site: ``index.html`` at its root,
table pages under ``tables/``, ``leaderboards/`` and ``ablations/``, galleries under
``galleries/<name>/``. Every page links the one stylesheet ``reidbench.css`` at the site root and,
unless it is the index, has a link back to ``index.html``. Leaderboard tables sort by any column
with a click (a few lines of inline script, no external files; sorting only reorders the rows
of one section, so not-comparable rows never mix with ranked ones).

The stylesheet is written by every command that writes pages (:func:`write_stylesheet`, same bytes
each time), so a page is styled whichever command ran last.
"""

from __future__ import annotations

import html
from pathlib import Path

from reidbench.fileio import atomic_write

__all__ = ["STYLESHEET", "CSS", "SORT_SCRIPT", "page", "write_stylesheet", "site_root_of"]

#: File name of the stylesheet at the site root.
STYLESHEET = "reidbench.css"

CSS = """\
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 0 1.5em 2em;
       max-width: 90em; color: #222; line-height: 1.4; }
nav.top { padding: .6em 0; border-bottom: 1px solid #ddd; margin-bottom: 1em; font-size: .9em; }
nav.top a { margin-right: 1em; }
h1 { font-size: 1.5em; margin: .4em 0; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #eee; }
a { color: #1f5fa8; }
table.reidbench { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
table.reidbench th, table.reidbench td { border-bottom: 1px solid #ccc; padding: 2px 8px; }
table.reidbench thead th { background: #f6f6f6; white-space: nowrap; }
table.sortable thead tr:last-child th { cursor: pointer; user-select: none; }
table.sortable thead tr:last-child th::after { content: " \\2195"; color: #aaa; }
table.reidbench tbody tr[title]:hover { background: #fff8dc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.section th { text-align: left; font-style: italic; background: #f3f3f3; }
tbody.not-comparable td { color: #777; }
caption { text-align: left; padding-bottom: .4em; }
ul.notes { font-size: .85em; color: #555; }
figure { margin: 1em 0; }
figure img, img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
.meta { font-size: .9em; color: #444; }
.skipped { font-size: .85em; color: #8a4b00; }
"""

#: Click a header of a ``table.sortable`` to sort each of its ``tbody`` sections by that column
#: (numbers numerically, blanks last; a second click reverses).
SORT_SCRIPT = """<script>
document.querySelectorAll('table.sortable').forEach(function (t) {
  var heads = t.tHead.rows[t.tHead.rows.length - 1].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.dataset.asc !== '1'; th.dataset.asc = asc ? '1' : '0';
      Array.prototype.forEach.call(t.tBodies, function (tb) {
        var rows = Array.prototype.filter.call(tb.rows, function (r) {
          return !r.classList.contains('section'); });
        function key(r) { var s = (r.cells[col] || {}).textContent || '';
          var n = parseFloat(s); return isNaN(n) ? s.trim() : n; }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          if (x === '' || y === '') return x === '' ? (y === '' ? 0 : 1) : -1;
          if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
        rows.forEach(function (r) { tb.appendChild(r); });
      });
    });
  });
});
</script>
"""


def site_root_of(out_dir: str | Path, depth: int) -> tuple[Path, str]:
    """``(site root, relative path to it)`` for pages written into ``out_dir``.

    Pages live ``depth`` folders below the root in a report: ``reports/ablations`` (depth 1),
    ``reports/galleries/<name>`` (depth 2). A folder elsewhere (``-o /tmp/gal``) is its own
    small site: ``(out_dir, "")``.
    """
    out = Path(out_dir)
    if depth == 1 and out.name in ("tables", "leaderboards", "ablations", "figures"):
        return out.parent, ".."
    if depth == 2 and out.parent.name == "galleries":
        return out.parent.parent, "../.."
    return out, ""


def page(title: str, body: str, *, root: str = "", index: bool = False,
         sortable: bool = False) -> str:
    """A complete HTML document: the stylesheet link, a navigation bar, the heading, ``body``.

    Args:
        title: Page title and ``<h1>`` heading (escaped here).
        body: HTML of the page content.
        root: Relative path from the page to the site root (``""``, ``".."``, ``"../.."``).
        index: True for the index page itself, or a page that is its own site (no link back).
        sortable: Append the column-sorting script.
    """
    prefix = f"{root}/" if root else ""
    e = html.escape
    nav = "" if index else (f'<nav class="top"><a href="{e(prefix)}index.html">&larr; report '
                            "index</a></nav>\n")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n"
            f'<link rel="stylesheet" href="{e(prefix)}{STYLESHEET}">\n</head>\n<body>\n'
            f"{nav}<h1>{e(title)}</h1>\n{body}"
            f"{SORT_SCRIPT if sortable else ''}</body>\n</html>\n")


def write_stylesheet(site_root: str | Path) -> Path:
    """Write ``<site_root>/reidbench.css`` (atomically; identical bytes on every call)."""
    path = Path(site_root) / STYLESHEET
    atomic_write(path, lambda tmp: tmp.write_text(CSS, encoding="utf-8"))
    return path
