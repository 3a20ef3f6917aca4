"""Golden tests for the DukeV, iLIDS-VID, PRID-2011 and LS-VID parsers on hand-made copies in the
official formats (docs/datasets.md). Written without the
generator: every file is made here, as the real dataset has it.
"""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.io import savemat

from reidbench.datasets import load
from reidbench.errors import DataError


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")  # the parsers never open frames


def _names(t) -> list[str]:
    return [Path(f).name for f in t.frames]


# ----------------------------------------------------------------------------- DukeV


def _duke_tracklet(root: Path, subset: str, pid: int, tid: int, cam: int, frames, flag="X",
                   old=False) -> None:
    for f in frames:
        name = (f"{pid:04d}C{cam}F{f:04d}{flag}{3000 + f}.jpg" if old
                else f"{pid:04d}_C{cam}_F{f:04d}_{flag}{3000 + f}.jpg")
        _touch(root / subset / f"{pid:04d}" / f"{tid:04d}" / name)


@pytest.fixture()
def dukev(tmp_path):
    root = tmp_path / "DukeMTMC-VideoReID"
    _duke_tracklet(root, "train", 1, 3, 6, [1, 2, 3])
    _duke_tracklet(root, "train", 1, 4, 2, [1, 2])
    _duke_tracklet(root, "train", 7, 1, 1, [1, 2])
    for sub in ("query", "gallery"):  # the query tracklet is copied into gallery/
        _duke_tracklet(root, sub, 2, 5, 3, [2, 3, 4, 10])  # starts at F0002
    _duke_tracklet(root, "gallery", 2, 6, 4, [1])  # length 1
    _duke_tracklet(root, "gallery", 7140, 1, 8, [1, 2], flag="D")  # distractor id
    return root


def test_dukev_tracklets_and_split(dukev):
    ds = load("dukev", dukev)
    assert [t.id for t in ds.tracklets] == [
        "train/0001/0003", "train/0001/0004", "train/0007/0001", "query/0002/0005",
        "gallery/0002/0005", "gallery/0002/0006", "gallery/7140/0001"]
    q = ds.tracklet("query/0002/0005")
    assert (q.pid, q.camid, q.subset) == (2, 3, "query")
    # every frame kept and ordered by F number (torchreid's F0001..F{n} search loses F0010)
    assert _names(q) == ["0002_C3_F0002_X3002.jpg", "0002_C3_F0003_X3003.jpg",
                         "0002_C3_F0004_X3004.jpg", "0002_C3_F0010_X3010.jpg"]
    g = ds.tracklet("gallery/0002/0005")  # the copy is a separate gallery item (P9)
    assert _names(g) == _names(q) and g.subset == "gallery"
    assert len(ds.tracklet("gallery/0002/0006").frames) == 1
    assert ds.tracklet("gallery/7140/0001").pid == 7140
    assert ds.tracklet("train/0001/0003").camid == 6
    s = ds.split("official")
    assert s.train == ("train/0001/0003", "train/0001/0004", "train/0007/0001")
    assert s.query == ("query/0002/0005",)
    assert s.gallery == ("gallery/0002/0005", "gallery/0002/0006", "gallery/7140/0001")


def test_dukev_old_file_names(tmp_path):
    root = tmp_path / "old"
    _duke_tracklet(root, "train", 1, 3, 6, [99, 100], old=True)  # 0001C6F0099X3099.jpg
    for sub in ("query", "gallery"):
        _duke_tracklet(root, sub, 2, 1, 5, [1], old=True)
    ds = load("dukev", root)
    t = ds.tracklet("train/0001/0003")
    assert (t.pid, t.camid) == (1, 6) and _names(t) == ["0001C6F0099X3099.jpg",
                                                        "0001C6F0100X3100.jpg"]


def test_dukev_bad_input(dukev):
    _touch(dukev / "train" / "0001" / "0003" / "0001_C9_F0004.jpg")
    with pytest.raises(DataError, match=r"0001_C9_F0004\.jpg.*train/0001/0003"):
        load("dukev", dukev)
    (dukev / "train" / "0001" / "0003" / "0001_C9_F0004.jpg").unlink()
    _duke_tracklet(dukev, "train", 1, 3, 5, [7])  # a second camera inside one tracklet
    with pytest.raises(DataError, match=r"train/0001/0003.*cameras \[5, 6\]"):
        load("dukev", dukev)


def test_dukev_missing_subset_folder(tmp_path):
    _duke_tracklet(tmp_path / "d", "train", 1, 1, 1, [1])
    with pytest.raises(DataError, match=r"query folder.*d/query"):
        load("dukev", tmp_path / "d")


