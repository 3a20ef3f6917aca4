"""MARS (Zheng et al., ECCV 2016): ``bbox_{train,test}/<pid4>/<name>.jpg`` + ``info/``.

Tracklets come from ``info/tracks_{train,test}_info.mat`` (rows ``[start, end, pid, camera]``,
1-based inclusive into the CRLF name lists). The pid comes from the table, never from
``int(name[:4])`` (the junk folder is literally ``00-1``); the rows must tile the name list
(start = previous end + 1, last end = line count), and every name must follow the grammar
``PPPPCcTttttFfff.jpg`` with the table's pid folder and camera. ``query_IDX`` is a (1, N) row of
1-based table rows (whole numbers). Frames are ordered by their ``F`` number (the name list
already is, on the official files). Tracklet id: the frame-name prefix before ``F``
(``0001C1T0001``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from reidbench.datasets._io import (
    mat_matrix,
    one_based_rows,
    read_lines,
    read_mat,
    require_dir,
    require_file,
)
from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.types import DatasetSplit, Tracklet

__all__ = ["load_mars"]

_FIX = "copy info/ from the MARS-evaluation repository and the bbox_* folders from the dataset"


#: File-name grammar (MARS-evaluation utils/info_mars.m; docs/datasets.md): pid (or ``00-1``),
#: camera 1..6, T-number, frame.
_NAME = re.compile(r"^(\d{4}|00-1)C([1-6])T(\d{4})F(\d{3})\.jpg$")


def _folder(pid: int) -> str:
    return "00-1" if pid == -1 else f"{pid:04d}"


def _check_tiling(table: np.ndarray, n_names: int, subset: str, mat_path: Path) -> None:
    """Rows must tile the name list: start = previous end + 1, last end = line count."""
    fix = ("the name list and the table do not belong together; copy both from the same "
           "MARS-evaluation checkout")
    previous_end = 0
    for row, (start, end) in enumerate(table[:, :2].tolist(), start=1):
        if start != previous_end + 1:
            raise DataError(describe(
                f"row {row}", str(mat_path), f"start {previous_end + 1} (rows tile "
                f"{subset}_name.txt: the first start is 1, then start = previous end + 1)",
                f"start {start} after end {previous_end}", fix))
        if not start <= end <= n_names:
            raise DataError(describe(f"row {row}", str(mat_path), f"start <= end <= {n_names} "
                                     f"(lines of {subset}_name.txt)",
                                     f"start {start}, end {end}", fix))
        previous_end = end
    if previous_end != n_names:
        raise DataError(describe(f"track_{subset}_info", str(mat_path),
                                 f"a last row ending at {n_names} (the line count of "
                                 f"{subset}_name.txt)", f"{len(table)} rows ending at "
                                 f"{previous_end}", fix))


def _tracklet(rows: list[str], row: int, pid: int, cam: int, mat_path: Path
              ) -> tuple[str, list[str]]:
    """Check one table row's frame names; return its id and the names ordered by frame number."""
    where = f"row {row} of {mat_path}"
    frame_numbers = []
    prefix = rows[0].split("F", 1)[0]
    for name in rows:
        m = _NAME.match(name)
        if m is None:
            raise DataError(describe(f"frame name {name!r}", where,
                                     "PPPPCcTttttFfff.jpg (pid or 00-1, camera 1-6)", name,
                                     "restore info/ from the MARS-evaluation repository"))
        if not name.startswith(prefix) or m.group(1) != _folder(pid):
            raise DataError(describe(f"frame {name!r}", where,
                                     f"names starting {prefix!r} in folder {_folder(pid)}",
                                     name, "the name list and the table disagree"))
        if int(m.group(2)) != cam:
            raise DataError(describe(f"frame {name!r}", where, f"camera {cam} (the table's camera "
                                     "column)", f"camera {m.group(2)} in the name",
                                     "the name list and the table disagree; copy both from the "
                                     "same MARS-evaluation checkout"))
        frame_numbers.append(int(m.group(4)))
    if frame_numbers != sorted(frame_numbers):
        order = np.argsort(frame_numbers, kind="stable")
        rows = [rows[i] for i in order]
    return prefix, rows


def _subset(root: Path, subset: str) -> list[Tracklet]:
    info = root / "info"
    names = read_lines(require_file(info / f"{subset}_name.txt", f"{subset} name list", _FIX))
    mat_path = require_file(info / f"tracks_{subset}_info.mat", f"{subset} track table", _FIX)
    table = mat_matrix(read_mat(mat_path), f"track_{subset}_info", mat_path, ncols=4)
    require_dir(root / f"bbox_{subset}", f"bbox_{subset} folder", _FIX)
    _check_tiling(table, len(names), subset, mat_path)
    out = []
    for row, (start, end, pid, cam) in enumerate(table.tolist(), start=1):
        prefix, rows = _tracklet(names[start - 1:end], row, pid, cam, mat_path)
        frames = tuple(str(root / f"bbox_{subset}" / n[:4] / n) for n in rows)
        out.append(Tracklet(prefix, int(pid), int(cam), frames, subset))
    return out


def load_mars(root: str | Path) -> VideoDataset:
    """Parse a MARS copy (official layout).

    Raises:
        DataError: Missing or malformed ``info/`` files, a table that does not tile the name list
            (start = previous end + 1, last end = line count), a frame name off the grammar or
            whose camera disagrees with the table, ``query_IDX`` pointing past the test table or
            holding non-whole numbers.
    """
    root = Path(root)
    require_dir(root, "MARS root", "pass the folder holding bbox_train/, bbox_test/ and info/")
    train, test = _subset(root, "train"), _subset(root, "test")
    qpath = require_file(root / "info" / "query_IDX.mat", "query index", _FIX)
    mat = read_mat(qpath)
    if "query_IDX" not in mat:
        raise DataError(describe("variable 'query_IDX'", str(qpath), "a variable query_IDX",
                                 f"variables {sorted(mat)}", _FIX))
    q = np.asarray(mat["query_IDX"])
    if q.ndim != 2 or 1 not in q.shape:
        raise DataError(describe("query_IDX", str(qpath), "a (1, N) row vector",
                                 f"shape {q.shape}", _FIX))
    q_rows = one_based_rows(q, len(test), "query_IDX", qpath)
    split = DatasetSplit("official", tuple(t.id for t in train),
                         tuple(test[i].id for i in q_rows), tuple(t.id for t in test))
    return VideoDataset("mars", str(root), tuple(train + test), (split,))
