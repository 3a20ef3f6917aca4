"""LS-VID (Li et al., ICCV 2019): sequence lists of path prefixes and an HDF5 query index.

``list_sequence/list_seq_{train,val,test}.txt`` hold ``<prefix> <pid>`` per line; a tracklet's
frames are the files under ``<root>/<prefix>_*`` (ordered by the frame token, the 2nd
``_``-field); the camera is the 3rd ``_``-field of a frame name (1..15).
``test/data/info_test.mat`` is MATLAB v7.3 (HDF5, read with h5py): ``query``, a (1, Nq) vector,
holds 1-based rows of ``list_seq_test.txt``. The gallery is the whole test list (the protocol
decides what to remove). Tracklet id: the prefix. Some loaders expect ``info/list_sequence/`` and
``info/data/`` instead (``docs/datasets.md``); such a copy is refused with the commands that fix it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from reidbench.datasets._io import one_based_rows, read_lines, read_mat, require_dir, require_file
from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.types import DatasetSplit, Tracklet

__all__ = ["load_lsvid"]

_FIX = "pass the LS-VID folder holding list_sequence/, test/data/ and tracklet_*/"
#: Frame names: ``<track>_<frame>_<camera>_<index>...``; frame and camera are decimal numbers.
_NUMBER = re.compile(r"^[0-9]+$")
N_CAMS = 15


def _layout_fix(root: Path) -> str:
    """How to fix a missing metadata file; names the move for the ``info/`` layout."""
    if (root / "info" / "list_sequence").is_dir() or (root / "info" / "data").is_dir():
        return ("this copy has the info/list_sequence/ + info/data/ layout some loaders expect; "
                "move or symlink them to list_sequence/ and test/data/ "
                f"(cd {root} && ln -s info/list_sequence list_sequence && mkdir -p test && "
                "ln -s ../info/data test/data)")
    return _FIX


def _frame_fields(files: list[Path], prefix: str, folder: Path) -> tuple[int, list[int]]:
    """The one camera and the frame numbers of a tracklet's files, checked against the grammar."""
    cams, numbers = set(), []
    for f in files:
        x = f.name.split("_")
        if len(x) < 4 or not _NUMBER.match(x[1]) or not _NUMBER.match(x[2]) or not (
                1 <= int(x[2]) <= N_CAMS):
            raise DataError(describe(f"frame name {f.name!r}", str(folder),
                                     "<track>_<frame>_<camera>_<index>.jpg with a numeric frame "
                                     f"and a camera 1-{N_CAMS}", f.name,
                                     "remove files that are not LS-VID frames"))
        cams.add(int(x[2]))
        numbers.append(int(x[1]))
    if len(cams) != 1:
        raise DataError(describe(f"tracklet {prefix!r}", str(folder), "frames of one camera",
                                 f"cameras {sorted(cams)}", "restore the tracklet from the "
                                 "original archive"))
    return cams.pop(), numbers


def _subset(root: Path, subset: str) -> list[Tracklet]:
    lst = require_file(root / "list_sequence" / f"list_seq_{subset}.txt", f"{subset} list",
                       _layout_fix(root))
    by_dir: dict[Path, list[Path]] = {}
    out = []
    for n, line in enumerate(read_lines(lst), start=1):
        parts = line.split()
        if len(parts) != 2 or not re.match(r"^-?[0-9]+$", parts[1]):
            raise DataError(describe(f"line {n}", str(lst), "'<prefix> <pid>'", repr(line), _FIX))
        prefix, pid = parts[0], int(parts[1])
        folder = (root / prefix).parent
        if folder not in by_dir:
            by_dir[folder] = sorted(folder.iterdir()) if folder.is_dir() else []
        stem = Path(prefix).name + "_"
        files = [f for f in by_dir[folder] if f.name.startswith(stem)]
        if not files:
            raise DataError(describe(f"tracklet {prefix!r}", str(lst), "frames named "
                                     f"{stem}*", "none", "the copy is incomplete; re-extract "
                                     f"{folder} from the archive"))
        cam, numbers = _frame_fields(files, prefix, folder)
        order = np.argsort(numbers, kind="stable")
        out.append(Tracklet(prefix, pid, cam, tuple(str(files[i]) for i in order), subset))
    return out


def _query_rows(qpath: Path, n_test: int) -> np.ndarray:
    """0-based test-list rows from ``info_test.mat``'s ``query`` (a (1, Nq) vector, 1-based)."""
    mat = read_mat(qpath)
    if "query" not in mat:
        raise DataError(describe("dataset 'query'", str(qpath), "an HDF5 dataset query",
                                 f"{sorted(mat)}", _FIX))
    q = np.asarray(mat["query"])
    if q.ndim != 2 or 1 not in q.shape or q.size == 0:
        raise DataError(describe("query", str(qpath), "a (1, Nq) vector of 1-based rows of "
                                 "list_seq_test.txt, Nq >= 1", f"shape {q.shape}",
                                 "use the official info_test.mat"))
    return one_based_rows(q, n_test, "query", qpath)


def load_lsvid(root: str | Path) -> VideoDataset:
    """Parse an LS-VID copy.

    Raises:
        DataError: A missing list or ``info_test.mat`` (with the fix for the ``info/`` layout),
            a malformed list line, a tracklet without frames, a frame name off the grammar, or a
            ``query`` that is not a (1, Nq) vector of whole numbers in range.
    """
    root = Path(root)
    require_dir(root, "LS-VID root", _FIX)
    train, test = _subset(root, "train"), _subset(root, "test")
    val_list = root / "list_sequence" / "list_seq_val.txt"
    val = _subset(root, "val") if val_list.is_file() else []
    qpath = require_file(root / "test" / "data" / "info_test.mat", "query index",
                         _layout_fix(root))
    rows = _query_rows(qpath, len(test))
    split = DatasetSplit("official", tuple(t.id for t in train), tuple(test[i].id for i in rows),
                         tuple(t.id for t in test))
    return VideoDataset("lsvid", str(root), tuple(train + val + test), (split,))
