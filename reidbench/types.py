"""Core records shared by every layer: plain, frozen, numpy-only.

These are the nouns of the suite. Layers above add behaviour around them; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tracklet", "DatasetSplit"]


@dataclass(frozen=True)
class Tracklet:
    """One tracklet (a sequence of person crops from one camera).

    Attributes:
        id: Stable string id, unique within its dataset (e.g. MARS ``"0001C1T0001"``).
        pid: Raw person id as the dataset defines it (MARS: -1 junk, 0 distractor).
        camid: Camera id as the dataset numbers it (1-based where the dataset is).
        frames: Frame image paths, ordered by frame number.
        subset: Which part of the dataset it belongs to (e.g. ``"train"``, ``"test"``, ``"query"``).
    """

    id: str
    pid: int
    camid: int
    frames: tuple[str, ...]
    subset: str

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class DatasetSplit:
    """One train/query/gallery partition of a dataset, by tracklet id.

    Attributes:
        name: Split name, e.g. ``"official"`` or ``"split3"``.
        train: Training tracklet ids.
        query: Query tracklet ids.
        gallery: Gallery tracklet ids (may overlap ``query`` where the protocol says so).
    """

    name: str
    train: tuple[str, ...]
    query: tuple[str, ...]
    gallery: tuple[str, ...]
