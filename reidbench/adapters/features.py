"""Evaluate a submitted features file: ``.npz`` with ``ids`` (N strings) and ``features`` (N x D).

The file must hold exactly the ids that ``reidbench protocols ids PROTOCOL --data ROOT`` prints (the
protocol's query and gallery items, each once). It is read with ``allow_pickle=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reidbench.errors import DataError, describe

__all__ = ["FeaturesFile", "load_features_file"]


@dataclass(frozen=True)
class FeaturesFile:
    """A validated features file.

    Attributes:
        path: Where it was read from.
        ids: Item ids, one per row.
        features: ``(N, D)`` float array.
        sha256: Hex sha256 of the file.
    """

    path: str
    ids: tuple[str, ...]
    features: np.ndarray
    sha256: str

    def select(self, wanted: Sequence[str]) -> np.ndarray:
        """Return the rows for ``wanted`` ids, in that order (float64)."""
        index = {k: i for i, k in enumerate(self.ids)}
        return self.features[[index[w] for w in wanted]].astype(np.float64, copy=False)

    def check_ids(self, expected: Sequence[str], protocol_id: str) -> None:
        """Require exactly the ``expected`` ids (any order).

        Raises:
            DataError: Naming missing and extra ids and how to get the right list.
        """
        have, want = set(self.ids), set(expected)
        missing, extra = sorted(want - have), sorted(have - want)
        if missing or extra:
            got = []
            if missing:
                got.append(f"{len(missing)} missing (e.g. {missing[0]!r})")
            if extra:
                got.append(f"{len(extra)} not in the protocol (e.g. {extra[0]!r})")
            raise DataError(describe("ids", self.path, f"exactly the {len(want)} ids of "
                                     f"{protocol_id}", ", ".join(got),
                                     f"list them with `reidbench protocols ids {protocol_id} "
                                     "--data ROOT`"))


def load_features_file(path: str | Path) -> FeaturesFile:
    """Read and validate a features ``.npz``.

    Raises:
        DataError: Missing file, not an npz, missing arrays, wrong shapes or dtypes, duplicate ids,
            NaN or infinite features.
    """
    from reidbench.adapters.checkpoint import sha256_file

    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise DataError(describe("features file", where, "an existing .npz file", "nothing there",
                                 "check the path"))
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise DataError(describe("features file", where, "an .npz written by numpy.savez "
                                 "(no pickled objects)", f"{type(exc).__name__}: {exc}",
                                 "save with np.savez(path, ids=np.array(ids, dtype=str), "
                                 "features=feats)")) from None
    for key in ("ids", "features"):
        if key not in arrays:
            raise DataError(describe(f"array {key!r}", where, "arrays 'ids' and 'features'",
                                     f"arrays {sorted(arrays)}", "save both with np.savez"))
    ids, feats = arrays["ids"], arrays["features"]
    if ids.ndim != 1 or ids.dtype.kind not in "UO":
        raise DataError(describe("ids", where, "a 1-D array of strings", f"{ids.dtype} array of "
                                 f"shape {ids.shape}", "use np.array(ids, dtype=str)"))
    if feats.ndim != 2:
        raise DataError(describe("features", where, "a 2-D (N, D) array", f"shape {feats.shape}",
                                 "stack one feature vector per id"))
    if feats.shape[0] != ids.shape[0]:
        raise DataError(describe("features", where, f"{ids.shape[0]} rows (one per id)",
                                 f"{feats.shape[0]} rows", "give one row per id"))
    if feats.dtype.kind not in "fiu":
        raise DataError(describe("features", where, "a float array", str(feats.dtype), ""))
    if not np.isfinite(feats).all():
        row = int(np.argwhere(~np.isfinite(feats))[0, 0])
        raise DataError(describe("features", where, "finite values", f"NaN or inf in the row of "
                                 f"id {str(ids[row])!r}", "fix the extractor for that item"))
    id_list = tuple(str(x) for x in ids.tolist())
    if len(set(id_list)) != len(id_list):
        seen: set[str] = set()
        dup = next(x for x in id_list if x in seen or seen.add(x))
        raise DataError(describe("ids", where, "each id once", f"{dup!r} more than once",
                                 "drop the duplicate rows"))
    return FeaturesFile(where, id_list, feats, sha256_file(p))
