import json
from pathlib import Path

import numpy as np
import pytest

from reidbench.cli import main
from reidbench.datasets import load
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.datasets.verify import check_manifest, verify, write_manifest
from reidbench.errors import DataError, InputError

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
    assert main(["data", "verify", "--dataset", "mars", "--data", str(mars)]) == 1


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
    assert main(["data", "verify", "mars", str(mars), "--manifest", "check",
                 str(tmp_path / "manifest.json")]) == 1


def test_manifest_write_and_check_from_the_cli(mars, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["data", "verify", "mars", str(mars), "--manifest", "write", str(out)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"manifest: wrote {out} (") for line in said), said
    assert main(["data", "verify", "mars", str(mars), "--manifest", "check", str(out)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[-2:] == [f"manifest: every file matches {out}", "ok"]
    extra = mars / "bbox_test" / "extra.txt"
    extra.write_text("x")
    assert main(["data", "verify", "mars", str(mars), "--manifest", "check", str(out)]) == 1
    said = capsys.readouterr().out
    assert "problem: extra file bbox_test/extra.txt" in said
    assert f"manifest: 1 file(s) differ from {out}" in said
    assert main(["data", "verify", "mars", str(mars), "--manifest", "read", str(out)]) != 0
    with pytest.raises(DataError, match="m2.json"):
        check_manifest(mars, tmp_path / "m2.json")


def test_manifest_ignores_the_synthetic_ground_truth_and_is_order_free(mars, tmp_path):
    a = write_manifest(mars, tmp_path / "a.json")
    assert "_reidbench_synth.json" not in a["files"]
    assert list(a["files"]) == sorted(a["files"])
    (mars / "_reidbench_synth.json").unlink()
    b = write_manifest(mars, tmp_path / "b.json")
    assert a["total"] == b["total"]


def test_synthetic_copy_is_compared_with_its_ground_truth(mars):
    path = mars / "_reidbench_synth.json"
    truth = json.loads(path.read_text())
    first = truth["tracklets"][0]
    first["camid"] += 1
    truth["tracklets"].append({**first, "id": "9999C1T0001"})
    path.write_text(json.dumps(truth))
    rep = verify("mars", mars)
    assert rep.facts["expect"] == "synthetic"
    assert "tracklet 9999C1T0001 of the ground truth is missing" in rep.problems
    assert any(p.startswith(f"tracklet {first['id']}: (pid, camid") for p in rep.problems)
    assert verify("mars", mars, expect="none").ok
    with pytest.raises(InputError, match="expect"):
        verify("mars", mars, expect="offical")


def test_dukev_query_without_its_gallery_copy(tmp_path):
    root = Path(write_dataset("dukev", tmp_path / "D", ids=6, seed=2, config=TINY).root)
    assert verify("dukev", root).ok
    q = load("dukev", root).split("official").query[0]
    copy = root / "gallery" / q.split("/", 1)[1]
    frames = sorted(copy.iterdir())
    frames[-1].unlink()
    rep = verify("dukev", root, expect="none")
    assert f"query tracklet {q} has no identical copy in gallery/" in rep.problems


def test_identity_in_train_and_test(tmp_path):
    root = Path(write_dataset("dukev", tmp_path / "D", ids=6, seed=2, config=TINY).root)
    ds = load("dukev", root)
    test_pid = ds.tracklet(ds.split("official").gallery[0]).pid
    src = Path(ds.tracklet(ds.split("official").train[0]).frames[0]).parent
    dst = root / "train" / f"{test_pid:04d}" / "0999"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        new = f.name.replace(f.name[:4], f"{test_pid:04d}", 1)
        (dst / new).write_bytes(f.read_bytes())
    rep = verify("dukev", root, expect="none")
    assert any(f"identities [{test_pid}] are in both train and test" in p for p in rep.problems)


def test_truncated_frame_passes_the_header_check_but_not_full_decoding(mars):
    frame = Path(load("mars", mars).tracklets[2].frames[0])
    data = frame.read_bytes()
    frame.write_bytes(data[:-40])  # headers intact, scan data cut
    assert verify("mars", mars).ok  # header only (fast)
    rep = verify("mars", mars, full=True)
    assert rep.facts["bad_frames"] == 1 and str(frame) in rep.problems[0]
    assert main(["data", "verify", "mars", str(mars), "--full"]) == 1


def test_manifest_inside_the_copy_is_not_an_extra_file(mars, monkeypatch, capsys):
    inside = mars / "m2" / "MANIFEST.json"
    m = write_manifest(mars, inside)
    assert "m2/MANIFEST.json" not in m["files"] and check_manifest(mars, inside) == []
    again = write_manifest(mars, inside)  # the old manifest is not hashed into the new one
    assert again["total"] == m["total"]
    monkeypatch.chdir(mars)  # relative root and path, as typed in a shell
    assert main(["data", "verify", "mars", ".", "--manifest", "write", "m2/MANIFEST.json"]) == 0
    assert main(["data", "verify", "mars", ".", "--manifest", "check", "m2/MANIFEST.json"]) == 0
    assert "extra file" not in capsys.readouterr().out


def test_frame_problems_say_what_to_do(mars):
    ds = load("mars", mars)
    Path(ds.tracklets[0].frames[0]).unlink()
    Path(ds.tracklets[1].frames[0]).write_bytes(b"not an image")
    rep = verify("mars", mars)
    assert sum("re-extract it from the dataset archive" in p for p in rep.problems) == 2
    rep = verify("mars", mars, max_listed=0)
    assert rep.problems == ["... and 2 more frames missing or undecodable; re-extract the frames "
                            "from the dataset archive"]
