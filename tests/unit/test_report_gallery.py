"""Retrieval galleries: border colours by correctness, junk handling, order, files written."""

from __future__ import annotations

import matplotlib.colors as mcolors
import pytest
from test_report_fixtures import EXPECTED_Q0, make_dataset, write_result

from reidbench.errors import InputError
from reidbench.records import read_result
from reidbench.report.gallery import (
    STATUS_COLOURS,
    ap_percent,
    query_strips,
    strip_figure,
    write_gallery,
)


@pytest.fixture()
def result(tmp_path):
    return read_result(write_result(tmp_path / "res"))


def test_statuses_and_junk_free_ranks(result):
    strips = query_strips(result, queries=5, topk=10)
    assert [s.id for s in strips] == ["q0", "q1"]  # q2 is not counted
    q0 = strips[0]
    assert [it.status for it in q0.items] == EXPECTED_Q0
    assert [it.rank for it in q0.items] == [None, 1, 2, None, 3, 4]
    assert [it.id for it in q0.items] == ["g0", "g2", "g1", "g3", "g4", "g5"]
    assert q0.items[2].distance == pytest.approx(0.3)
    assert strips[1].items[0].status == "correct" and strips[1].items[0].rank == 1


def test_skip_junk_and_topk(result):
    q0 = query_strips(result, queries=1, topk=3, junk="skip")[0]
    assert [it.id for it in q0.items] == ["g2", "g1", "g4"]
    assert [it.rank for it in q0.items] == [1, 2, 3]


def test_worst_first(result):
    assert [s.id for s in query_strips(result, worst_first=True)] == ["q0", "q1"]  # AP .5 < 1
    assert [s.id for s in query_strips(result, queries=1)] == ["q0"]


def test_bad_options(result):
    with pytest.raises(InputError, match="^junk in"):
        query_strips(result, junk="hide")
    with pytest.raises(InputError, match="^queries in"):
        query_strips(result, queries=0)


def test_figure_borders_and_images(result, tmp_path):
    ds = make_dataset(tmp_path / "data")
    strip = query_strips(result, queries=1, topk=10)[0]
    fig = strip_figure(strip, ds, frames=2)
    axes = fig.axes
    assert len(axes) == 1 + 6
    assert sum(len(ax.images) for ax in axes) == 7
    assert [ax.get_gid() for ax in axes] == ["query"] + EXPECTED_Q0
    for ax, status in zip(axes[1:], EXPECTED_Q0, strict=True):
        for spine in ax.spines.values():
            assert mcolors.same_color(spine.get_edgecolor(), STATUS_COLOURS[status])
    # each panel is a strip of 2 frames of 64 x 32 side by side, from the tracklet's own frames
    img = axes[2].images[0].get_array()
    assert img.shape == (64, 64, 3)
    assert "#1 d=0.200" in axes[2].get_title() and "g2" in axes[2].get_title()
    assert axes[1].get_title().startswith("junk")


def test_write_gallery_files(result, tmp_path, monkeypatch):
    ds = make_dataset(tmp_path / "data")
    import reidbench.datasets as datasets

    monkeypatch.setattr(datasets, "load", lambda name, root: ds)
    paths = write_gallery(tmp_path / "res", tmp_path / "data", tmp_path / "out", queries=2,
                          topk=4)
    pngs = [p for p in paths if p.suffix == ".png"]
    assert len(pngs) == 2 and all(p.stat().st_size > 0 for p in pngs)
    rows = (tmp_path / "out" / "gallery.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 4
    assert rows[1].split(",")[-1] == "junk" and rows[3].split(",")[-1] == "correct"
    assert "q000_q0.png" in (tmp_path / "out" / "index.html").read_text()


@pytest.mark.parametrize("ap, label", [(0.0098, "0.98%"), (0.5, "50.0%"), (1.0, "100.0%"),
                                       (0.0, "0.0%"), (0.05, "5.0%"), (2e-6, "2.0e-04%")])
def test_ap_label_is_a_percent_that_does_not_round_up(ap, label):
    assert ap_percent(ap) == label


def test_strip_title_shows_the_ap_in_percent(result, tmp_path):
    from dataclasses import replace

    ds = make_dataset(tmp_path / "data")
    strip = replace(query_strips(result, queries=1, topk=2)[0], ap=0.0098)
    title = strip_figure(strip, ds, frames=1).axes[0].get_title()
    assert title.endswith("AP 0.98%"), title
