"""DukeMTMC-VideoReID: ``{train,query,gallery}/<pid4>/<tid4>/<frame>.jpg``.

Both file-name grammars are accepted: ``0001_C6_F0099_X30823.jpg`` and the first release's
``0001C6F0099X30823.jpg``. Frames are ordered by the parsed ``F`` number (some tracklets start at
``F0002``), never by listing order. Query tracklets are copies of gallery tracklets and are kept as
separate items (the same-camera rule removes the self-match). Tracklet id: ``<subset>/<pid>/<tid>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from reidbench.datasets._io import require_dir
from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.types import DatasetSplit, Tracklet

__all__ = ["load_dukev"]

_NEW = re.compile(r"^(\d{4})_C(\d)_F(\d{4})_([XD])(\d+)\.jpg$")
_OLD = re.compile(r"^(\d{4})C(\d)F(\d{4})([XD])(\d+)\.jpg$")


def _parse(name: str, where: Path) -> tuple[int, int, int]:
    m = _NEW.match(name) or _OLD.match(name)
    if not m:
        raise DataError(describe(f"frame name {name!r}", str(where),
                                 "PPPP_Cc_FFFF_Xn.jpg (or the old PPPPCcFFFFXn.jpg)", name,
                                 "remove files that are not DukeMTMC-VideoReID frames"))
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _subset(root: Path, subset: str) -> list[Tracklet]:
    base = require_dir(root / subset, f"{subset} folder",
                       "pass the DukeMTMC-VideoReID folder holding train/, query/ and gallery/")
    out = []
    for pid_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for tid_dir in sorted(p for p in pid_dir.iterdir() if p.is_dir()):
            parsed = [(_parse(f.name, tid_dir), f) for f in tid_dir.iterdir()
                      if f.suffix.lower() == ".jpg"]
            if not parsed:
                continue
            cams = {c for (_, c, _), _ in parsed}
            pids = {p for (p, _, _), _ in parsed}
            if len(cams) != 1 or pids != {int(pid_dir.name)}:
                raise DataError(describe("tracklet folder", str(tid_dir),
                                         f"frames of one camera and pid {pid_dir.name}",
                                         f"cameras {sorted(cams)}, pids {sorted(pids)}",
                                         "restore the folder from the original archive"))
            parsed.sort(key=lambda x: x[0][2])
            out.append(Tracklet(f"{subset}/{pid_dir.name}/{tid_dir.name}", int(pid_dir.name),
                                cams.pop(), tuple(str(f) for _, f in parsed), subset))
    return out


def load_dukev(root: str | Path) -> VideoDataset:
    """Parse a DukeMTMC-VideoReID copy (official layout)."""
    root = Path(root)
    require_dir(root, "DukeMTMC-VideoReID root", "pass the folder holding train/, query/, gallery/")
    train, query, gallery = (_subset(root, s) for s in ("train", "query", "gallery"))
    split = DatasetSplit("official", tuple(t.id for t in train), tuple(t.id for t in query),
                         tuple(t.id for t in gallery))
    return VideoDataset("dukev", str(root), tuple(train + query + gallery), (split,))
