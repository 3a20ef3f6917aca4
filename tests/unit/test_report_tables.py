"""Best/second marks (ties), renderers (bold/underline per format), not-comparable sections."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reidbench.errors import InputError
from reidbench.leaderboard.build import NOT_COMPARABLE, RANKED, Column, Table, rank_marks
from reidbench.report.tables import (
    html_fragment,
    parse_formats,
    to_csv,
    to_latex,
    to_markdown,
    write_table,
)


def test_rank_marks_dense_ties():
    assert rank_marks([90.5, 90.3, 90.5, 89.0]) == ["best", "second", "best", ""]
    assert rank_marks([1.0, None, math.nan, 2.0]) == ["second", "", "", "best"]
    assert rank_marks([3.0, 3.0]) == ["best", "best"]  # no second when all tie
    assert rank_marks([]) == []
    assert rank_marks([1.0, 2.0, 3.0], higher_is_better=False) == ["best", "second", ""]


@pytest.fixture()
def table():
    cols = [Column("method", "Method"), Column("mars:mAP", "mAP", "MARS", "mAP"),
            Column("dukev:mAP", "mAP", "DukeV", "mAP")]
    text = pd.DataFrame({"method": ["A_1", "B & C", "D"], "mars:mAP": ["80.0", "79.61", "90.0"],
                         "dukev:mAP": ["1.0", "", "5.0"]})
    values = pd.DataFrame({"mars:mAP": [80.0, 79.61, 90.0], "dukev:mAP": [1.0, math.nan, 5.0]})
    marks = pd.DataFrame({"mars:mAP": ["best", "second", ""], "dukev:mAP": ["", "", ""]})
    return Table("t", "Title", "Caption 50%", cols, text, values, marks,
                 [RANKED, RANKED, NOT_COMPARABLE], ["note one"])


def test_markdown(table):
    md = to_markdown(table)
    assert "| Method | MARS mAP | DukeV mAP |" in md
    assert "| A_1 | **80.0** | 1.0 |" in md
    assert "| B & C | <u>79.61</u> |  |" in md
    head, tail = md.split("**Not comparable (not ranked)**")
    assert "| D | 90.0 | 5.0 |" in tail and "D |" not in head
    assert md.rstrip().endswith("- note one")


def test_latex(table):
    tex = to_latex(table)
    assert r"\multicolumn{1}{c}{MARS} & \multicolumn{1}{c}{DukeV}" in tex
    assert r"A\_1 & \textbf{80.0} & 1.0 \\" in tex
    assert r"B \& C & \underline{79.61} &  \\" in tex
    assert r"\emph{Not comparable (not ranked)}" in tex
    assert r"Caption 50\%" in tex and r"\toprule" in tex and r"\bottomrule" in tex


def test_html_and_csv(table):
    h = html_fragment(table)
    assert '<b class="best">80.0</b>' in h and '<u class="second">79.61</u>' in h
    assert "B &amp; C" in h
    assert '<tbody class="not-comparable">' in h and '<th colspan="1">MARS</th>' in h
    rows = to_csv(table).splitlines()
    assert rows[0] == "section,Method,MARS mAP,DukeV mAP,marks"
    assert rows[1] == "ranked,A_1,80.0,1.0,MARS mAP:best"
    assert rows[3] == "not comparable,D,90.0,5.0,"


def test_write_table_and_formats(table, tmp_path):
    paths = write_table(table, tmp_path, ["md", "csv"])
    assert [p.name for p in paths] == ["t.md", "t.csv"]
    assert parse_formats("md, latex") == ["md", "latex"]
    with pytest.raises(InputError, match="^formats in parse_formats"):
        parse_formats("md,pdf")
