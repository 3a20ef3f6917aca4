"""The committed reports/ equal what the commands produce from the committed records.

Text outputs (tables, leaderboards, ablation tables, the tidy data behind every figure, the HTML
index) must be byte-identical; figures must exist with the same names (their pixels depend on the
platform's fonts, the data they are drawn from is compared through ``*.data.csv``).
"""

from __future__ import annotations

from pathlib import Path

from reidbench.cli import main

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
FIX = ("run: reidbench leaderboard build --out reports && reidbench report ablations --out "
       "reports/ablations && reidbench report html --out reports")


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.name != "README.md"}


def test_committed_reports_match_the_records(tmp_path):
    out = tmp_path / "reports"
    lb = str(ROOT / "leaderboards")
    assert main(["leaderboard", "build", "--out", str(out), "--leaderboards", lb]) == 0
    assert main(["report", "ablations", "--out", str(out / "ablations"),
                 "--leaderboards", lb]) == 0
    assert main(["report", "html", "--out", str(out)]) == 0
    made, committed = _files(out), _files(REPORTS)
    assert made == committed, f"files differ: {sorted(made ^ committed)}; {FIX}"
    stale = [name for name in sorted(made) if not name.endswith(".png")
             and (out / name).read_bytes() != (REPORTS / name).read_bytes()]
    assert not stale, f"stale committed reports: {stale}; {FIX}"
    assert any(name.endswith(".png") for name in made)
