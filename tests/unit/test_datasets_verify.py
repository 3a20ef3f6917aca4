from pathlib import Path

import numpy as np
import pytest

from reidbench.cli import main
from reidbench.datasets import load
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.datasets.verify import check_manifest, verify, write_manifest
from reidbench.errors import DataError

TINY = SynthConfig(height=32, width=16, min_len=3, max_len=6, median_len=4.0)


@pytest.fixture()
def mars(tmp_path):
    return Path(write_dataset("mars", tmp_path / "MARS", ids=8, seed=1, config=TINY).root)


def test_synthetic_copy_verifies_and_official_counts_do_not(mars):
    assert verify("mars", mars).ok
    rep = verify("mars", mars, expect="official")
    assert not rep.ok and any("20478 (official)" in p for p in rep.problems)


def test_missing_and_corrupt_frames_are_listed(mars, tmp_path):
    ds = load("mars", mars)
    gone, broken = Path(ds.tracklets[0].frames[0]), Path(ds.tracklets[1].frames[1])
    gone.unlink()
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    rep = verify("mars", mars)
    assert any(str(gone) in p and "missing" in p for p in rep.problems)
    assert any(str(broken) in p and "decodable" in p for p in rep.problems)
    assert main(["data", "verify", "mars", str(mars)]) == 1


def test_missing_info_file_and_bad_query_idx(mars):
    from reidbench.datasets.synthetic.matfiles import write_mat_v5

    (mars / "info" / "tracks_test_info.mat").rename(mars / "info" / "moved.mat")
    with pytest.raises(DataError, match="tracks_test_info.mat"):
        load("mars", mars)
    (mars / "info" / "moved.mat").rename(mars / "info" / "tracks_test_info.mat")
    write_mat_v5(mars / "info" / "query_IDX.mat", {"query_IDX": (np.array([[1, 99999]]), "uint32")})
    with pytest.raises(DataError, match="query_IDX.*99999"):
        load("mars", mars)
    (mars / "info" / "query_IDX.mat").write_bytes(b"MATLAB 5.0 truncated")
    with pytest.raises(DataError, match="query_IDX.mat"):
        load("mars", mars)
    rep = verify("mars", mars)
    assert not rep.ok and "query_IDX.mat" in rep.problems[0]


def test_manifest_round_trip(mars, tmp_path):
    m = write_manifest(mars, tmp_path / "manifest.json")
    assert len(m["total"]) == 64 and check_manifest(mars, tmp_path / "manifest.json") == []
    first = sorted(m["files"])[0]
    (mars / first).write_bytes(b"changed")
    assert check_manifest(mars, tmp_path / "manifest.json") == [f"different content {first}"]
    assert main(["data", "verify", "mars", str(mars), "--manifest",
                 f"check {tmp_path / 'manifest.json'}"]) == 1
