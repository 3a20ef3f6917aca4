"""Synthetic dataset: each layout's files are what the real dataset ships (checked without the
parsers: the contract test in tests/contract checks the round trip through them)."""

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from reidbench.datasets.synthetic import LAYOUTS, MANIFEST_NAME, SynthConfig, write_dataset
from reidbench.errors import InputError, RegistryError

TINY = SynthConfig(height=32, width=16, min_len=3, max_len=8, median_len=5.0)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    return {lay: write_dataset(lay, base / lay, ids=8, seed=3, config=TINY) for lay in LAYOUTS}


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path, copies):
    again = write_dataset("mars", tmp_path / "a", ids=8, seed=3, config=TINY)
    assert _tree_digest(Path(again.root)) == _tree_digest(Path(copies["mars"].root))
    other = write_dataset("mars", tmp_path / "b", ids=8, seed=4, config=TINY)
    assert _tree_digest(Path(other.root)) != _tree_digest(Path(again.root))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_manifest_lists_every_frame_file_exactly_once(copies, layout):
    s = copies[layout]
    root = Path(s.root)
    m = json.loads((root / MANIFEST_NAME).read_text())
    assert m["layout"] == layout and m["seed"] == 3 and m == s.manifest
    listed = [f for t in m["tracklets"] for f in t["frames"]]
    assert len(listed) == len(set(listed)) == s.num_frames
    ext = ".png" if layout in ("ilidsvid", "prid2011") else ".jpg"
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*" + ext)}
    stills = {f for f in on_disk if "/images/" in f or "/single_shot/" in f}
    assert set(listed) == on_disk - stills
    with Image.open(root / listed[0]) as im:
        assert im.size == (TINY.width, TINY.height) and im.format == ("PNG" if ext == ".png"
                                                                      else "JPEG")
    ids = [t["id"] for t in m["tracklets"]]
    assert len(ids) == len(set(ids))
    for sp in m["splits"]:
        assert set(sp["query"]) <= set(ids) and set(sp["gallery"]) <= set(ids)
        assert not set(sp["train"]) & (set(sp["query"]) | set(sp["gallery"]))


def test_mars_info_files(copies):
    root = Path(copies["mars"].root)
    m = copies["mars"].manifest
    raw = (root / "info/test_name.txt").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") > 0  # CRLF, like MATLAB fprintf('%s\r\n')
    names = raw.decode().split("\r\n")[:-1]
    assert names == sorted(names) and names[0].startswith("00-1C")  # '-' sorts before '0'
    folders = sorted(p.name for p in (root / "bbox_test").iterdir())
    assert folders[:2] == ["00-1", "0000"]
    info = sio.loadmat(root / "info/tracks_test_info.mat")["track_test_info"]
    assert info.dtype == np.int32 and info.shape[1] == 4
    assert info[0, 0] == 1 and info[-1, 1] == len(names)
    assert (info[1:, 0] == info[:-1, 1] + 1).all()  # rows tile the name list
    assert (np.diff(info[:, 2]) >= 0).all() and info[0, 2] == -1 and 0 in info[:, 2]
    for s, e, pid, cam in info:  # every frame of a row: same prefix and camera, F001..
        rows = names[s - 1:e]
        assert {n[:4] for n in rows} == {"00-1" if pid == -1 else f"{pid:04d}"}
        assert {n[5] for n in rows} == {str(cam)}
        assert [int(n[12:15]) for n in rows] == list(range(1, e - s + 2))
    q = sio.loadmat(root / "info/query_IDX.mat")["query_IDX"]
    assert q.dtype == np.uint16 and q.shape[0] == 1 and (np.diff(q[0]) > 0).all()
    qrows = info[q[0].astype(int) - 1]
    pairs = {(p, c) for p, c in qrows[:, 2:]}
    assert len(pairs) == q.shape[1] and (qrows[:, 2] > 0).all()  # one per (pid, camera)
    multi = {p for p in set(info[:, 2]) if p > 0 and len(set(info[info[:, 2] == p, 3])) >= 2}
    assert {p for p, _ in pairs} == multi
    assert m["splits"][0]["gallery"] == [t["id"] for t in m["tracklets"] if t["subset"] == "test"]


def test_mars_float64_variant(tmp_path):
    s = write_dataset("mars", tmp_path / "m", ids=5, seed=0, config=TINY, variant="float64")
    q = sio.loadmat(Path(s.root) / "info/query_IDX.mat")["query_IDX"]
    assert q.dtype == np.float64 and q.shape[0] == 1


