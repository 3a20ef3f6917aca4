"""Leaderboards: per dataset/protocol, sorted, comparability sections, evaluated rows, marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report_fixtures import write_result

from reidbench.errors import InputError
from reidbench.leaderboard import load_leaderboards
from reidbench.leaderboard.build import (
    NOT_COMPARABLE,
    RANKED,
    evaluated_entry,
    leaderboard_tables,
    paper_table,
    published_entries,
)
from reidbench.records import read_result

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files():
    return load_leaderboards(ROOT / "leaderboards")


def _rows(t):
    return [(t.text.iloc[i]["method"], t.sections[i], t.text.iloc[i]["comparable"])
            for i in range(len(t.sections))]


def _by_key(tables):
    return {t.key: t for t in tables}


def test_one_leaderboard_per_dataset_protocol(files):
    tables = _by_key(leaderboard_tables(published_entries(files)))
    assert set(tables) == {"leaderboard-mars-v2v-1", "leaderboard-dukev-v2v-1",
                           "leaderboard-ilidsvid-v2v-1", "leaderboard-cross-mars-dukev-1",
                           "leaderboard-cross-dukev-mars-1"}
    assert [c.header for c in tables["leaderboard-ilidsvid-v2v-1"].metric_columns] == \
        ["R1", "R5", "R20"]
    assert [c.header for c in tables["leaderboard-mars-v2v-1"].metric_columns] == \
        ["mAP", "R1", "R5", "R20"]


def test_mars_not_comparable_rows_are_apart(files):
    t = _by_key(leaderboard_tables(published_entries(files)))["leaderboard-mars-v2v-1"]
    rows = _rows(t)
    apart = {m for m, s, _ in rows if s == NOT_COMPARABLE}
    # COSAM: MARS gallery without the queries + noninterp AP; AP3D: noninterp AP (mars/v2v@1
    # has the official gallery with the queries and trapezoidal AP)
    assert apart == {"COSAM ‡", "AP3D ‡"}
    reasons = {m: r for m, s, r in rows}
    assert "mars/v2v-torchreid@1" in reasons["COSAM ‡"]
    assert "AP noninterp" in reasons["AP3D ‡"]
    assert all(t.marks.iloc[i].eq("").all() for i, s in enumerate(t.sections)
               if s == NOT_COMPARABLE)
    # ranked rows: unverified (DenseIL Table 2 does not say which gallery / AP), sorted by mAP
    ranked = [i for i, s in enumerate(t.sections) if s == RANKED]
    maps = [t.values.iloc[i]["mAP"] for i in ranked]
    finite = [v for v in maps if v == v]
    assert finite == sorted(finite, reverse=True) and finite[0] == 87.0
    # the method's name, not the paper's printed "Ours" or its reference number
    assert t.text.iloc[ranked[0]]["method"] == "DenseIL †"
    assert t.text.iloc[ranked[0]]["source"] == "published: DenseIL T2"
    assert t.text.iloc[ranked[1]]["method"] == "MG-RAFA †"
    assert t.text.iloc[ranked[1]]["source"] == "published: DenseIL T2 ref. [41]"
    assert not any("[" in m or "ours" in m.lower() for m in t.text["method"])
    assert t.marks.iloc[ranked[0]]["mAP"] == "best" and t.marks.iloc[ranked[1]]["mAP"] == "second"
    assert t.text.iloc[ranked[1]]["mAP"] == "85.9"


def test_reference_protocol_changes_comparability(files):
    (t,) = leaderboard_tables(published_entries(files), ["mars/v2v-torchreid@1"])
    status = {m: r.split(":")[0] for m, _, r in _rows(t)}
    assert status["COSAM"] == "yes"
    assert status["AP3D ‡"] == "no"  # official gallery, not torchreid's


def test_sort_by_and_ties(files):
    t = _by_key(leaderboard_tables(published_entries(files), sort_by="rank5"))[
        "leaderboard-ilidsvid-v2v-1"]
    ranks = list(t.text["rank"])
    r5 = [v for v in t.values["rank5"] if v == v]
    assert r5 == sorted(r5, reverse=True)
    # DenseIL, MG-RAFA and GLTR all print 98.0 rank-5: one shared rank, the next row is 4th
    i = [k for k, v in enumerate(t.values["rank5"]) if v == 98.0]
    assert len(i) == 3 and {ranks[k] for k in i} == {"1"} and ranks[3] == "4"
    with pytest.raises(InputError, match="^sort_by in"):
        leaderboard_tables(published_entries(files), sort_by="R1")


def test_evaluated_rows(files, tmp_path):
    rec_ok = read_result(write_result(tmp_path / "a", map_value=0.9)).record
    rec_tr = read_result(write_result(tmp_path / "b", protocol="mars/v2v-torchreid@1",
                                      sha="cd" * 32)).record
    entries = published_entries(files) + [evaluated_entry(rec_ok, "sub-a"),
                                          evaluated_entry(rec_tr, "sub-b")]
    tables = _by_key(leaderboard_tables(entries))
    t = tables["leaderboard-mars-v2v-1"]
    top = t.text.iloc[0]
    assert top["method"] == "tiny" and top["source"] == "self-reported: sub-a"
    assert top["mAP"] == "90.00 [85.00, 95.00]" and top["comparable"] == "yes"
    assert t.marks.iloc[0]["mAP"] == "best"
    other = [i for i in range(len(t.sections))
             if t.text.iloc[i]["source"] == "self-reported: sub-b"]
    assert t.sections[other[0]] == NOT_COMPARABLE
    # the torchreid-style submission gets its own leaderboard, where it is comparable
    t2 = tables["leaderboard-mars-v2v-torchreid-1"]
    row = [i for i in range(len(t2.sections))
           if t2.text.iloc[i]["source"] == "self-reported: sub-b"]
    assert t2.sections[row[0]] == RANKED and t2.text.iloc[row[0]]["comparable"] == "yes"


def test_paper_table_marks_ties(files):
    t = paper_table(next(f for f in files if f.key == "stmn-table1"))
    labels = list(t.text["label"])
    marks = dict(zip(labels, t.marks["mars:mAP"], strict=True))
    # 90.5 at (M=10, N=5) and (M=20, N=10) tie: both best; 90.3 second (the paper bolds one)
    assert {k for k, v in marks.items() if v == "best"} == {"M=10, N=5", "M=20, N=10"}
    assert [k for k, v in marks.items() if v == "second"] == ["M=20, N=5"]
    r1 = dict(zip(labels, t.marks["mars:rank1"], strict=True))
    assert r1["M=10, N=5"] == "best" and r1["M=20, N=10"] == "second"
    assert t.cell(3, "mars:rank1") == "95.1 ± 0.66"


def test_paper_table_refuses_statistics(files):
    with pytest.raises(InputError, match="published_results"):
        paper_table(next(f for f in files if f.kind == "dataset_statistics"))


def test_statistics_table_is_rendered_as_printed(files):
    from reidbench.leaderboard.build import paper_tables, statistics_table

    (f,) = [f for f in files if f.key == "denseil-table1"]
    t = statistics_table(f)
    assert [c.header for c in t.columns] == ["Datasets", "MARS [43]", "DukeV [27, 36]",
                                             "iLIDS-VID [34]"]
    assert t.cell(2, "mars") == "1,067,516" and t.cell(5, "dukev") == "Hand"
    assert t.metric_columns == [] and t.marks.empty
    assert "denseil-table1" in [t.key for t in paper_tables(files)]
    with pytest.raises(InputError, match="dataset_statistics"):
        statistics_table(next(f for f in files if f.key == "denseil-table2"))
    with pytest.raises(InputError, match="published_results"):
        paper_table(f)


def test_every_row_carries_its_provenance(files):
    """Each row's hover text names where its numbers come from (the HTML row's title)."""
    t = paper_table(next(f for f in files if f.key == "denseil-table2"))
    assert len(t.row_titles) == len(t.sections)
    assert t.row_titles[0].startswith("CNN+XQDA, ref. [43]; state-of-the-art comparison")
    (board,) = [b for b in leaderboard_tables(published_entries(files))
                if b.key == "leaderboard-mars-v2v-1"]
    assert len(board.row_titles) == len(board.sections) and all(board.row_titles)
    assert "printed as 'Ours'" in board.row_titles[0]  # DenseIL's own row, shown by name
