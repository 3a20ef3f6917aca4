"""PRID-2011 (Hirzer et al., SCIA 2011), video version.

``prid_2011/multi_shot/cam_{a,b}/person_NNNN/NNNN.png``, frames ordered by number. Splits come
from the shipped ``splits_prid2011.json`` (a list of ``{"test": [...], "train": [...]}``
person-folder lists; the 178-person list is taken as shipped, never re-derived from a length
threshold). Without it, the official ``train_test_splits_prid.mat`` (the file iLIDS-VID ships in
``train-test people splits/``) is read instead: ``ls_set`` (S x M) holds 1-based indices into the
sorted list of *qualifying* persons, the first M/2 columns of each row test, the rest train. The
qualifying persons follow yolomax's rule (person-reid-lib ``prid2011.py``; ``docs/datasets.md``):
folders among the first 200 sorted folders of both cameras with at least 27 frames in both; on
the real data that gives the 178 persons the file indexes, and the loader refuses a file whose M
differs from the count.
Query = cam_a of the test persons, gallery = cam_b. Tracklet id: ``cam_a/person_0001``; camid 1
(cam_a) or 2 (cam_b); pid the person number for the first 200 sorted folders of a camera (the same
people in both), ``10000 + NNNN`` (cam_a) or ``20000 + NNNN`` (cam_b) beyond them, where each
camera shows other people (:func:`person_pid`). A person folder holds ``NNNN.png`` frames only
(stray files: ``docs/datasets.md``) and at least one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from reidbench.datasets._io import folder_files, mat_matrix, one_based_rows, read_mat, require_dir
from reidbench.datasets.ilidsvid import two_camera_splits
from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.fileio import loads_bounded
from reidbench.types import Tracklet

__all__ = ["load_prid2011", "qualifying_persons", "person_pid", "SPLIT_JSON", "SPLIT_MAT",
           "SPLIT_MAT_DIR", "MIN_FRAMES", "FIRST_FOLDERS"]

SPLIT_JSON = "splits_prid2011.json"
SPLIT_MAT = "train_test_splits_prid.mat"
#: The folder the .mat ships in inside the iLIDS-VID archive (its name contains spaces).
SPLIT_MAT_DIR = "train-test people splits"
#: yolomax's threshold: frames in *each* camera for a person to be indexed by the .mat.
MIN_FRAMES = 27
#: Only the first 200 sorted folders of each camera show the same people in both cameras.
FIRST_FOLDERS = 200

_FRAME = re.compile(r"^(\d{4})\.png$")
_PERSON = re.compile(r"^person_(\d{4})$")
_QUALIFY = (f"persons among the first {FIRST_FOLDERS} sorted folders of both cameras with >= "
            f"{MIN_FRAMES} frames in both")


def qualifying_persons(frames_a: Mapping[str, int], frames_b: Mapping[str, int]) -> list[str]:
    """The sorted persons the official ``.mat`` indexes (yolomax's rule).

    Args:
        frames_a: Frame count per person folder of cam_a (every folder of the camera).
        frames_b: The same for cam_b.

    Returns:
        Folder names among the first :data:`FIRST_FOLDERS` sorted folders of *both* cameras with
        at least :data:`MIN_FRAMES` frames in both, sorted.
    """
    first_b = set(sorted(frames_b)[:FIRST_FOLDERS])
    return [p for p in sorted(frames_a)[:FIRST_FOLDERS]
            if p in first_b and frames_a[p] >= MIN_FRAMES and frames_b[p] >= MIN_FRAMES]


#: Pid offset of a camera's folders beyond the first :data:`FIRST_FOLDERS`: those persons appear in
#: that camera only, so ``cam_a/person_0300`` and ``cam_b/person_0300`` are different people.
ONE_CAMERA_PID_OFFSET = {1: 10000, 2: 20000}


def person_pid(number: int, cam: int, rank: int) -> int:
    """The pid of a camera's ``person_NNNN`` folder, its ``rank``-th in sorted order.

    The first :data:`FIRST_FOLDERS` folders of both cameras show the same people and keep their
    number as pid; folders beyond them are seen by one camera only and get a pid of their own
    (``10000 + NNNN`` in cam_a, ``20000 + NNNN`` in cam_b), so they never match across cameras.
    """
    return number if rank < FIRST_FOLDERS else ONE_CAMERA_PID_OFFSET[cam] + number


def _frames(person_dir: Path) -> list[str]:
    """A person folder's ``NNNN.png`` frames in frame order; stray files and no frames refused."""
    frames = []
    for f in folder_files(person_dir):
        fm = _FRAME.match(f.name) if f.is_file() else None
        if fm is None:
            raise DataError(describe(f"file {f.name!r}", str(person_dir), "NNNN.png frames "
                                     "only", f.name, "remove files that are not PRID-2011 "
                                     "frames"))
        frames.append((int(fm.group(1)), str(f)))
    if not frames:
        raise DataError(describe("person folder with no frames", str(person_dir),
                                 "at least one NNNN.png frame", "none",
                                 "restore the folder from the original archive"))
    return [f for _, f in sorted(frames)]


def load_prid2011(root: str | Path) -> VideoDataset:
    """Parse a PRID-2011 copy (torchreid layout).

    Splits are read from ``splits_prid2011.json`` when present, else from the official
    ``train_test_splits_prid.mat`` at the root or under ``train-test people splits/``.

    Raises:
        DataError: A missing folder, no split file, or a malformed split file (named).
    """
    root = Path(root)
    base = require_dir(root / "prid_2011" / "multi_shot", "multi_shot folder",
                       f"pass the folder holding prid_2011/ and {SPLIT_JSON}")
    tracklets: list[Tracklet] = []
    counts: dict[str, dict[str, int]] = {}
    for cam, letter in ((1, "a"), (2, "b")):
        cam_dir = require_dir(base / f"cam_{letter}", f"cam_{letter} folder", "re-extract")
        counts[letter] = {}
        persons = sorted(p.name for p in cam_dir.iterdir() if p.is_dir())
        for rank, person in enumerate(persons):
            m = _PERSON.match(person)
            if m is None:
                raise DataError(describe(f"folder {person!r}", str(cam_dir), "person_NNNN "
                                         "folders", person, "remove folders that are not "
                                         "PRID-2011 persons"))
            frames = _frames(cam_dir / person)
            counts[letter][person] = len(frames)
            tracklets.append(Tracklet(f"cam_{letter}/{person}", person_pid(int(m.group(1)), cam,
                                                                           rank), cam,
                                      tuple(frames), "multi_shot"))
    jpath = root / SPLIT_JSON
    if jpath.is_file():
        orders, source = _json_orders(jpath, counts), SPLIT_JSON
    else:
        mpath = next((p for p in (root / SPLIT_MAT, root / SPLIT_MAT_DIR / SPLIT_MAT)
                      if p.is_file()), None)
        if mpath is None:
            raise DataError(describe("split file", str(jpath), "an existing file",
                                     "nothing there", f"download {SPLIT_JSON} (torchreid's "
                                     f"PRID-2011 splits), or copy {SPLIT_MAT} from iLIDS-VID's "
                                     f"'{SPLIT_MAT_DIR}/' into {root}"))
        orders = _mat_orders(mpath, qualifying_persons(counts["a"], counts["b"]))
        source = mpath.relative_to(root).as_posix()
    splits = two_camera_splits(orders, "cam_a/{}", "cam_b/{}")
    return VideoDataset("prid2011", str(root), tuple(tracklets), splits, split_source=source)


def _json_orders(jpath: Path, counts: dict[str, dict[str, int]]) -> list[list[str]]:
    """Per-split person orders (test half first) from ``splits_prid2011.json``."""
    try:
        raw = loads_bounded(jpath.read_text())
    except (ValueError, UnicodeDecodeError) as exc:  # invalid, oversized or too deep JSON
        raise DataError(describe("split file", str(jpath), "valid JSON", str(exc),
                                 "re-download it")) from None
    if not isinstance(raw, list) or not raw or not all(
            isinstance(s, dict) and isinstance(s.get("test"), list)
            and isinstance(s.get("train"), list) for s in raw):
        raise DataError(describe("split file", str(jpath), "a list of {\"test\": [...], "
                                 "\"train\": [...]} objects", type(raw).__name__, "re-download it"))
    orders = []
    for k, s in enumerate(raw):
        order = [str(p) for p in s["test"] + s["train"]]
        missing = [p for p in order if p not in counts["a"] or p not in counts["b"]]
        if missing:
            raise DataError(describe(f"split {k}", str(jpath), "persons present in both cameras",
                                     f"{missing[0]!r} missing", "the copy is incomplete"))
        if len(set(order)) != len(order):
            raise DataError(describe(f"split {k}", str(jpath), "disjoint test and train persons",
                                     "a person listed twice", "re-download it"))
        if len(s["test"]) != len(s["train"]):
            raise DataError(describe(f"split {k}", str(jpath), "equal test and train halves",
                                     f"{len(s['test'])} vs {len(s['train'])}", "re-download it"))
        orders.append(order)
    return orders


def _mat_orders(mpath: Path, persons: list[str]) -> list[list[str]]:
    """Per-split person orders (test half first) from the official ``ls_set`` over ``persons``."""
    ls_set = mat_matrix(read_mat(mpath), "ls_set", mpath)
    n_splits, m = ls_set.shape
    if n_splits < 1 or m < 2 or m % 2:
        raise DataError(describe("ls_set", str(mpath), "an (S, M) matrix with S >= 1 splits and "
                                 "an even number M >= 2 of persons (test half, train half)",
                                 f"shape {ls_set.shape}", "use the official split file"))
    if m != len(persons):
        raise DataError(describe("ls_set", str(mpath), f"{m} qualifying persons ({_QUALIFY}), "
                                 "one per column", f"{len(persons)} in this copy",
                                 f"the file cannot be mapped onto this copy's folders; use "
                                 f"{SPLIT_JSON} instead"))
    orders = []
    for k, row in enumerate(np.asarray(ls_set)):
        idx = one_based_rows(row, m, f"ls_set row {k + 1}", mpath, "person indices")
        if len(set(idx.tolist())) != m:
            raise DataError(describe(f"ls_set row {k + 1}", str(mpath), f"a permutation of 1..{m} "
                                     "(test and train halves disjoint)",
                                     "repeated person indices", "use the official split file"))
        orders.append([persons[i] for i in idx])
    return orders
