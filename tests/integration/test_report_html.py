"""`reidbench report html`: the static report renders in headless Chromium, tables and images load.

Needs Debian's `chromium` (/usr/bin/chromium; .ci/run installs it). A script appended to a copy of
the page waits for the load event, then records how many tables, table rows and images the page
has and how many images decoded (naturalWidth > 0); `--dump-dom` prints it.
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

PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var out = {tables: document.querySelectorAll('table').length,
             rows: document.querySelectorAll('table tbody tr').length,
             images: imgs.length,
             loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
             best: document.querySelectorAll('b.best').length,
             notComparable: document.querySelectorAll('tbody.not-comparable tr').length};
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def test_html_report_renders(tmp_path):
    out = tmp_path / "reports"
    lb = str(ROOT / "leaderboards")
    assert main(["leaderboard", "build", "--out", str(out), "--leaderboards", lb,
                 "--format", "html"]) == 0
    assert main(["report", "ablations", "--out", str(out / "ablations"),
                 "--leaderboards", lb]) == 0
    assert main(["report", "html", "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    n_png = len(list((out / "ablations").glob("*.png")))
    assert page.count("<img ") == n_png > 0
    probe = out / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom",
         probe.as_uri()], capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout)
    assert m, f"no probe output; chromium said: {proc.stderr[-2000:]}"
    got = json.loads(m.group(1).replace("&quot;", '"'))
    n_tables = len(list((out / "tables").glob("*.html"))) + \
        len(list((out / "leaderboards").glob("*.html"))) + \
        len(list((out / "ablations").glob("*.html")))
    assert got["tables"] == n_tables
    assert got["images"] == n_png and got["loaded"] == n_png
    assert got["rows"] > 100 and got["best"] > 0 and got["notComparable"] >= 2
