"""LS-VID (Li et al., ICCV 2019): sequence lists of path prefixes and an HDF5 query index.

``list_sequence/list_seq_{train,val,test}.txt`` hold ``<prefix> <pid>`` per line; a tracklet's
frames are the files under ``<root>/<prefix>_*`` (ordered by the frame token, the 2nd
``_``-field); the camera is the 3rd ``_``-field of a frame name. ``test/data/info_test.mat`` is
MATLAB v7.3 (HDF5, read with h5py): ``query`` holds 1-based rows of ``list_seq_test.txt``. The
gallery is the whole test list (the protocol decides what to remove). Tracklet id: the prefix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reidbench.datasets._io import one_based_rows, read_lines, read_mat, require_dir, require_file
from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.types import DatasetSplit, Tracklet

__all__ = ["load_lsvid"]

_FIX = "pass the LS-VID folder holding list_sequence/, test/data/ and tracklet_*/"


def _subset(root: Path, subset: str) -> list[Tracklet]:
    lst = require_file(root / "list_sequence" / f"list_seq_{subset}.txt", f"{subset} list", _FIX)
    by_dir: dict[Path, list[Path]] = {}
    out = []
    for n, line in enumerate(read_lines(lst), start=1):
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DataError(describe(f"line {n}", str(lst), "'<prefix> <pid>'", repr(line), _FIX))
        prefix, pid = parts[0], int(parts[1])
        folder = (root / prefix).parent
        if folder not in by_dir:
            by_dir[folder] = sorted(folder.iterdir()) if folder.is_dir() else []
        stem = Path(prefix).name + "_"
        files = [f for f in by_dir[folder] if f.name.startswith(stem)]
        if not files:
            raise DataError(describe(f"tracklet {prefix!r}", str(lst), "frames named "
                                     f"{stem}*", "none", "the copy is incomplete"))
        fields = [f.name.split("_") for f in files]
        if any(len(x) < 4 for x in fields):
            raise DataError(describe("frame name", str(folder), "<track>_<frame>_<cam>_<idx>.jpg",
                                     files[0].name, _FIX))
        cams = {int(x[2]) for x in fields}
        if len(cams) != 1:
            raise DataError(describe(f"tracklet {prefix!r}", str(folder), "frames of one camera",
                                     sorted(cams), _FIX))
        order = np.argsort([int(x[1]) for x in fields], kind="stable")
        out.append(Tracklet(prefix, pid, cams.pop(), tuple(str(files[i]) for i in order), subset))
    return out


def load_lsvid(root: str | Path) -> VideoDataset:
    """Parse an LS-VID copy."""
    root = Path(root)
    require_dir(root, "LS-VID root", _FIX)
    train, test = _subset(root, "train"), _subset(root, "test")
    val_list = root / "list_sequence" / "list_seq_val.txt"
    val = _subset(root, "val") if val_list.is_file() else []
    qpath = require_file(root / "test" / "data" / "info_test.mat", "query index", _FIX)
    mat = read_mat(qpath)
    if "query" not in mat:
        raise DataError(describe("dataset 'query'", str(qpath), "an HDF5 dataset query",
                                 f"{sorted(mat)}", _FIX))
    rows = one_based_rows(np.asarray(mat["query"]).ravel(), len(test), "query", qpath)
    split = DatasetSplit("official", tuple(t.id for t in train), tuple(test[i].id for i in rows),
                         tuple(t.id for t in test))
    return VideoDataset("lsvid", str(root), tuple(train + val + test), (split,))