# ----------------------------------------------------------------------------- iLIDS-VID

PERSONS = ["person001", "person002", "person005", "person007", "person010", "person011"]


@pytest.fixture()
def ilids(tmp_path):
    root = tmp_path / "ilids-vid"
    for cam in (1, 2):
        for k, person in enumerate(PERSONS):
            for f in (317, 318, 1002, 999 + k):  # video frame numbers, not from 1
                _touch(root / "i-LIDS-VID" / "sequences" / f"cam{cam}" / person /
                       f"cam{cam}_{person}_{f:05d}.png")
    splits = root / "train-test people splits"
    splits.mkdir(parents=True)
    ls_set = np.array([[3, 1, 6, 2, 4, 5], [1, 2, 3, 4, 5, 6]], dtype=np.float64)
    savemat(splits / "train_test_splits_ilidsvid.mat", {"ls_set": ls_set})
    return root


def test_ilidsvid_tracklets_frames_and_splits(ilids):
    ds = load("ilidsvid", ilids)
    assert len(ds) == 12 and len(ds.splits) == 2
    t = ds.tracklet("cam2/person005")
    assert (t.pid, t.camid) == (5, 2)
    assert _names(t) == ["cam2_person005_00317.png", "cam2_person005_00318.png",
                         "cam2_person005_01001.png", "cam2_person005_01002.png"]
    # ls_set row [3, 1, 6, 2, 4, 5]: 1-based into the SORTED folders; first half test (P14, P15)
    s = ds.split("split0")
    assert s.query == ("cam1/person005", "cam1/person001", "cam1/person011")
    assert s.gallery == ("cam2/person005", "cam2/person001", "cam2/person011")
    assert sorted(s.train) == sorted(f"cam{c}/{p}" for c in (1, 2)
                                     for p in ("person002", "person007", "person010"))
    assert ds.split(1).query == ("cam1/person001", "cam1/person002", "cam1/person005")


def test_ilidsvid_ls_set_for_another_copy(ilids):
    path = ilids / "train-test people splits" / "train_test_splits_ilidsvid.mat"
    savemat(path, {"ls_set": np.tile(np.arange(1, 301, dtype=np.float64), (10, 1))})
    with pytest.raises(DataError, match=r"ls_set.*6 columns.*\(10, 300\)"):
        load("ilidsvid", ilids)
    savemat(path, {"ls_set": np.array([[1, 2, 3, 4, 5, 7]], dtype=np.float64)})
    with pytest.raises(DataError, match=r"ls_set.*1\.\.6.*got 7"):
        load("ilidsvid", ilids)
    savemat(path, {"ls_set": np.array([[1, 2, 3, 1, 5, 6]], dtype=np.float64)})
    with pytest.raises(DataError, match=r"ls_set row 1.*permutation.*repeated"):
        load("ilidsvid", ilids)


def test_ilidsvid_missing_split_file_and_camera_mismatch(ilids):
    (ilids / "train-test people splits" / "train_test_splits_ilidsvid.mat").unlink()
    with pytest.raises(DataError, match=r"train_test_splits_ilidsvid\.mat"):
        load("ilidsvid", ilids)
    _touch(ilids / "i-LIDS-VID/sequences/cam2/person012/cam2_person012_00001.png")
    with pytest.raises(DataError, match=r"same persons in cam1 and cam2"):
        load("ilidsvid", ilids)


# ----------------------------------------------------------------------------- PRID-2011


@pytest.fixture()
def prid(tmp_path):
    root = tmp_path / "prid2011"
    base = root / "prid_2011" / "multi_shot"
    for cam, persons in (("a", [1, 2, 3, 4, 5, 6]), ("b", [1, 2, 3, 4, 5, 6, 7])):
        for p in persons:
            for f in (1, 2, 10):
                _touch(base / f"cam_{cam}" / f"person_{p:04d}" / f"{f:04d}.png")
    # the shipped list leaves person_0005 out although it is in both cameras (no threshold)
    splits = [{"test": ["person_0004", "person_0001"], "train": ["person_0003", "person_0006"]},
              {"test": ["person_0003", "person_0006"], "train": ["person_0001", "person_0004"]}]
    (root / "splits_prid2011.json").write_text(json.dumps(splits))
    return root


