"""What every layout writer shares: rendering tracklets to files, text files, the manifest."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.png import png_bytes
from reidbench.datasets.synthetic.tracklets import TrackletSpec, World, render_tracklet

__all__ = ["Context", "Record", "pick_cameras"]


@dataclass
class Record:
    """Ground truth of one tracklet as the parser must report it."""

    id: str
    pid: int
    camid: int
    subset: str
    frames: list[str]
    kind: str = "person"
    identity: int | None = None
    nuisances: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "pid": self.pid, "camid": self.camid, "subset": self.subset,
                "num_frames": len(self.frames), "frames": self.frames, "kind": self.kind,
                "identity": self.identity, "nuisances": self.nuisances}


class Context:
    """A layout writer's handle on the output tree and the renderer.

    Args:
        root: Directory the copy is written into (the dataset root a parser is given).
        world: Identities and cameras.
        image_format: ``"JPEG"`` or ``"PNG"``, as the real dataset ships.
    """

    def __init__(self, root: Path, world: World, image_format: str) -> None:
        self.root = root
        self.world = world
        self.config: SynthConfig = world.config
        self.image_format = image_format
        self.records: list[Record] = []
        self.frames_rendered = 0
        self._key = 0
        self._dirs: set[Path] = set()

    def _mkdir(self, d: Path) -> None:
        if d not in self._dirs:
            d.mkdir(parents=True, exist_ok=True)
            self._dirs.add(d)

    def save(self, rel: str, frame: np.ndarray) -> None:
        """Encode one frame at ``root/rel``."""
        path = self.root / rel
        self._mkdir(path.parent)
        if self.image_format == "JPEG":
            Image.fromarray(frame).save(path, format="JPEG", quality=self.config.jpeg_quality)
        else:
            path.write_bytes(png_bytes(frame, self.config.png_compress_level))

    def render(self, ident: int, cam: int, rels: list[str], kind: str = "person"
               ) -> tuple[np.ndarray, dict[str, Any]]:
        """Render a tracklet of ``len(rels)`` frames and save frame ``k`` at ``rels[k]``.

        Args:
            ident: Identity row.
            cam: 0-based camera index.
            rels: Relative frame paths, in temporal order.
            kind: ``"person"``, ``"junk"`` or ``"distractor"``.

        Returns:
            The frames and the nuisance ground truth.
        """
        self._key += 1
        spec = TrackletSpec(ident=ident, cam=cam, length=len(rels), key=(self._key,), kind=kind)
        frames, info = render_tracklet(self.world, spec)
        for rel, frame in zip(rels, frames, strict=True):
            self.save(rel, frame)
        self.frames_rendered += len(rels)
        return frames, info

    def copy(self, src_rel: str, dst_rel: str) -> None:
        """Copy a file byte for byte (DukeV query tracklets are copies of gallery ones)."""
        dst = self.root / dst_rel
        self._mkdir(dst.parent)
        shutil.copyfile(self.root / src_rel, dst)

    def text(self, rel: str, lines: list[str], crlf: bool = False) -> None:
        """Write lines, each terminated by CRLF (as MATLAB's fprintf wrote MARS's) or LF."""
        path = self.root / rel
        self._mkdir(path.parent)
        end = "\r\n" if crlf else "\n"
        path.write_bytes("".join(line + end for line in lines).encode("ascii"))

    def path(self, rel: str) -> Path:
        """Absolute path of ``rel``, with its parent directory created."""
        p = self.root / rel
        self._mkdir(p.parent)
        return p

    def add(self, record: Record) -> Record:
        self.records.append(record)
        return record


def pick_cameras(rng: np.random.Generator, n_cams: int, lo: int, hi: int) -> list[int]:
    """A sorted random set of ``lo..hi`` distinct 0-based cameras out of ``n_cams``."""
    k = int(rng.integers(lo, min(hi, n_cams) + 1))
    return sorted(int(c) for c in rng.choice(n_cams, size=k, replace=False))
