"""The shared index type and the layout registry."""

import pytest

from reidbench.datasets import LAYOUTS, VideoDataset, load
from reidbench.errors import DataError
from reidbench.types import DatasetSplit, Tracklet

T = (Tracklet("a", 1, 1, ("a/1.png",), "train"), Tracklet("b", 2, 2, ("b/1.png",), "test"))
S = (DatasetSplit("split0", ("a",), ("b",), ("b",)), DatasetSplit("split1", ("b",), ("a",), ("a",)))


def test_lookup_by_id_and_split():
    ds = VideoDataset("ilidsvid", "/x", T, S)
    assert ds.tracklet("b") is T[1] and len(ds) == 2
    assert ds.split("split1") is S[1] and ds.split(0) is S[0]
    with pytest.raises(DataError, match=r"'c'.*no such id"):
        ds.tracklet("c")
    with pytest.raises(DataError, match=r"split 'split3'.*split0"):
        ds.split("split3")
    with pytest.raises(DataError, match=r"0\.\.1.*got 2"):
        ds.split(2)


def test_duplicate_ids_are_refused():
    with pytest.raises(DataError, match="duplicate"):
        VideoDataset("mars", "/x", (T[0], T[0]), S)


def test_registry_and_did_you_mean(tmp_path):
    assert LAYOUTS.names() == ["dukev", "ilidsvid", "lsvid", "mars", "prid2011"] or \
        sorted(LAYOUTS.names()) == ["dukev", "ilidsvid", "lsvid", "mars", "prid2011"]
    with pytest.raises(DataError, match=r"'marss'.*mars"):
        load("marss", tmp_path)
    with pytest.raises(DataError, match=r"(?i)mars root.*nowhere"):
        load("mars", tmp_path / "nowhere")