def test_prid2011_shipped_person_list(prid):
    ds = load("prid2011", prid)
    assert len(ds.splits) == 2
    t = ds.tracklet("cam_b/person_0007")  # cam_b only: parsed, in no split
    assert (t.pid, t.camid) == (7, 2)
    assert _names(ds.tracklet("cam_a/person_0002")) == ["0001.png", "0002.png", "0010.png"]
    s = ds.split("split0")
    assert s.query == ("cam_a/person_0004", "cam_a/person_0001")
    assert s.gallery == ("cam_b/person_0004", "cam_b/person_0001")
    assert sorted(s.train) == ["cam_a/person_0003", "cam_a/person_0006", "cam_b/person_0003",
                               "cam_b/person_0006"]
    used = {i for sp in ds.splits for i in sp.train + sp.query + sp.gallery}
    assert not any("person_0005" in i or "person_0007" in i or "person_0002" in i for i in used)


def test_prid2011_bad_split_files(prid):
    path = prid / "splits_prid2011.json"
    path.write_text(json.dumps([{"test": ["person_0007"], "train": ["person_0001"]}]))
    with pytest.raises(DataError, match=r"split 0.*both cameras.*person_0007"):
        load("prid2011", prid)
    path.write_text(json.dumps([{"test": ["person_0001"], "train": ["person_0001"]}]))
    with pytest.raises(DataError, match=r"split 0.*disjoint"):
        load("prid2011", prid)
    path.write_text('[{"test": ["person_0001"]')
    with pytest.raises(DataError, match=r"splits_prid2011\.json.*valid JSON"):
        load("prid2011", prid)
    path.write_text('{"test": []}')
    with pytest.raises(DataError, match=r"splits_prid2011\.json.*list of"):
        load("prid2011", prid)
    path.unlink()
    with pytest.raises(DataError, match=r"splits_prid2011\.json"):
        load("prid2011", prid)


# ----------------------------------------------------------------------------- LS-VID


