"""Leaderboard io (atomic, validated writes; clear read errors), flat rows, and `reidbench validate`
dispatching on the file kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_report_fixtures import write_result

from reidbench.cli import main
from reidbench.errors import DataError
from reidbench.leaderboard import (
    cell_rows,
    detect_kind,
    leaderboard_files,
    load_leaderboards,
    read_json,
    read_leaderboard,
    result_rows,
    statistic_rows,
    validate_file,
    write_leaderboard,
)
from reidbench.leaderboard.io import SHIPPED_PUBLISHED

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = SHIPPED_PUBLISHED  # reidbench/leaderboard/published (package data)


@pytest.fixture()
def good() -> dict:
    return json.loads((PUBLISHED / "read-table-s1.json").read_text(encoding="utf-8"))


def test_read_json_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="nothing there"):
        read_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": ,}')
    with pytest.raises(DataError, match=r"bad.json: expected valid JSON, got .* line 1"):
        read_json(bad)


def test_write_round_trips_and_keeps_printed_precision(tmp_path, good):
    path = write_leaderboard(tmp_path / "lb" / "read.json", good)
    assert read_leaderboard(path) == good
    assert '"printed": "86.0"' in path.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.joinpath("lb").iterdir()] == ["read.json"]  # no temp left


def test_invalid_write_leaves_old_file_untouched(tmp_path, good):
    path = write_leaderboard(tmp_path / "read.json", good)
    before = path.read_bytes()
    good["records"][0]["metrics"]["mAP"]["value"] = 182.4
    with pytest.raises(DataError, match=r"read.json: expected a percent"):
        write_leaderboard(path, good)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["read.json"]


def test_leaderboard_files(tmp_path):
    with pytest.raises(DataError, match="JSON files"):
        leaderboard_files(tmp_path)
    assert leaderboard_files(PUBLISHED) == sorted(PUBLISHED.glob("*.json"))


def test_rows_carry_provenance_and_cells():
    files = load_leaderboards(ROOT / "leaderboards")
    rows = result_rows(files)
    cosam5 = [r for r in rows if r["table_key"] == "cosam-table5" and r["method"] == "COSAM"]
    assert len(cosam5) == 1
    row = cosam5[0]
    assert (row["rank1"], row["rank1_printed"], row["rank20_printed"]) == (79.61, "79.61", "99.8")
    assert (row["paper"], row["venue"], row["year"], row["table"]) == ("cosam", "ICCV", 2019, "5")
    assert row["axis_cosam_stages"] == [4, 5] and row["protocol_mode"] == "v2v"
    cells = [c for c in cell_rows(files) if c["table_key"] == "stmn-table1"]
    assert len(cells) == 18  # 9 rows x (rank-1, mAP)
    best = [c for c in cells if c["mark"] == "best"]
    assert {(c["label"], c["metric"]) for c in best} == {("M=10, N=5", "rank1"),
                                                       ("M=20, N=10", "mAP")}
    stats = statistic_rows(files)
    assert {(s["dataset"], s["printed"]) for s in stats if s["field"] == "boxes"} == {
        ("mars", "1,067,516"), ("dukev", "815,420"), ("ilidsvid", "42,460")}


def test_detect_kind(tmp_path):
    assert detect_kind(PUBLISHED / "cosam-table1.json") == "leaderboard"
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text('{"schema": "reidbench.result/1"}')
    assert detect_kind(tmp_path / "r") == "result"
    assert detect_kind(tmp_path / "r" / "results.json") == "result"
    (tmp_path / "f.npz").write_bytes(b"")
    assert detect_kind(tmp_path / "f.npz") == "features"
    other = tmp_path / "o.json"
    other.write_text('{"schema": "something/1"}')
    with pytest.raises(DataError, match="field schema in .*o.json"):
        detect_kind(other)
    with pytest.raises(DataError, match="suffix"):
        detect_kind(_touch(tmp_path / "x.txt"))


def _touch(p: Path) -> Path:
    p.write_text("x")
    return p


def test_validate_result_record_fractions(tmp_path):
    d = write_result(tmp_path / "run")
    assert validate_file(d).ok
    rec = json.loads((d / "results.json").read_text())
    rec["metrics"]["rank1"]["value"] = 90.0  # percent where a fraction is declared
    (d / "results.json").write_text(json.dumps(rec))
    report = validate_file(d)
    assert report.kind == "result" and not report.ok
    assert "metrics.rank1.value" in report.problems[0] and "fraction in [0, 1]" in \
        report.problems[0]


def test_validate_features_file(tmp_path):
    good = tmp_path / "f.npz"
    np.savez(good, ids=np.array(["a", "b"]), features=np.ones((2, 3)))
    report = validate_file(good)
    assert report.ok and report.summary == "2 ids x 3 dims"
    bad = tmp_path / "g.npz"
    np.savez(bad, ids=np.array(["a", "b"]))
    report = validate_file(bad)
    assert not report.ok and "'features'" in report.problems[0]


def test_cli_validate_ok_and_failure(tmp_path, capsys, good):
    assert main(["validate", str(PUBLISHED / "stmn-table2.json")]) == 0
    assert "ok:" in capsys.readouterr().out
    del good["records"][1]["protocol"]
    good["records"][0]["ap_variant"] = "interp11"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(good))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "records[1].protocol" in err and "records[0].ap_variant" in err
    assert str(bad) in err and "2 problem(s)" in err
    assert main(["validate", str(bad), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "leaderboard" and out["ok"] is False and len(out["problems"]) == 2


def test_cli_validate_unknown_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.json")]) == 2
    assert "nothing there" in capsys.readouterr().err
