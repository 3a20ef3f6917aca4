"""One result quoted by several papers is ranked once (records share a canonical method_key)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from reidbench.leaderboard import load_leaderboards
from reidbench.leaderboard.build import leaderboard_tables
from reidbench.leaderboard.entries import Entry, deduplicate, published_entries

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files():
    return load_leaderboards(ROOT / "leaderboards")


def _ilids(files):
    (t,) = [t for t in leaderboard_tables(published_entries(files))
            if t.key == "leaderboard-ilidsvid-v2v-1"]
    # labels without the provenance marker (the split of these rows is assumed: "†")
    return {t.text.iloc[i]["method"].removesuffix(" †"): t.text.iloc[i]
            for i in range(len(t.sections))}


def test_every_published_record_has_a_method_key(files):
    for f in files:
        if f.kind == "published_results":
            assert all(r.get("method_key") for r in f.records), f.path
            by_row = {}
            for r in f.records:  # the records of one printed row are one method
                assert by_row.setdefault(r["row"], r["method_key"]) == r["method_key"], r["id"]


def test_ilidsvid_lists_cosam_once_from_its_own_paper(files):
    rows = _ilids(files)
    cosam = [m for m in rows if "COSAM" in m]
    assert cosam == ["COSAM"]  # printed "SE-ResNet50 + COSAM_{4,5} + TP_avg (ours)"
    row = rows[cosam[0]]
    assert row["rank1"] == "79.61" and row["source"] == \
        "published: COSAM T5 (also quoted in DenseIL T2)"  # 79.6 there: the same, rounded


@pytest.mark.parametrize("kept, ref, dropped", [("JST-RNN", "[5]", "SeeForest"),
                                                ("Joint ST pooling", "[3]", "ASTPN")])
def test_ilidsvid_lists_a_quoted_result_once(files, kept, ref, dropped):
    # neither table is the method's own paper: the record with more cells (R20 too) is kept
    rows = _ilids(files)
    assert kept in rows and dropped not in rows
    assert rows[kept]["source"] == f"published: COSAM T5 ref. {ref} (also quoted in DenseIL T2)"


def test_reference_numbers_resolve_to_names(files):
    """"[3]" is Snippet in DenseIL's bibliography and Joint ST pooling in COSAM's: names shown."""
    rows = _ilids(files)
    assert rows["Snippet"]["source"] == "published: DenseIL T2 ref. [3]"
    assert rows["Joint ST pooling"]["source"].startswith("published: COSAM T5 ref. [3]")
    assert "RevisitTempPool + SE-ResNet50 + TP_avg" in rows  # printed "[1] + SE-ResNet50 ..."


def test_no_leaderboard_ranks_one_result_twice(files):
    """Every leaderboard: distinct keys, and no two rows that agree on two or more cells."""
    tracks: dict[tuple, list[Entry]] = {}
    for e in published_entries(files):
        tracks.setdefault((e.dataset, e.mode, e.train_dataset), []).append(e)
    for track, entries in tracks.items():
        kept = deduplicate(entries)
        keys = [e.method_key for e in kept]
        assert len(keys) == len(set(keys)), track
        for a, b in itertools.combinations(kept, 2):
            same = [m for m in set(a.cells) & set(b.cells)
                    if abs(a.cells[m][0] - b.cells[m][0]) <= 0.05 + 1e-9]
            assert len(same) < 2, (track, a.label, b.label, same)


def _entry(label, origin, key, cells, own=False):
    return Entry(label, "published", origin, "Res50", "mars", "v2v", None,
                 {m: (v, t) for m, (v, t) in cells.items()}, None, None, key, own)


def test_deduplicate_prefers_own_paper_then_more_cells_and_notes_disagreement():
    quoted = _entry("X [3]", "A T2", "doe2020-x", {"rank1": (80.1, "80.1"), "mAP": (70.0, "70.0")})
    own = _entry("Ours", "X T1", "doe2020-x", {"rank1": (79.61, "79.61")}, own=True)
    other = _entry("Y", "A T2", "roe2019-y", {"rank1": (50.0, "50.0")})
    kept = deduplicate([quoted, own, other])
    assert [e.label for e in kept] == ["Ours", "Y"]
    assert kept[0].also == ("A T2",) and kept[0].differs == ("R1 80.1 in A T2",)
    # no own paper: the one with more cells, ties by order
    a = _entry("X [3]", "A T2", "doe2020-x", {"rank1": (79.6, "79.6")})
    b = _entry("X [9]", "B T4", "doe2020-x", {"rank1": (79.6, "79.6"), "rank5": (90.0, "90.0")})
    (only,) = deduplicate([a, b])
    assert only.origin == "B T4" and only.also == ("A T2",) and only.differs == ()
    # entries without a key (evaluated submissions, older records) are left alone
    c = _entry("Z", "sub", None, {"rank1": (1.0, "1.0")})
    assert deduplicate([c, c]) == [c, c]