def test_dukev_query_copies_f0002_single_frame_and_distractors(copies):
    root = Path(copies["dukev"].root)
    m = copies["dukev"].manifest
    tr = {t["id"]: t for t in m["tracklets"]}
    queries = [t for t in m["tracklets"] if t["subset"] == "query"]
    assert len(queries) == len({t["pid"] for t in queries}) == 4  # one per test id
    for q in queries:
        g = tr["gallery/" + q["id"].split("/", 1)[1]]
        strip = [f.split("/", 1)[1] for f in q["frames"]]
        assert strip == [f.split("/", 1)[1] for f in g["frames"]]
        assert all((root / a).read_bytes() == (root / b).read_bytes()
                   for a, b in zip(q["frames"], g["frames"], strict=True))
    starts = {t["subset"]: [] for t in m["tracklets"]}
    for t in m["tracklets"]:
        starts[t["subset"]].append(Path(t["frames"][0]).name.split("_")[2])
    assert "F0002" in starts["train"] and "F0002" in starts["query"]
    assert any(t["num_frames"] == 1 for t in m["tracklets"] if t["subset"] == "gallery")
    distr = [t for t in m["tracklets"] if t["kind"] == "distractor"]
    assert distr and all("_D" in Path(f).name for t in distr for f in t["frames"])
    persons = {t["pid"] for t in m["tracklets"] if t["kind"] == "person"}
    assert not {t["pid"] for t in distr} & persons


def test_dukev_old_names_variant(tmp_path):
    s = write_dataset("dukev", tmp_path / "d", ids=4, seed=0, config=TINY, variant="old_names")
    name = Path(s.manifest["tracklets"][0]["frames"][0]).name
    assert "_" not in name and name[4] == "C" and name[6] == "F"


def test_ilidsvid_ls_set_and_names(copies):
    root = Path(copies["ilidsvid"].root)
    ls = sio.loadmat(root / "train-test people splits/train_test_splits_ilidsvid.mat")["ls_set"]
    assert ls.shape == (10, 8) and ls.dtype == np.float64
    assert all(sorted(row.astype(int)) == list(range(1, 9)) for row in ls)
    p1 = sorted(p.name for p in (root / "i-LIDS-VID/sequences/cam1").iterdir())
    assert p1 == sorted(p.name for p in (root / "i-LIDS-VID/sequences/cam2").iterdir())
    assert [int(p[6:]) for p in p1] != list(range(1, 9))  # numbers with gaps
    sp = copies["ilidsvid"].manifest["splits"][0]
    assert sp["query"] == [f"cam1/{p1[int(i) - 1]}" for i in ls[0, :4]]
    first = sorted((root / "i-LIDS-VID/sequences/cam1" / p1[0]).iterdir())[0].name
    assert first.startswith(f"cam1_{p1[0]}_") and first[-9:-4] != "00001"


def test_prid_cameras_and_shipped_list(copies):
    root = Path(copies["prid2011"].root)
    a = sorted(p.name for p in (root / "prid_2011/multi_shot/cam_a").iterdir())
    b = sorted(p.name for p in (root / "prid_2011/multi_shot/cam_b").iterdir())
    assert len(b) > len(a) and set(a) < set(b)
    splits = json.loads((root / "splits_prid2011.json").read_text())
    assert len(splits) == 10 and list(splits[0]) == ["test", "train"]
    persons = set(splits[0]["test"]) | set(splits[0]["train"])
    assert len(persons) == 8 and all(set(s["test"]) | set(s["train"]) == persons for s in splits)
    assert all(not set(s["test"]) & set(s["train"]) for s in splits)
    both = [p for p in a if p in set(b)]
    assert persons < set(both)  # some two-camera persons are left out of the list
    first = sorted(f.name for f in (root / "prid_2011/multi_shot/cam_a" / a[0]).iterdir())
    assert first[0] == "0001.png"


def test_lsvid_lists_and_hdf5_queries(copies):
    root = Path(copies["lsvid"].root)
    lines = (root / "list_sequence/list_seq_test.txt").read_text().splitlines()
    with h5py.File(root / "test/data/info_test.mat", "r") as f:
        q = f["query"][0, :].astype(int)
    assert q.min() >= 1 and q.max() <= len(lines)
    for line in lines:
        prefix, pid = line.split(" ")
        frames = sorted((root / prefix).parent.glob(Path(prefix).name + "*"))
        assert frames and all(len(f.name.split("_")) == 4 for f in frames)
        assert len({f.name.split("_")[2] for f in frames}) == 1
        assert 1 <= int(frames[0].name.split("_")[2]) <= 15
    assert (root / "list_sequence/list_seq_val.txt").exists()
    assert (root / "test/data/info_val.mat").exists()


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(RegistryError, match="mars"):
        write_dataset("marss", tmp_path / "x")
    with pytest.raises(InputError, match="ids"):
        write_dataset("mars", tmp_path / "x", ids=2)
    with pytest.raises(InputError, match="variant"):
        write_dataset("ilidsvid", tmp_path / "x", variant="old_names")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(InputError, match="out in write_dataset"):
        write_dataset("mars", tmp_path / "full", ids=5)
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
