"""Contract between the synthetic generator and the dataset parsers, for every official layout:
synth -> load -> the parser reports exactly the tracklets (ids, pids, cameras, subsets, frames in
order) and splits the generator wrote (its ground truth is the copy's `_reidbench_synth.json`)."""

from pathlib import Path

import pytest

from reidbench import datasets
from reidbench.datasets.synthetic import LAYOUTS, SynthConfig, write_dataset

TINY = SynthConfig(height=32, width=16, min_len=3, max_len=9, median_len=5.0)


@pytest.fixture(scope="module", params=LAYOUTS)
def copy(request, tmp_path_factory):
    layout = request.param
    s = write_dataset(layout, tmp_path_factory.mktemp(layout) / layout, ids=8, seed=11,
                      config=TINY)
    return layout, Path(s.root), s.manifest


def _rel(frame: str, root: Path) -> str:
    p = Path(frame)
    return (p.relative_to(root) if p.is_absolute() else p).as_posix()


def test_tracklets_round_trip_exactly(copy):
    layout, root, truth = copy
    ds = datasets.load(layout, root)
    assert ds.name == layout
    got = {t.id: t for t in ds.tracklets}
    want = {t["id"]: t for t in truth["tracklets"]}
    assert len(got) == len(ds.tracklets)  # ids unique
    assert sorted(got) == sorted(want)
    for tid, w in want.items():
        t = got[tid]
        assert (t.pid, t.camid, t.subset) == (w["pid"], w["camid"], w["subset"]), tid
        assert [_rel(f, root) for f in t.frames] == w["frames"], tid  # frame-number order
        assert ds.tracklet(tid) == t


def test_splits_round_trip_exactly(copy):
    layout, root, truth = copy
    ds = datasets.load(layout, root)
    assert [s.name for s in ds.splits] == [s["name"] for s in truth["splits"]]
    for want in truth["splits"]:
        got = ds.split(want["name"])
        for part in ("train", "query", "gallery"):
            assert sorted(getattr(got, part)) == sorted(want[part]), (want["name"], part)
            assert len(getattr(got, part)) == len(want[part]), (want["name"], part)
    if layout == "mars":  # query_IDX rows are ascending: the query order is the table's order
        assert list(ds.split("official").query) == truth["splits"][0]["query"]


def test_verify_accepts_a_synthetic_copy(copy):
    layout, root, _ = copy
    from reidbench.cli import main

    assert main(["data", "verify", "--dataset", layout, "--data", str(root)]) == 0
