"""PRID-2011 splits from the official ``train_test_splits_prid.mat`` (docs/datasets.md,
PRID-2011): hand-made copies written here with scipy.io.savemat, and the generator's ``mat_splits``
variant."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from reidbench.datasets import load
from reidbench.datasets.prid2011 import FIRST_FOLDERS, MIN_FRAMES, qualifying_persons
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.errors import DataError, InputError

# Frames per camera: 1, 2, 4, 6 have >= 27 in both cameras (the qualifying persons, sorted);
# 3 is short in cam_b, 5 short in cam_a, 7 is in cam_a only, 8 and 9 in cam_b only.
FRAMES = {"a": {1: 27, 2: 30, 3: 40, 4: 28, 5: 26, 6: 31, 7: 50},
          "b": {1: 29, 2: 27, 3: 26, 4: 33, 5: 60, 6: 27, 8: 40, 9: 40}}
QUALIFYING = [1, 2, 4, 6]
# 1-based into QUALIFYING; first half of each row test, second half train.
LS_SET = [[3, 1, 2, 4], [2, 4, 1, 3], [4, 3, 1, 2]]
JSON_SPLITS = [{"test": [f"person_{QUALIFYING[i - 1]:04d}" for i in row[:2]],
                "train": [f"person_{QUALIFYING[i - 1]:04d}" for i in row[2:]]} for row in LS_SET]


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")  # the parser never opens frames


@pytest.fixture()
def prid(tmp_path):
    root = tmp_path / "prid2011"
    for cam, persons in FRAMES.items():
        for p, n in persons.items():
            for f in range(3, 3 + n):  # frame numbers need not start at 1
                _touch(root / "prid_2011/multi_shot" / f"cam_{cam}/person_{p:04d}/{f:04d}.png")
    _touch(root / "prid_2011/multi_shot/cam_b/person_0003/Thumbs.db")  # not a frame: not counted
    (root / "splits_prid2011.json").write_text(json.dumps(JSON_SPLITS))
    savemat(root / "train_test_splits_prid.mat", {"ls_set": np.array(LS_SET, dtype=np.float64)})
    return root


def test_mat_only_copy_gives_the_json_splits(prid):
    from_json = load("prid2011", prid)
    assert from_json.split_source == "splits_prid2011.json"
    (prid / "splits_prid2011.json").unlink()
    from_mat = load("prid2011", prid)
    assert from_mat.split_source == "train_test_splits_prid.mat"
    assert from_mat.splits == from_json.splits
    assert [s.name for s in from_mat.splits] == ["split0", "split1", "split2"]
    s = from_mat.split("split0")  # row [3, 1 | 2, 4] over persons [1, 2, 4, 6]
    assert s.query == ("cam_a/person_0004", "cam_a/person_0001")
    assert s.gallery == ("cam_b/person_0004", "cam_b/person_0001")
    assert s.train == ("cam_a/person_0002", "cam_b/person_0002", "cam_a/person_0006",
                       "cam_b/person_0006")
    assert from_mat.tracklets == from_json.tracklets
    assert len(from_mat.tracklet("cam_b/person_0003").frames) == 26


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint8])
def test_mat_inside_ilids_split_folder_and_stored_types(prid, dtype):
    (prid / "splits_prid2011.json").unlink()
    (prid / "train_test_splits_prid.mat").unlink()
    folder = prid / "train-test people splits"
    folder.mkdir()
    savemat(folder / "train_test_splits_prid.mat", {"ls_set": np.array(LS_SET, dtype=dtype)})
    ds = load("prid2011", prid)
    assert ds.split_source == "train-test people splits/train_test_splits_prid.mat"
    assert ds.split("split2").query == ("cam_a/person_0006", "cam_a/person_0004")


def test_json_wins_when_both_exist(prid):
    (prid / "train_test_splits_prid.mat").write_bytes(b"not a mat file")  # never read
    ds = load("prid2011", prid)
    assert ds.split_source == "splits_prid2011.json"
    assert ds.split("split1").query == ("cam_a/person_0002", "cam_a/person_0006")


def test_count_mismatch_names_file_counts_and_the_json_fix(prid):
    (prid / "splits_prid2011.json").unlink()
    for f in sorted((prid / "prid_2011/multi_shot/cam_b/person_0006").iterdir())[:1]:
        f.unlink()  # person_0006 now has 26 frames in cam_b: 3 qualifying persons, ls_set has 4
    with pytest.raises(DataError, match=r"train_test_splits_prid\.mat: expected 4 qualifying "
                       r"persons.*>= 27 frames.*got 3 in this copy.*splits_prid2011\.json"):
        load("prid2011", prid)


@pytest.mark.parametrize("content, message", [
    ({"splits": np.array(LS_SET, dtype=float)}, r"variable 'ls_set'.*got variables \['splits'\]"),
    ({"ls_set": np.ones((2, 2, 2))}, r"2-D matrix.*shape \(2, 2, 2\)"),
    ({"ls_set": np.array([[1, 2, 3, 5]], dtype=float)}, r"ls_set row 1.*person indices in 1\.\.4"
                                                        r".*got 5"),
    ({"ls_set": np.array([[1, 2, 3, 0]], dtype=float)}, r"ls_set row 1.*got 0"),
    ({"ls_set": np.array([[1, 2, 3], [3, 2, 1]], dtype=float)}, r"even number.*shape \(2, 3\)"),
    ({"ls_set": np.array([[1, 2, 3, 4], [1, 2, 2, 4]], dtype=float)},
     r"ls_set row 2.*permutation of 1\.\.4.*repeated"),
    ({"ls_set": np.array([[1, 2, 3.5, 4]])}, r"integer values.*non-integers"),
    ({"ls_set": np.array([["ab", "cd"]], dtype=object)}, r"numeric matrix.*dtype object"),
    (b"garbage, not MATLAB", r"valid MATLAB v5 or v7\.3 file"),
])
def test_malformed_mat_gives_one_named_error(prid, content, message):
    (prid / "splits_prid2011.json").unlink()
    path = prid / "train_test_splits_prid.mat"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        savemat(path, content)
    with pytest.raises(DataError, match=r"train_test_splits_prid\.mat") as info:
        load("prid2011", prid)
    assert info.match(message)


def test_no_split_file_names_both_alternatives(prid):
    (prid / "splits_prid2011.json").unlink()
    (prid / "train_test_splits_prid.mat").unlink()
    with pytest.raises(DataError, match=r"split file in .*splits_prid2011\.json: expected an "
                       r"existing file.*train_test_splits_prid\.mat"):
        load("prid2011", prid)


def test_stray_person_folder_is_named(prid):
    (prid / "prid_2011/multi_shot/cam_a/person_12").mkdir()
    with pytest.raises(DataError, match=r"folder 'person_12' in .*cam_a.*person_NNNN"):
        load("prid2011", prid)


def test_qualifying_rule_threshold_and_first_200_folders():
    n = FIRST_FOLDERS + 5
    a = {f"person_{p:04d}": MIN_FRAMES for p in range(1, n + 1)}
    b = dict(a)
    a["person_0003"] = MIN_FRAMES - 1  # short in one camera only
    b["person_0007"] = MIN_FRAMES - 1
    del b["person_0010"]  # in cam_a only
    got = qualifying_persons(a, b)
    # cam_b's first 200 folders end at person_0201 (one folder missing below it)
    want = [f"person_{p:04d}" for p in range(1, 201) if p not in (3, 7, 10)]
    assert got == want and len(got) == FIRST_FOLDERS - 3


def test_synthetic_mat_variant_round_trips(tmp_path):
    tiny = SynthConfig(height=16, width=16, min_len=3, max_len=8, median_len=5.0)
    plain = write_dataset("prid2011", tmp_path / "plain", ids=6, seed=5, config=tiny)
    s = write_dataset("prid2011", tmp_path / "mat", ids=6, seed=5, config=tiny,
                      variant="mat_splits")
    root = Path(s.root)
    assert not (Path(plain.root) / "train_test_splits_prid.mat").exists()
    assert ((root / "splits_prid2011.json").read_bytes()
            == (Path(plain.root) / "splits_prid2011.json").read_bytes())  # same lists and splits
    from_json = load("prid2011", root)
    mat_only = tmp_path / "mat_only"
    shutil.copytree(root, mat_only)
    (mat_only / "splits_prid2011.json").unlink()
    from_mat = load("prid2011", mat_only)
    assert from_mat.split_source == "train_test_splits_prid.mat"
    for got_json, got_mat, want in zip(from_json.splits, from_mat.splits, s.manifest["splits"],
                                       strict=True):
        for part in ("train", "query", "gallery"):
            assert list(getattr(got_mat, part)) == list(getattr(got_json, part)) == want[part]
    from reidbench.datasets.verify import verify

    report = verify("prid2011", mat_only)
    assert report.ok, report.problems


def test_synthetic_prid_with_an_odd_identity_count_is_refused_up_front(tmp_path):
    with pytest.raises(InputError, match="ids in write_dataset\\('prid2011'\\).*even"):
        write_dataset("prid2011", tmp_path / "p", ids=7)
    assert not (tmp_path / "p").exists()
