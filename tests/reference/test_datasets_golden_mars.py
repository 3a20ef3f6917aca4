"""Golden tests for the MARS parser on a hand-made copy in the official format (docs/datasets.md,
MARS): CRLF name lists, int32 track tables, a (1, N) uint16
``query_IDX``, the literal ``00-1`` junk folder, pids from the table. Written without the generator.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from reidbench.datasets import load
from reidbench.errors import DataError

# (folder, tracklet prefix, frame numbers as listed in the name file, pid, camera)
TRAIN = [("0001", "0001C1T0001", [1, 2, 3], 1, 1), ("0001", "0001C2T0002", [1, 2], 1, 2),
         ("0003", "0003C1T0001", [1, 2], 3, 1)]
TEST = [("00-1", "00-1C1T0001", [1, 2], -1, 1), ("0000", "0000C2T0001", [1, 2], 0, 2),
        ("0002", "0002C1T0001", [1, 2, 3], 2, 1), ("0002", "0002C2T0002", [2, 1], 2, 2),
        ("0004", "0004C1T0001", [1], 4, 1), ("0004", "0004C1T0002", [1, 2], 4, 1),
        ("0004", "0004C3T0003", [1, 2], 4, 3)]
QUERY_ROWS = [3, 4, 5, 7]  # 1-based rows of track_test_info


def _write_subset(root: Path, subset: str, rows, dtype) -> None:
    names, table = [], []
    for folder, prefix, frames, pid, cam in rows:
        start = len(names) + 1
        for f in frames:
            name = f"{prefix}F{f:03d}.jpg"
            names.append(name)
            d = root / f"bbox_{subset}" / folder
            d.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 8), (f * 20, 0, 0)).save(d / name)
        table.append([start, len(names), pid, cam])
    (root / "info").mkdir(exist_ok=True)
    # MATLAB fprintf('%s\r\n'): CRLF line endings
    (root / "info" / f"{subset}_name.txt").write_bytes("".join(n + "\r\n" for n in names).encode())
    savemat(root / "info" / f"tracks_{subset}_info.mat",
            {f"track_{subset}_info": np.asarray(table, dtype=dtype)})


def make_mars(root: Path, table_dtype=np.int32, query_dtype=np.uint16) -> Path:
    root.mkdir(parents=True)
    _write_subset(root, "train", TRAIN, table_dtype)
    _write_subset(root, "test", TEST, table_dtype)
    savemat(root / "info" / "query_IDX.mat",
            {"query_IDX": np.asarray([QUERY_ROWS], dtype=query_dtype)})
    return root


@pytest.fixture()
def mars(tmp_path):
    return make_mars(tmp_path / "mars")


def test_official_dtypes_as_scipy_reads_them(mars):
    from scipy.io import loadmat

    assert loadmat(mars / "info" / "tracks_test_info.mat")["track_test_info"].dtype == np.int32
    q = loadmat(mars / "info" / "query_IDX.mat")["query_IDX"]
    assert q.dtype == np.uint16 and q.shape == (1, 4)
    assert (mars / "info" / "test_name.txt").read_bytes().startswith(b"00-1C1T0001F001.jpg\r\n")


def test_tracklets_ids_pids_cameras_and_frames(mars):
    ds = load("mars", mars)
    assert ds.name == "mars" and len(ds) == 10
    assert [t.id for t in ds.tracklets] == [r[1] for r in TRAIN + TEST]
    junk = ds.tracklet("00-1C1T0001")
    assert (junk.pid, junk.camid, junk.subset) == (-1, 1, "test")  # never int('00-1')
    assert junk.frames == (str(mars / "bbox_test/00-1/00-1C1T0001F001.jpg"),
                           str(mars / "bbox_test/00-1/00-1C1T0001F002.jpg"))
    assert ds.tracklet("0000C2T0001").pid == 0
    t = ds.tracklet("0003C1T0001")
    assert (t.pid, t.camid, t.subset, len(t.frames)) == (3, 1, "train", 2)
    # 1-based inclusive rows: names[start-1:end], no frame lost or duplicated (P1)
    assert [len(t.frames) for t in ds.tracklets] == [len(r[2]) for r in TRAIN + TEST]
    assert sum(len(t.frames) for t in ds.tracklets) == 21
    assert all("\r" not in f for t in ds.tracklets for f in t.frames)  # CRLF stripped


def test_frames_ordered_by_frame_number(mars):
    t = load("mars", mars).tracklet("0002C2T0002")  # listed F002, F001 in the name file
    assert [Path(f).name for f in t.frames] == ["0002C2T0002F001.jpg", "0002C2T0002F002.jpg"]


def test_official_split_query_idx_and_gallery(mars):
    s = load("mars", mars).split("official")
    assert s.train == ("0001C1T0001", "0001C2T0002", "0003C1T0001")
    assert s.query == ("0002C1T0001", "0002C2T0002", "0004C1T0001", "0004C3T0003")
    assert s.gallery == tuple(r[1] for r in TEST)  # all test rows: queries and junk included


@pytest.mark.parametrize("table_dtype,query_dtype", [(np.float64, np.float64),
                                                     (np.int16, np.int32)])
def test_other_stored_dtypes_give_the_same_index(tmp_path, mars, table_dtype, query_dtype):
    other = load("mars", make_mars(tmp_path / "other", table_dtype, query_dtype))
    ref = load("mars", mars)
    assert [(t.id, t.pid, t.camid, len(t.frames)) for t in other.tracklets] == \
        [(t.id, t.pid, t.camid, len(t.frames)) for t in ref.tracklets]
    assert other.splits[0].query == ref.splits[0].query


def test_column_query_idx_is_accepted(mars):
    savemat(mars / "info" / "query_IDX.mat",
            {"query_IDX": np.asarray(QUERY_ROWS, dtype=np.uint16).reshape(-1, 1)})
    assert len(load("mars", mars).splits[0].query) == 4


# ----------------------------------------------------------------------------- bad input


def test_missing_info_file_names_it(mars):
    (mars / "info" / "test_name.txt").unlink()
    with pytest.raises(DataError, match=r"test_name\.txt.*MARS-evaluation"):
        load("mars", mars)


def test_truncated_mat_names_it(mars):
    path = mars / "info" / "tracks_train_info.mat"
    path.write_bytes(path.read_bytes()[:150])
    with pytest.raises(DataError, match=r"(?i)tracks_train_info\.mat.*re-download"):
        load("mars", mars)


def test_garbage_mat_names_it(mars):
    (mars / "info" / "query_IDX.mat").write_bytes(b"\x00" * 64)
    with pytest.raises(DataError, match=r"query_IDX\.mat"):
        load("mars", mars)


def test_query_idx_past_the_table(mars):
    savemat(mars / "info" / "query_IDX.mat", {"query_IDX": np.array([[3, 8]], np.uint16)})
    with pytest.raises(DataError, match=r"query_IDX.*1\.\.7.*got 8"):
        load("mars", mars)


def test_query_idx_zero_is_not_one_based(mars):
    savemat(mars / "info" / "query_IDX.mat", {"query_IDX": np.array([[0, 3]], np.uint16)})
    with pytest.raises(DataError, match=r"query_IDX.*got 0"):
        load("mars", mars)


def test_query_idx_matrix_shape_is_refused(mars):
    savemat(mars / "info" / "query_IDX.mat", {"query_IDX": np.ones((2, 2), np.uint16)})
    with pytest.raises(DataError, match=r"\(1, N\) row vector.*\(2, 2\)"):
        load("mars", mars)


def test_wrong_table_shape_and_variable_name(mars):
    path = mars / "info" / "tracks_test_info.mat"
    savemat(path, {"track_test_info": np.ones((7, 3), np.int32)})
    with pytest.raises(DataError, match=r"track_test_info.*\(N, 4\).*\(7, 3\)"):
        load("mars", mars)
    savemat(path, {"tracks_test": np.ones((7, 4), np.int32)})
    with pytest.raises(DataError, match=r"'track_test_info'.*tracks_test"):
        load("mars", mars)


def test_table_past_the_name_list(mars):
    lines = (mars / "info" / "test_name.txt").read_bytes().split(b"\r\n")
    (mars / "info" / "test_name.txt").write_bytes(b"\r\n".join(lines[:-3]) + b"\r\n")
    with pytest.raises(DataError, match=r"row 7.*tracks_test_info\.mat.*test_name\.txt"):
        load("mars", mars)


def test_name_list_and_table_disagree_on_pid(mars):
    path = mars / "info" / "tracks_test_info.mat"
    from scipy.io import loadmat

    table = loadmat(path)["track_test_info"]
    table[0, 2] = 5  # the 00-1 rows claimed for pid 5
    savemat(path, {"track_test_info": table})
    with pytest.raises(DataError, match=r"00-1C1T0001F001.*folder 0005"):
        load("mars", mars)


def _table(mars: Path, subset: str = "test") -> np.ndarray:
    from scipy.io import loadmat

    return loadmat(mars / "info" / f"tracks_{subset}_info.mat")[f"track_{subset}_info"]


def _save_table(mars: Path, table: np.ndarray, subset: str = "test") -> None:
    savemat(mars / "info" / f"tracks_{subset}_info.mat", {f"track_{subset}_info": table})


@pytest.mark.parametrize("value", [9.5, 3.0001, np.nan])
def test_query_idx_must_hold_whole_numbers(mars, value):
    savemat(mars / "info" / "query_IDX.mat", {"query_IDX": np.array([[3.0, value]])})
    with pytest.raises(DataError, match=r"query_IDX.*whole numbers"):
        load("mars", mars)


def test_table_camera_column_must_match_the_frame_names(mars):
    table = _table(mars)
    table[2, 3] = 2  # row 3 (0002C1T0001) claimed for camera 2
    _save_table(mars, table)
    with pytest.raises(DataError, match=r"0002C1T0001F001.*row 3 of .*tracks_test_info\.mat.*"
                                        r"camera 2.*camera 1 in the name"):
        load("mars", mars)


def test_table_rows_must_tile_the_name_list(mars):
    table = _table(mars)
    gap = table.copy()
    gap[1, 0] += 1  # row 2 starts one line late: name line 3 belongs to no tracklet
    _save_table(mars, gap)
    with pytest.raises(DataError, match=r"row 2 .*tracks_test_info\.mat.*start 3.*got start 4 "
                                        r"after end 2"):
        load("mars", mars)
    overlap = table.copy()
    overlap[0, 1] += 1  # row 1 swallows the first line of row 2
    _save_table(mars, overlap)
    with pytest.raises(DataError, match=r"row 2 .*start 4.*got start 3 after end 3"):
        load("mars", mars)
    first = table.copy()
    first[0, 0] = 2
    _save_table(mars, first)
    with pytest.raises(DataError, match=r"row 1 .*start 1.*got start 2"):
        load("mars", mars)
    _save_table(mars, table[:-1])  # the last tracklet's lines are left over
    with pytest.raises(DataError, match=r"track_test_info.*ending at 14 .*test_name\.txt.*6 rows "
                                        r"ending at 12"):
        load("mars", mars)


def test_frame_name_off_the_grammar(mars):
    path = mars / "info" / "train_name.txt"
    lines = path.read_bytes().split(b"\r\n")
    lines[1] = b"0001C1T0001Fxy2.jpg"
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataError, match=r"'0001C1T0001Fxy2\.jpg'.*row 1 of .*tracks_train_info"
                                        r".*PPPPCcTttttFfff\.jpg"):
        load("mars", mars)
