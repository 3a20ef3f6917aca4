"""CMC curves, per-query AP histograms and accuracy-vs-cost scatter read back from the figure."""

from __future__ import annotations

import numpy as np
import pytest
from test_report_fixtures import CMC, write_result

from reidbench.cli import main
from reidbench.errors import InputError
from reidbench.records import read_result
from reidbench.report.curves import ap_histogram, cmc_curve, cost_points, cost_scatter


@pytest.fixture()
def two(tmp_path):
    a = read_result(write_result(tmp_path / "a"))
    b = read_result(write_result(tmp_path / "b", sha="cd" * 32, n_parameters=None, seconds=1.8,
                                 map_value=0.6, cmc=[0.2, 0.4, 0.6, 0.8, 1.0]))
    return [("A", a), ("B", b)]


def test_cmc_several_results(two):
    fig = cmc_curve(two, max_rank=4)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "rank" and ax.get_ylabel() == "matching rate (%)"
    (la, lb) = ax.lines
    assert list(la.get_xdata()) == [1, 2, 3, 4]
    assert list(la.get_ydata()) == pytest.approx([100 * v for v in CMC[:4]])
    assert list(lb.get_ydata()) == pytest.approx([20, 40, 60, 80])
    assert la.get_label() == "A (mars/v2v@1)"
    assert ax.get_title() == "CMC"


def test_ap_histogram_counts(two):
    fig = ap_histogram(two[:1], bins=4)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [0, 0, 1, 1]  # AP 50 and 100 (the uncounted query is left out)
    assert ax.get_ylabel() == "queries"


def test_cost_scatter(two):
    pts = cost_points(two, "parameters")
    assert pts == [{"label": "A", "mAP": 75.0, "cost": 2.5}]  # B records no parameter count
    t = cost_points(two, "time")
    assert [p["cost"] for p in t] == pytest.approx([0.9 / 9, 1.8 / 9])
    fig = cost_scatter(two, "time")
    offsets = fig.axes[0].collections[0].get_offsets()
    assert np.allclose(offsets, [[0.1, 75.0], [0.2, 60.0]])
    assert fig.axes[0].get_xlabel() == "seconds per tracklet"
    assert cost_points(two, "flops") == []  # neither records a FLOPs count
    left_out = []
    fig = cost_scatter(two, "parameters", skipped=left_out.append)
    assert len(fig.axes[0].collections[0].get_offsets()) == 1
    assert left_out == ["B: its record holds no parameters (not plotted)"]
    with pytest.raises(InputError, match="^cost in cost_scatter"):
        cost_points(two, "joules")


def test_cost_scatter_without_costs(tmp_path):
    r = read_result(write_result(tmp_path / "x", n_parameters=None))
    with pytest.raises(InputError, match="n_parameters"):
        cost_scatter([("x", r)], "parameters")


def test_mixed_protocols_are_flagged(tmp_path, two):
    c = read_result(write_result(tmp_path / "c", protocol="mars/v2v-torchreid@1"))
    assert "not comparable" in cmc_curve([two[0], ("C", c)]).axes[0].get_title()


def test_cli_figures(tmp_path, two, capsys):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for verb in ("cmc", "aphist", "cost"):
        out = tmp_path / f"{verb}.png"
        assert main(["report", verb, a, b, "--out", str(out)]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        err = capsys.readouterr().err
        # b records no parameter count: the cost figure says it left b out
        assert ("left out: b: its record holds no parameters" in err) == (verb == "cost"), err
