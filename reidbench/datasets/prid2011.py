"""PRID-2011 (Hirzer et al., SCIA 2011), video version.

``prid_2011/multi_shot/cam_{a,b}/person_NNNN/NNNN.png``, frames ordered by number, and the shipped
``splits_prid2011.json`` (a list of ``{"test": [...], "train": [...]}`` person-folder lists; the
178-person list is taken as shipped, never re-derived from a length threshold). Query = cam_a of the
test persons, gallery = cam_b. Tracklet id: ``cam_a/person_0001``; camid 1 (cam_a) or 2 (cam_b).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from reidbench.datasets._io import require_dir, require_file
from reidbench.datasets.ilidsvid import two_camera_splits
from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.types import Tracklet

__all__ = ["load_prid2011"]

_FRAME = re.compile(r"^(\d{4})\.png$")


def load_prid2011(root: str | Path) -> VideoDataset:
    """Parse a PRID-2011 copy (torchreid layout with ``splits_prid2011.json``)."""
    root = Path(root)
    base = require_dir(root / "prid_2011" / "multi_shot", "multi_shot folder",
                       "pass the folder holding prid_2011/ and splits_prid2011.json")
    tracklets: list[Tracklet] = []
    folders: dict[str, set[str]] = {}
    for cam, letter in ((1, "a"), (2, "b")):
        cam_dir = require_dir(base / f"cam_{letter}", f"cam_{letter} folder", "re-extract")
        folders[letter] = set()
        for person in sorted(p.name for p in cam_dir.iterdir() if p.is_dir()):
            frames = sorted((int(m.group(1)), str(f)) for f in (cam_dir / person).iterdir()
                            if (m := _FRAME.match(f.name)))
            folders[letter].add(person)
            tracklets.append(Tracklet(f"cam_{letter}/{person}", int(person.split("_")[1]), cam,
                                      tuple(f for _, f in frames), "multi_shot"))
    jpath = require_file(root / "splits_prid2011.json", "split file",
                         "download splits_prid2011.json (torchreid's PRID-2011 splits)")
    try:
        raw = json.loads(jpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
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
        missing = [p for p in order if p not in folders["a"] or p not in folders["b"]]
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
    splits = two_camera_splits(orders, "cam_a/{}", "cam_b/{}")
    return VideoDataset("prid2011", str(root), tuple(tracklets), splits)
