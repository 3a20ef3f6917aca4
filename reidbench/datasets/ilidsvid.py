"""iLIDS-VID (Wang et al., ECCV 2014): two cameras, 10 splits in ``ls_set``.

``i-LIDS-VID/sequences/cam{1,2}/personNNN/cam{c}_personNNN_FFFFF.png``; frames ordered by the
5-digit frame number. ``train-test people splits/train_test_splits_ilidsvid.mat`` holds ``ls_set``
(10 x N): 1-based indices into the **sorted** person folders; the first N/2 columns of each row are
the test persons (query = their cam1 sequences, gallery = cam2), the rest train (both cameras).
Tracklet id: ``cam1/person001``; camid 1 or 2; pid the person number.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from reidbench.datasets._io import (
    folder_files,
    mat_matrix,
    one_based_rows,
    read_mat,
    require_dir,
    require_file,
)
from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.types import DatasetSplit, Tracklet

__all__ = ["load_ilidsvid", "two_camera_splits"]

_FRAME = re.compile(r"^cam([12])_person(\d{3})_(\d{5})\.png$")
_PERSON = re.compile(r"^person(\d{3})$")


def two_camera_splits(orders: list[list[str]], query_fmt: str, gallery_fmt: str
                      ) -> tuple[DatasetSplit, ...]:
    """Splits from per-split person orders: first half test (query cam A, gallery cam B)."""
    out = []
    for k, order in enumerate(orders):
        half = len(order) // 2
        test, train = order[:half], order[half:]
        out.append(DatasetSplit(
            f"split{k}",
            tuple(fmt.format(p) for p in train for fmt in (query_fmt, gallery_fmt)),
            tuple(query_fmt.format(p) for p in test),
            tuple(gallery_fmt.format(p) for p in test)))
    return tuple(out)


def _person_folders(cam_dir: Path) -> list[str]:
    """Sorted person folder names of one camera, each checked against ``personNNN``."""
    persons = sorted(p.name for p in cam_dir.iterdir() if p.is_dir())
    for person in persons:
        if not _PERSON.match(person):
            raise DataError(describe(f"folder {person!r}", str(cam_dir / person), "personNNN "
                                     "folders (e.g. person001)", person, "remove folders that "
                                     "are not iLIDS-VID persons"))
    return persons


def _sequence(cam: int, person_dir: Path) -> Tracklet:
    """One camera's sequence of one person, frames ordered by their 5-digit frame number."""
    person = person_dir.name
    frames = []
    for f in folder_files(person_dir):
        m = _FRAME.match(f.name) if f.is_file() else None
        if m is None or int(m.group(1)) != cam or f"person{m.group(2)}" != person:
            raise DataError(describe(f"frame {f.name!r}", str(person_dir),
                                     f"cam{cam}_{person}_FFFFF.png", f.name,
                                     "remove files that are not iLIDS-VID frames"))
        frames.append((int(m.group(3)), str(f)))
    if not frames:
        raise DataError(describe("person folder with no frames", str(person_dir),
                                 f"at least one cam{cam}_{person}_FFFFF.png frame", "none",
                                 "restore the folder from the original archive"))
    frames.sort()
    return Tracklet(f"cam{cam}/{person}", int(person[6:]), cam, tuple(f for _, f in frames),
                    "sequences")


def load_ilidsvid(root: str | Path) -> VideoDataset:
    """Parse an iLIDS-VID copy (official layout).

    Raises:
        DataError: A missing folder or split file, a person folder or frame name off the grammar,
            cameras with different persons, or an ``ls_set`` that does not fit the copy.
    """
    root = Path(root)
    seq = require_dir(root / "i-LIDS-VID" / "sequences", "sequences folder",
                      "pass the folder holding i-LIDS-VID/ and 'train-test people splits/'")
    persons: dict[int, list[str]] = {}
    tracklets: list[Tracklet] = []
    for cam in (1, 2):
        cam_dir = require_dir(seq / f"cam{cam}", f"cam{cam} folder", "re-extract the dataset")
        persons[cam] = _person_folders(cam_dir)
        tracklets += [_sequence(cam, cam_dir / person) for person in persons[cam]]
    if persons[1] != persons[2]:
        raise DataError(describe("person folders", str(seq), "the same persons in cam1 and cam2",
                                 f"{len(set(persons[1]) ^ set(persons[2]))} differing",
                                 "re-extract the dataset"))
    mat_path = require_file(root / "train-test people splits" / "train_test_splits_ilidsvid.mat",
                            "split file", "copy 'train-test people splits/' from the dataset")
    ls_set = mat_matrix(read_mat(mat_path), "ls_set", mat_path)
    if ls_set.shape[1] != len(persons[1]):
        raise DataError(describe("ls_set", str(mat_path), f"{len(persons[1])} columns (one per "
                                 "person folder)", f"shape {ls_set.shape}",
                                 "the split file does not belong to this copy"))
    orders = []
    for k, row in enumerate(np.asarray(ls_set)):
        idx = one_based_rows(row, len(persons[1]), "ls_set", mat_path)
        if len(set(idx.tolist())) != len(idx):
            raise DataError(describe(f"ls_set row {k + 1}", str(mat_path), "a permutation of "
                                     f"1..{len(idx)} (test and train halves disjoint)",
                                     "repeated person indices", "use the official split file"))
        orders.append([persons[1][i] for i in idx])
    splits = two_camera_splits(orders, "cam1/{}", "cam2/{}")
    return VideoDataset("ilidsvid", str(root), tuple(tracklets), splits)
