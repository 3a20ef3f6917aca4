"""The one index type every parser produces."""

from __future__ import annotations

from dataclasses import dataclass, field

from reidbench.errors import DataError, describe
from reidbench.registry import suggest
from reidbench.types import DatasetSplit, Tracklet

__all__ = ["VideoDataset"]


@dataclass(frozen=True)
class VideoDataset:
    """A parsed dataset copy: every tracklet and the dataset's own splits.

    Attributes:
        name: Layout name (``mars``, ``dukev``, ``ilidsvid``, ``prid2011``, ``lsvid``).
        root: The copy's root folder.
        tracklets: Every tracklet, in a deterministic order (the dataset's own).
        splits: The dataset's partitions by tracklet id (one ``official`` split, or ``split0`` ..
            ``split9``): query and gallery as the dataset designates them (MARS: the gallery is
            every test tracklet, queries and junk included; protocols derive their galleries).
        split_source: The split file used, relative to ``root``, where a layout has alternatives
            (PRID-2011: ``splits_prid2011.json`` or the official ``.mat``); None otherwise.
    """

    name: str
    root: str
    tracklets: tuple[Tracklet, ...]
    splits: tuple[DatasetSplit, ...]
    split_source: str | None = None
    _by_id: dict[str, Tracklet] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Tracklet] = {}
        for t in self.tracklets:
            if t.id in by_id:
                raise DataError(describe(f"tracklet id {t.id!r}", self.root, "unique ids",
                                         "a duplicate", "check the copy for duplicated folders"))
            by_id[t.id] = t
        self._by_id.update(by_id)

    def tracklet(self, id: str) -> Tracklet:
        """Return the tracklet with this id."""
        try:
            return self._by_id[id]
        except KeyError:
            raise DataError(describe(f"tracklet {id!r}", f"{self.name} at {self.root}",
                                     "a tracklet of the copy", "no such id", "")) from None

    def split(self, name: str | int) -> DatasetSplit:
        """Return a split by name (``"official"``, ``"split3"``) or position."""
        if isinstance(name, int):
            if not 0 <= name < len(self.splits):
                raise DataError(describe("split", self.name, f"0..{len(self.splits) - 1}", name,
                                         ""))
            return self.splits[name]
        for s in self.splits:
            if s.name == name:
                return s
        names = [s.name for s in self.splits]
        raise DataError(describe(f"split {name!r}", self.name, f"one of {names}", "unknown",
                                 suggest(name, names)))

    def __len__(self) -> int:
        return len(self.tracklets)
