"""The benchmark set-up: `make bench-big` runs every opt-in 10k x 100k benchmark; report hints."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _recipe(target: str) -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert match, f"no {target} target in the Makefile"
    return match.group(1).replace("\\\n", " ")


def test_bench_big_runs_every_opt_in_benchmark():
    recipe = _recipe("bench-big")
    assert "REIDBENCH_BENCH_BIG=1" in recipe and "--benchmark-only" in recipe
    selector = re.search(r"-k (\S+)", recipe).group(1)
    source = (ROOT / "benchmarks" / "test_bench_metrics.py").read_text()
    opt_in = re.findall(r"skipif\(not BIG_OPT_IN.*\)\ndef (\w+)", source)
    assert opt_in and all(selector in name for name in opt_in)
    assert "REIDBENCH_BENCH_BIG" not in _recipe("bench")  # make bench stays short
    assert "make bench-big" in (ROOT / "README.md").read_text()


def test_report_points_missing_big_rows_to_make_bench_big():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    stream = {"fullname": "x::test_big_stream",
              "extra_info": {"group": "big", "impl": "reidbench_stream", "seconds": 9.2,
                             "peak_rss_gib": 0.8, "map": 0.93, "threads": 2}}
    rows, _ = report.big_table({stream["fullname"]: stream})
    missing = [r for r in rows if "not run" in r]
    assert missing and all("make bench-big" in r for r in missing)
