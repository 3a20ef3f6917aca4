"""Core records shared by every layer: plain, frozen, numpy-only.

These are the nouns of the suite. Layers above add behaviour around them; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reidbench.errors import InputError, describe

__all__ = ["Tracklet", "DatasetSplit", "FeatureBank"]


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


@dataclass(frozen=True)
class FeatureBank:
    """Embeddings of a set of items with their labels.

    Attributes:
        ids: Item ids, one per row.
        features: ``(N, D)`` float array.
        pids: ``(N,)`` integer person ids.
        camids: ``(N,)`` integer camera ids.
        meta: Free-form provenance (extractor, sampling, pooling).
    """

    ids: tuple[str, ...]
    features: np.ndarray
    pids: np.ndarray
    camids: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.features.ndim != 2 or self.features.shape[0] != n:
            raise InputError(describe("features", "FeatureBank", f"shape (N={n}, D)",
                                      tuple(self.features.shape), "give one row per id"))
        for name in ("pids", "camids"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise InputError(describe(name, "FeatureBank", f"shape ({n},)", tuple(arr.shape),
                                          "give one label per id"))
