"""Provenance shown as the records establish it: assumed splits are unverified, READ's I2V setting,
a leaderboard that cannot be built says why, the QAN citation slip is noted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reidbench.cli import main
from reidbench.leaderboard import check_leaderboard, load_leaderboards
from reidbench.leaderboard.build import leaderboard_tables
from reidbench.leaderboard.entries import published_entries
from reidbench.leaderboard.io import SHIPPED_PUBLISHED
from reidbench.protocols import get_protocol

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = SHIPPED_PUBLISHED  # reidbench/leaderboard/published (package data)


@pytest.fixture(scope="module")
def files():
    return load_leaderboards(ROOT / "leaderboards")


def test_ilidsvid_rows_with_an_assumed_split_are_unverified(files):
    (t,) = [t for t in leaderboard_tables(published_entries(files))
            if t.key == "leaderboard-ilidsvid-v2v-1"]
    comparable = list(t.text["comparable"])
    assert comparable and all(c.startswith("unverified: assumed the standard 10 splits")
                              for c in comparable), comparable
    assert all(m.endswith("†") for m in t.text["method"])
    assert all(r != "" for r in t.text["rank"])  # still ranked


def test_every_ilidsvid_record_says_its_split_is_assumed(files):
    for f in files:
        for r in f.records:
            if r.get("dataset") == "ilidsvid" and f.kind == "published_results":
                assert "not verified" in r["protocol"]["basis"]
                assert r["protocol"]["assumed"], r["id"]


def test_assumed_needs_a_suite_protocol():
    obj = json.loads((PUBLISHED / "cosam-table5.json").read_text())
    obj["records"][0]["protocol"]["suite_protocol"] = None
    problems = check_leaderboard(obj, "t.json")
    assert any("records[0].protocol.assumed" in p for p in problems)
    obj["records"][0]["protocol"]["assumed"] = ""
    assert any("records[0].protocol.assumed" in p for p in check_leaderboard(obj, "t.json"))


def test_read_table_s1_records_the_i2v_setting_and_stays_unranked(files):
    (f,) = [f for f in files if f.key == "read-table-s1"]
    for r in f.records:
        assert r["protocol"]["suite_protocol"] == "dukev/i2v@1"
        assert r["protocol"]["gallery"] == "dataset"
        assert "frame 0" in r["protocol"]["basis"] and "minostauros/READ" in r["protocol"]["basis"]
    entries = [e for e in published_entries(files) if e.dataset == "dukev" and e.mode == "i2v"]
    assert entries == []  # ablation rows
    from reidbench.leaderboard.entries import _published_check

    status, reason = _published_check(f.records[1])(get_protocol("dukev/i2v@1"))
    assert status == "no" and "AP sklearn_legacy" in reason  # the gallery matches, AP does not


def test_build_says_why_a_requested_leaderboard_is_missing(tmp_path, capsys):
    assert main(["leaderboard", "build", "--protocol", "dukev/i2v@1", "--out", str(tmp_path),
                 "--format", "md"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: no leaderboard for dukev/i2v@1: ")
    assert "read-table-s1" in err and "ablation rows" in err
    assert not (tmp_path / "leaderboards").exists()
    assert main(["leaderboard", "build", "--protocol", "prid2011/v2v@1", "--protocol",
                 "mars/v2v@1", "--out", str(tmp_path), "--format", "md"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [line for line in err if "prid2011/v2v@1" in line] and len(err) == 1
    assert "no published record on PRID-2011 V2V" in err[0]
    assert (tmp_path / "leaderboards" / "leaderboard-mars-v2v-1.md").is_file()


def test_default_build_warns_about_nothing(tmp_path, capsys):
    assert main(["leaderboard", "build", "--out", str(tmp_path), "--format", "csv"]) == 0
    assert capsys.readouterr().err == ""


def test_qan_record_notes_the_citation_slip(files):
    (f,) = [f for f in files if f.key == "denseil-table2"]
    (qan,) = [r for r in f.records if r["method"] == "QAN"]
    assert qan["cited"]["ref"] == "[18]"
    assert "MSCAN" in qan["notes"] and "[18]" in qan["notes"]
