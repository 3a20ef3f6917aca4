"""DukeMTMC-VideoReID: ``{train,query,gallery}/<pid4>/<tid4>/<frame>.jpg``.

Both file-name grammars are accepted: ``0001_C6_F0099_X30823.jpg`` and the first release's
``0001C6F0099X30823.jpg``. Frames are ordered by the parsed ``F`` number (some tracklets start at
``F0002``), never by listing order. Query tracklets are copies of gallery tracklets and are kept as
separate items (the same-camera rule removes the self-match). Identity and tracklet folders are
4-digit names, cameras 1..8, and a tracklet folder without frames is an error, not skipped; so is
a stray file in a tracklet folder (OS artefacts such as Thumbs.db aside; docs/datasets.md).
Tracklet id: ``<subset>/<pid>/<tid>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from reidbench.datasets._io import folder_files, require_dir
from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.types import DatasetSplit, Tracklet

__all__ = ["load_dukev"]

_NEW = re.compile(r"^(\d{4})_C([1-8])_F(\d{4})_([XD])(\d+)\.jpg$")
_OLD = re.compile(r"^(\d{4})C([1-8])F(\d{4})([XD])(\d+)\.jpg$")
_FOLDER = re.compile(r"^\d{4}$")  # both <pid> and <tracklet id> folders: 4 digits
_RESTORE = "restore the folder from the original archive"


def _parse(name: str, where: Path) -> tuple[int, int, int]:
    m = _NEW.match(name) or _OLD.match(name)
    if not m:
        raise DataError(describe(f"frame name {name!r}", str(where),
                                 "PPPP_Cc_FFFF_Xn.jpg or the old PPPPCcFFFFXn.jpg (camera 1-8, "
                                 "flag X or D)", name,
                                 "remove files that are not DukeMTMC-VideoReID frames"))
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _folders(parent: Path, what: str) -> list[Path]:
    """Sub-folders of ``parent``, sorted, each named by 4 digits (``0001``)."""
    out = sorted(p for p in parent.iterdir() if p.is_dir())
    for p in out:
        if not _FOLDER.match(p.name):
            raise DataError(describe(f"folder {p.name!r}", str(p), f"{what} folders named by 4 "
                                     "digits (e.g. 0001)", p.name, "remove folders that are not "
                                     "part of DukeMTMC-VideoReID"))
    return out


def _tracklet(subset: str, pid_dir: Path, tid_dir: Path) -> Tracklet:
    """One tracklet folder: frames of one camera and the folder's pid, ordered by F number."""
    parsed = [(_parse(f.name, tid_dir), f) for f in folder_files(tid_dir)]
    if not parsed:
        raise DataError(describe("tracklet folder with no frames", str(tid_dir),
                                 "at least one .jpg frame", "none",
                                 f"{_RESTORE}, or delete the empty folder"))
    cams = {c for (_, c, _), _ in parsed}
    pids = {p for (p, _, _), _ in parsed}
    if len(cams) != 1 or pids != {int(pid_dir.name)}:
        raise DataError(describe("tracklet folder", str(tid_dir),
                                 f"frames of one camera and pid {pid_dir.name}",
                                 f"cameras {sorted(cams)}, pids {sorted(pids)}", _RESTORE))
    parsed.sort(key=lambda x: x[0][2])
    return Tracklet(f"{subset}/{pid_dir.name}/{tid_dir.name}", int(pid_dir.name), cams.pop(),
                    tuple(str(f) for _, f in parsed), subset)


def _subset(root: Path, subset: str) -> list[Tracklet]:
    base = require_dir(root / subset, f"{subset} folder",
                       "pass the DukeMTMC-VideoReID folder holding train/, query/ and gallery/")
    return [_tracklet(subset, pid_dir, tid_dir) for pid_dir in _folders(base, "identity")
            for tid_dir in _folders(pid_dir, "tracklet")]


#: Where the subsets may sit below the root given: the folder itself, the folder the official
#: archive (DukeMTMC-VideoReID.zip) extracts into, or torchreid's ``dukemtmc-vidreid/`` root.
ROOT_CANDIDATES = (".", "DukeMTMC-VideoReID", "dukemtmc-vidreid/DukeMTMC-VideoReID",
                   "dukemtmc-vidreid")


def resolve_root(root: Path) -> Path:
    """The folder holding ``train/``, ``query/`` and ``gallery/`` (see :data:`ROOT_CANDIDATES`).

    Raises:
        DataError: None of the candidates holds the three subsets.
    """
    require_dir(root, "DukeMTMC-VideoReID root", "pass the folder holding train/, query/, "
                "gallery/")
    for rel in ROOT_CANDIDATES:
        cand = root / rel
        if all((cand / s).is_dir() for s in ("train", "query", "gallery")):
            return cand
    return root  # the subsets' own check names what is missing


def load_dukev(root: str | Path) -> VideoDataset:
    """Parse a DukeMTMC-VideoReID copy (official layout).

    ``root`` is the ``DukeMTMC-VideoReID`` folder, the folder the archive was extracted in, or
    torchreid's dataset root holding ``dukemtmc-vidreid/`` (:func:`resolve_root`).

    Raises:
        DataError: A missing subset folder, a folder or frame name off the grammar, an empty
            tracklet folder, or a tracklet mixing cameras or identities (each named).
    """
    root = resolve_root(Path(root))
    train, query, gallery = (_subset(root, s) for s in ("train", "query", "gallery"))
    split = DatasetSplit("official", tuple(t.id for t in train), tuple(t.id for t in query),
                         tuple(t.id for t in gallery))
    return VideoDataset("dukev", str(root), tuple(train + query + gallery), (split,))
