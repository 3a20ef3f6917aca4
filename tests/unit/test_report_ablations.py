"""Ablation figures and tables: plotted arrays equal the records, labels, best/second marks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reidbench.errors import InputError
from reidbench.leaderboard import load_leaderboards
from reidbench.report.ablations import (
    ablation_table,
    curve,
    heatmap,
    placement_grid,
    published_ablation,
)
from reidbench.report.tables import to_markdown

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files():
    return load_leaderboards(ROOT / "leaderboards")


def _gids(ax, kind):
    return [a for a in ax.patches if a.get_gid() == kind]


def test_stmn_memory_heatmap(files):
    df = published_ablation(files, "stmn-table1")
    fig = heatmap(df, "M", "N", "mAP")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "N" and ax.get_ylabel() == "M"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["5", "10", "20"]
    grid = np.asarray(ax.images[0].get_array())
    assert grid.shape == (3, 3)
    assert grid[1, 0] == 90.5 and grid[2, 1] == 90.5 and grid[0, 2] == 89.4  # STMN Table 1
    best = sorted(p.get_xy() for p in _gids(ax, "best"))
    assert best == [(-0.5, 0.5), (0.5, 1.5)]  # (M=10, N=5) and (M=20, N=10) tie at 90.5
    assert [p.get_xy() for p in _gids(ax, "second")] == [(-0.5, 1.5)]  # (M=20, N=5) 90.3
    texts = {t.get_text(): t for t in ax.texts}
    assert texts["90.5\n± 0.46"].get_fontweight() == "bold"
    assert texts["89.9\n± 1.17"].get_fontweight() == "normal"
    # a colour bar says what the colours mean; a legend says what the frames mean
    (cbar,) = [a for a in fig.axes if a is not ax]
    assert cbar.get_ylabel() == "mAP (%)"
    assert cbar.get_ylim() == pytest.approx((89.4, 90.5))
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["best", "second best"]


def test_margin_curve_error_bars(files):
    df = published_ablation(files, "stmn-table2")
    fig = curve(df, "alpha", ["rank1", "mAP"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "alpha"
    lines = {c.get_label(): c for c in ax.containers}
    x, y = lines["mAP"].lines[0].get_data()
    assert list(x) == [0.1, 0.3, 0.5, 0.7, 1.0]
    assert list(y) == [90.0, 90.5, 90.2, 89.4, 89.1]
    # error bar segments span mean +- std
    seg = lines["mAP"].lines[2][0].get_segments()
    assert [s[1][1] - s[0][1] for s in seg] == pytest.approx([2 * v for v in
                                                              [0.66, 0.46, 0.64, 1.15, 0.98]])
    marks = {ln.get_gid(): ln.get_xdata()[0] for ln in ax.lines if ln.get_gid()}
    assert marks["best:mAP"] == 0.3 and marks["second:mAP"] == 0.5
    assert marks["best:rank1"] == 0.3 and marks["second:rank1"] == 0.5
    lo, hi = ax.get_ylim()
    assert hi - lo >= 10  # 88.1..96.0 with error bars: not stretched over the plot
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["R1", "mAP", "best",
                                                                   "second best"]


def test_cosam_placement_grid(files):
    df = published_ablation(files, "cosam-table4")
    fig = placement_grid(df, "mAP")
    titles = [ax.get_title() for ax in fig.axes if ax.images]  # the others are colour bars
    assert titles == ["MARS", "DukeV"]
    mars = np.asarray(fig.axes[0].images[0].get_array())
    assert mars.shape == (9, 2)
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rows[0] == "none" and rows[-1] == "3,4,5"
    assert mars[rows.index("4,5"), 1] == 79.9 and mars[rows.index("none"), 0] == 75.8
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["ResNet50", "SE-ResNet50"]
    (best,) = _gids(fig.axes[0], "best")
    assert best.get_xy() == (0.5, rows.index("3,4,5") - 0.5)  # 80.5


def test_table_from_a_sweep_frame():
    # the same renderer takes a sweep's tidy frame: axes + metric, mean, std
    rows = [{"M": m, "N": n, "metric": "mAP", "mean": 50.0 + m + n / 10, "std": 0.5}
            for m in (5, 10) for n in (5, 10)]
    df = pd.DataFrame(rows)
    t = ablation_table(df, ["M", "N"], ["mAP"], key="sweep", title="Sweep")
    assert list(t.text[":mAP"]) == ["55.5 ± 0.50", "56.0 ± 0.50", "60.5 ± 0.50", "61.0 ± 0.50"]
    assert list(t.marks[":mAP"]) == ["", "", "second", "best"]
    assert "**61.0 ± 0.50**" in to_markdown(t)
    fig = heatmap(df, "M", "N", "mAP")
    assert np.asarray(fig.axes[0].images[0].get_array())[1, 1] == 61.0


def test_bad_frames():
    with pytest.raises(InputError, match="missing"):
        heatmap(pd.DataFrame({"M": [1], "metric": ["mAP"], "mean": [1.0]}), "M", "N", "mAP")
    df = pd.DataFrame({"M": [1], "N": [1], "metric": ["mAP"], "mean": [1.0], "std": [math.nan]})
    with pytest.raises(InputError, match="rank1"):
        heatmap(df, "M", "N", "rank1")


def test_sweep_record_becomes_a_tidy_frame_and_figure(tmp_path):
    import json

    from reidbench.cli import main
    from reidbench.report.ablations import sweep_ablation, sweep_figures

    rows = [{"axes": {"M": m, "N": n}, "trial": t, "seed": t,
             "metrics": {"mAP": 0.1 * m + 0.01 * n + 0.001 * t, "rank1": 0.5}}
            for m in (5, 10) for n in (5, 10) for t in range(2)]
    sweep = {"schema": "reidbench.sweep/1", "baseline": "stmn", "dataset": "mars",
             "protocol": "mars/v2v@1", "grid": {"M": [5, 10], "N": [5, 10]}, "trials": 2,
             "rows": rows}
    df = sweep_ablation(sweep)
    cell = df[(df.M == 10) & (df.N == 5) & (df.metric == "mAP")].iloc[0]
    assert cell["mean"] == pytest.approx(100 * (1.0 + 0.05 + 0.0005))
    assert cell["std"] == pytest.approx(100 * 0.001 / 2 ** 0.5)
    fig, table = sweep_figures(sweep)
    assert fig.axes and table is not None
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(sweep))
    assert main(["report", "ablations", "--sweep", str(path), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "sweep-stmn.png").is_file()
    # the tidy data behind the figure, like the published ablations' *.data.csv
    data = pd.read_csv(tmp_path / "o" / "sweep-stmn.data.csv")
    assert list(data.columns) == ["M", "N", "dataset", "metric", "mean", "std"]
    row = data[(data.M == 10) & (data.N == 5) & (data.metric == "mAP")].iloc[0]
    assert row["mean"] == pytest.approx(cell["mean"]) and row["std"] == pytest.approx(cell["std"])
    assert len(data) == 8 and set(data["dataset"]) == {"mars"}
    # a sweep folder works as well as its sweep.json
    assert main(["report", "ablations", "--sweep", str(tmp_path), "--out",
                 str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "sweep-stmn.data.csv").is_file()


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    ("{not json", "expected valid JSON"),
    ('{"schema": "reidbench.leaderboard/1"}', "field schema"),
    ('{"schema": "reidbench.sweep/1", "baseline": "stmn", "grid": {}, "rows": []}', "field grid"),
])
def test_report_ablations_bad_sweep_is_one_line(tmp_path, capsys, content, expected):
    from reidbench.cli import main

    path = tmp_path / "nope.json"
    if content is not None:
        path.write_text(content)
    assert main(["report", "ablations", "--sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and str(path) in lines[0], err
    assert not (tmp_path / "o").exists()
