"""`reidbench report html`: the report is a small styled site, checked in headless Chromium.

Needs Debian's `chromium` (/usr/bin/chromium; .ci/run installs it). A script appended to a copy of
each page waits for the load event, then records what a reader would see (tables, rows, decoded
images, the stylesheet applied, the link back to the index, provenance titles, whether anything
runs off the page, what a click on a header does to the row order); `--dump-dom` prints it.
Screenshots of the index and a gallery page are taken and must be full-width images.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reidbench.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                                "(/usr/bin/chromium, Debian package 'chromium'; .ci/run "
                                "installs it)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--allow-file-access-from-files", "--hide-scrollbars", "--window-size=1280,900"]

PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var sortable = document.getElementById('leaderboard-mars-v2v-1');
  var order = null, sorted = null;
  if (sortable) {
    var col = Array.from(sortable.tHead.rows[sortable.tHead.rows.length - 1].cells)
      .findIndex(function (th) { return th.textContent.trim() === 'mAP'; });
    var firstBody = sortable.tBodies[0];
    var read = function () { return Array.from(firstBody.rows).filter(function (r) {
      return !r.classList.contains('section'); }).map(function (r) {
      return r.cells[col].textContent.trim(); }); };
    order = read();
    sortable.tHead.rows[sortable.tHead.rows.length - 1].cells[col].click();
    sorted = read();
  }
  var back = document.querySelector('nav.top a');
  var out = {tables: document.querySelectorAll('table').length,
             rows: document.querySelectorAll('table tbody tr').length,
             images: imgs.length,
             loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
             best: document.querySelectorAll('b.best').length,
             notComparable: document.querySelectorAll('tbody.not-comparable tr').length,
             h1: (document.querySelector('h1') || {}).textContent || '',
             title: document.title,
             styled: getComputedStyle(document.body).maxWidth,
             back: back ? back.href : null,
             withTitle: document.querySelectorAll('tbody tr[title]').length,
             sectionRows: document.querySelectorAll('tbody tr.section').length,
             overflow: document.documentElement.scrollWidth - window.innerWidth,
             widestImage: Math.max.apply(null, [0].concat(imgs.map(function (i) {
               return i.getBoundingClientRect().width; }))),
             order: order, sorted: sorted};
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _probe(page: Path) -> dict:
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    proc = subprocess.run([CHROMIUM, *FLAGS, "--virtual-time-budget=15000", "--dump-dom",
                           probe.as_uri()], capture_output=True, text=True, timeout=120)
    probe.unlink()
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout)
    assert m, f"no probe output; chromium said: {proc.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def _screenshot(page: Path, png: Path) -> tuple[int, int]:
    from PIL import Image

    subprocess.run([CHROMIUM, *FLAGS, f"--screenshot={png}", page.as_uri()],
                   capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"no screenshot of {page}"
    with Image.open(png) as im:
        assert im.getextrema() != ((255, 255), (255, 255), (255, 255))  # not a blank page
        return im.size


@pytest.fixture(scope="module")
def site(tmp_path_factory, synth_copy, features_for):
    from reidbench.engine import FeaturesSource, evaluate
    from reidbench.report._mpl import new_figure, save_figure
    from reidbench.report.gallery import write_gallery

    tmp = tmp_path_factory.mktemp("site")
    out = tmp / "reports"
    assert main(["leaderboard", "build", "--out", str(out), "--format", "html"]) == 0
    assert main(["report", "ablations", "--out", str(out / "ablations")]) == 0
    root = synth_copy("mars", ids=10)
    features_for(tmp / "f.npz", "mars/v2v@1", root)
    evaluate("mars/v2v@1", root, FeaturesSource(str(tmp / "f.npz")), bootstrap=0).write(
        tmp / "res")
    write_gallery(tmp / "res", root, out / "galleries" / "mine", queries=2, topk=12, frames=4)
    for name in ("figures/cmc.svg", "mine/ap.png", "mine/cmc.pdf"):  # where report cmc -o wrote
        fig = new_figure(3, 2)
        fig.add_subplot().plot([1, 2], [1, 2])
        save_figure(fig, out / name)
    assert main(["report", "html", "--out", str(out)]) == 0
    return out


def test_index_embeds_tables_and_every_figure(site, capsys):
    page = (site / "index.html").read_text(encoding="utf-8")
    n_fig = len([p for p in (site / "ablations").glob("*.png")]) + 2  # + cmc.svg and ap.png
    assert page.count("<img ") == n_fig
    assert 'href="mine/cmc.pdf"' in page and "Not embedded: mine/cmc.pdf" in page
    assert 'href="reidbench.css"' in page and (site / "reidbench.css").is_file()
    # footnotes once per section, not once per table
    assert page.count("Bold = best, underlined = second best among the ranked rows") == 1
    got = _probe(site / "index.html")
    n_tables = sum(len(list((site / d).glob("*.html"))) for d in
                   ("tables", "leaderboards", "ablations"))
    assert got["tables"] == n_tables
    assert got["images"] == n_fig and got["loaded"] == n_fig
    assert got["rows"] > 100 and got["best"] > 0 and got["notComparable"] >= 2
    assert got["styled"] == "1440px"  # the stylesheet applied (90em)
    assert got["back"] is None and got["h1"] == "reidbench report"
    assert got["withTitle"] > 50  # provenance on hover
    assert got["overflow"] <= 0
    # a click on mAP sorts the ranked rows (blanks last), leaving the other section alone
    values = [float(v.split()[0]) for v in got["sorted"] if v]
    assert values == sorted(values) and got["sorted"] != got["order"]
    w, h = _screenshot(site / "index.html", site.parent / "index.png")
    assert (w, h) == (1280, 900)


def test_standalone_pages_have_a_title_heading_and_a_way_back(site):
    board = site / "leaderboards" / "leaderboard-mars-v2v-1.html"
    got = _probe(board)
    assert got["title"] == got["h1"] == "MARS (V2V): reference protocol mars/v2v@1"
    assert got["back"] == (site / "index.html").as_uri()
    assert got["styled"] == "1440px" and got["withTitle"] == got["rows"] - got["sectionRows"]
    assert "<td>DenseIL †</td>" in board.read_text() and "<td>Ours" not in board.read_text()
    paper = (site / "tables" / "denseil-table2.html").read_text(encoding="utf-8")
    assert paper.count('<ul class="notes">') == 1 and '<a href="../index.html">' in paper


def test_gallery_page_names_model_and_split_and_fits_the_page(site):
    page = site / "galleries" / "mine" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert "<title>Retrieval gallery: features on mars/v2v@1, official</title>" in text
    got = _probe(page)
    assert got["back"] == (site / "index.html").as_uri()
    assert got["loaded"] == got["images"] == 2
    assert got["overflow"] <= 0 and got["widestImage"] <= 1280
    assert _screenshot(page, site.parent / "gallery.png") == (1280, 900)
