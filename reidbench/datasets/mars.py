"""MARS (Zheng et al., ECCV 2016): ``bbox_{train,test}/<pid4>/<name>.jpg`` + ``info/``.

Tracklets come from ``info/tracks_{train,test}_info.mat`` (rows ``[start, end, pid, camera]``,
1-based inclusive into the CRLF name lists). The pid comes from the table, never from
``int(name[:4])`` (the junk folder is literally ``00-1``). ``query_IDX`` is a (1, N) row of
1-based table rows. Frames are ordered by their ``F`` number (the name list already is, on the
official files). Tracklet id: the frame-name prefix before ``F`` (``0001C1T0001``).
"""

from __future__ import annotations

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


def _folder(pid: int) -> str:
    return "00-1" if pid == -1 else f"{pid:04d}"


def _subset(root: Path, subset: str) -> list[Tracklet]:
    info = root / "info"
    names = read_lines(require_file(info / f"{subset}_name.txt", f"{subset} name list", _FIX))
    mat_path = require_file(info / f"tracks_{subset}_info.mat", f"{subset} track table", _FIX)
    table = mat_matrix(read_mat(mat_path), f"track_{subset}_info", mat_path, ncols=4)
    require_dir(root / f"bbox_{subset}", f"bbox_{subset} folder", _FIX)
    out = []
    for row, (start, end, pid, cam) in enumerate(table.tolist()):
        if not 1 <= start <= end <= len(names):
            raise DataError(describe(f"row {row + 1}", str(mat_path),
                                     f"1 <= start <= end <= {len(names)} (lines of "
                                     f"{subset}_name.txt)", f"start {start}, end {end}",
                                     "the name list and the table do not belong together"))
        rows = names[start - 1:end]
        prefix = rows[0].split("F", 1)[0] if "F" in rows[0] else rows[0]
        for name in rows:
            if not name.startswith(prefix) or name[:4] != _folder(pid):
                raise DataError(describe(f"frame {name!r}", f"row {row + 1} of {mat_path}",
                                         f"names starting {prefix!r} in folder {_folder(pid)}",
                                         name, "the name list and the table disagree"))
        frame_numbers = [int(n.split("F", 1)[1].split(".", 1)[0]) for n in rows]
        if frame_numbers != sorted(frame_numbers):
            order = np.argsort(frame_numbers, kind="stable")
            rows = [rows[i] for i in order]
        frames = tuple(str(root / f"bbox_{subset}" / n[:4] / n) for n in rows)
        out.append(Tracklet(prefix, int(pid), int(cam), frames, subset))
    return out


def load_mars(root: str | Path) -> VideoDataset:
    """Parse a MARS copy (official layout).

    Raises:
        DataError: Missing or malformed ``info/`` files, a table that does not tile the name list,
            ``query_IDX`` pointing past the test table.
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