def _write_v73(path: Path, **arrays) -> None:
    """A MATLAB v7.3 file: HDF5 with the 512-byte MATLAB user block header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2019 "
                b"HDF5 schema 1.00 .")


@pytest.fixture()
def lsvid(tmp_path):
    root = tmp_path / "LS-VID"
    lists = {"train": [("tracklet_train/0001/00010001", 1, 3),
                       ("tracklet_train/0001/00010002", 1, 5)],
             "test": [("tracklet_test/0002/00020001", 2, 1), ("tracklet_test/0002/00020002", 2, 4),
                      ("tracklet_test/0003/00030001", 3, 15)]}
    for subset, rows in lists.items():
        for prefix, _, cam in rows:
            for f in (1, 2, 11):
                _touch(root / f"{prefix}_{f:04d}_{cam}_{500 + f:06d}.jpg")
        (root / "list_sequence").mkdir(exist_ok=True)
        (root / "list_sequence" / f"list_seq_{subset}.txt").write_text(
            "".join(f"{p} {pid}\n" for p, pid, _ in rows))
    _write_v73(root / "test" / "data" / "info_test.mat", query=np.array([[3.0, 1.0]]))
    return root


def test_lsvid_hdf5_query_and_lists(lsvid):
    with open(lsvid / "test/data/info_test.mat", "rb") as f:
        assert f.read(10) == b"MATLAB 7.3"  # scipy.io.loadmat cannot read this one (P21)
    ds = load("lsvid", lsvid)
    assert [t.id for t in ds.tracklets] == [
        "tracklet_train/0001/00010001", "tracklet_train/0001/00010002",
        "tracklet_test/0002/00020001", "tracklet_test/0002/00020002", "tracklet_test/0003/00030001"]
    t = ds.tracklet("tracklet_test/0003/00030001")
    assert (t.pid, t.camid, t.subset) == (3, 15, "test")
    assert _names(t) == ["00030001_0001_15_000501.jpg", "00030001_0002_15_000502.jpg",
                         "00030001_0011_15_000511.jpg"]
    s = ds.split("official")
    assert s.query == ("tracklet_test/0003/00030001", "tracklet_test/0002/00020001")
    assert len(s.gallery) == 3 and len(s.train) == 2


def test_lsvid_bad_input(lsvid):
    _write_v73(lsvid / "test" / "data" / "info_test.mat", query=np.array([[4.0]]))
    with pytest.raises(DataError, match=r"query.*info_test\.mat.*1\.\.3.*got 4"):
        load("lsvid", lsvid)
    _write_v73(lsvid / "test" / "data" / "info_test.mat", gallery=np.array([[1.0]]))
    with pytest.raises(DataError, match=r"query.*info_test\.mat"):
        load("lsvid", lsvid)
    (lsvid / "list_sequence" / "list_seq_test.txt").write_text("tracklet_test/0002/0009 2\n")
    with pytest.raises(DataError, match=r"tracklet_test/0002/0009.*list_seq_test\.txt"):
        load("lsvid", lsvid)
    (lsvid / "list_sequence" / "list_seq_train.txt").write_text("only-a-prefix\n")
    with pytest.raises(DataError, match=r"line 1.*list_seq_train\.txt"):
        load("lsvid", lsvid)


# ------------------------------------------------------------------- names off the grammar


@pytest.mark.parametrize("rel", ["train/foo/0001/0001_C1_F0001_X1.jpg",  # identity folder
                                 "train/0001/foo/0001_C1_F0001_X1.jpg",  # tracklet folder
                                 "gallery/12345/0001/x.jpg"])
def test_dukev_folder_off_the_grammar_is_one_error(dukev, rel):
    _touch(dukev / rel)
    bad = next(p for p in Path(rel).parts if p in ("foo", "12345"))
    with pytest.raises(DataError, match=rf"folder '{bad}'.*{bad}: .*4 digits.*Remove folders"):
        load("dukev", dukev)


def test_dukev_empty_tracklet_folder_is_reported(dukev):
    (dukev / "gallery" / "0002" / "0009").mkdir()
    with pytest.raises(DataError, match=r"tracklet folder with no frames.*gallery/0002/0009"):
        load("dukev", dukev)


@pytest.mark.parametrize("name", ["0001_C0_F0005_X1.jpg", "0001_C9_F0005_X1.jpg",
                                  "0001C9F0005X1.jpg"])
def test_dukev_camera_outside_1_to_8(dukev, name):
    _touch(dukev / "train" / "0001" / "0003" / name)
    with pytest.raises(DataError, match=rf"{name}.*camera 1-8"):
        load("dukev", dukev)


def test_ilidsvid_stray_person_folder_is_one_error(ilids):
    (ilids / "i-LIDS-VID" / "sequences" / "cam1" / "foo").mkdir()
    with pytest.raises(DataError, match=r"folder 'foo'.*sequences/cam1/foo.*personNNN"):
        load("ilidsvid", ilids)


@pytest.mark.parametrize("name", ["00010001_ab_3_000510.jpg",  # frame token
                                  "00010001_0003_x_000510.jpg",  # camera token
                                  "00010001_0003_16_000510.jpg",  # camera past 15
                                  "00010001_0003_0_000510.jpg"])
def test_lsvid_frame_name_off_the_grammar_is_one_error(lsvid, name):
    _touch(lsvid / "tracklet_train" / "0001" / name)
    with pytest.raises(DataError, match=rf"{name}.*tracklet_train/0001.*camera 1-15"):
        load("lsvid", lsvid)


@pytest.mark.parametrize("query,match", [
    (np.array([[3.0, 1.5]]), r"query.*info_test\.mat.*whole numbers.*1\.5"),
    (np.array([[1.0, 2.0], [3.0, 1.0]]), r"query.*info_test\.mat.*\(1, Nq\).*\(2, 2\)"),
    (np.zeros((1, 0)), r"query.*\(1, Nq\).*Nq >= 1.*\(1, 0\)"),
    (np.array([3.0, 1.0]), r"query.*\(1, Nq\).*shape \(2,\)")])
def test_lsvid_query_shape_and_values(lsvid, query, match):
    _write_v73(lsvid / "test" / "data" / "info_test.mat", query=query)
    with pytest.raises(DataError, match=match):
        load("lsvid", lsvid)


def test_lsvid_info_layout_error_says_how_to_fix_it(lsvid):
    (lsvid / "info").mkdir()
    (lsvid / "list_sequence").rename(lsvid / "info" / "list_sequence")
    (lsvid / "test" / "data").rename(lsvid / "info" / "data")
    with pytest.raises(DataError, match=r"list_seq_train\.txt.*info/list_sequence.*"
                                        r"ln -s info/list_sequence list_sequence"):
        load("lsvid", lsvid)
    (lsvid / "list_sequence").symlink_to("info/list_sequence")
    with pytest.raises(DataError, match=r"info_test\.mat.*ln -s \.\./info/data test/data"):
        load("lsvid", lsvid)
    (lsvid / "test").mkdir(exist_ok=True)
    (lsvid / "test" / "data").symlink_to("../info/data")
    assert len(load("lsvid", lsvid).split("official").query) == 2
