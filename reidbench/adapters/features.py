"""Evaluate a submitted features file: ``.npz`` with ``ids`` (N strings) and ``features`` (N x D).

The file must hold exactly the ids that ``reidbench protocols ids PROTOCOL --data ROOT`` prints (the
protocol's query and gallery items, each once). It is read with ``allow_pickle=False``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reidbench.errors import DataError, describe, quote
from reidbench.fileio import NpzError, read_npz_bounded

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
                got.append(f"{len(missing)} missing (e.g. {_examples(missing)})")
            if extra:
                got.append(f"{len(extra)} not in the protocol (e.g. {_examples(extra)})")
            raise DataError(describe("ids", self.path, f"exactly the {len(want)} ids of "
                                     f"{protocol_id}", ", ".join(got),
                                     f"list them with `reidbench protocols ids {protocol_id} "
                                     "--data ROOT`"))


def load_features_file(path: str | Path, expected_n: int | None = None) -> FeaturesFile:
    """Read and validate a features ``.npz``.

    Sizes are checked before any array is read (:func:`reidbench.fileio.read_npz_bounded`):
    each member's declared uncompressed size and ``.npy`` header (at most :data:`MAX_DIM`
    dimensions, :data:`MAX_ARRAY_BYTES` per array and, when ``expected_n`` is given, no more rows
    than the protocol has items), so an archive built to exhaust memory is refused up front.

    Args:
        path: The ``.npz``.
        expected_n: The number of ids the protocol needs (None: unknown, e.g. ``validate``
            without ``--protocol``).

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
    arrays = _read_npz(p, expected_n)
    for key in ("ids", "features"):
        if key not in arrays:
            raise DataError(describe(f"array {key!r}", where, "arrays 'ids' and 'features'",
                                     f"arrays {sorted(arrays)}", "save both with np.savez"))
    ids, feats = arrays["ids"], arrays["features"]
    if ids.ndim != 1 or ids.dtype.kind not in "UO":
        raise DataError(describe("ids", where, "a 1-D array of strings", f"{ids.dtype} array of "
                                 f"shape {ids.shape}", "use np.array(ids, dtype=str)"))
    _check_features(feats, ids, where)
    id_list = tuple(str(x) for x in ids.tolist())
    if len(set(id_list)) != len(id_list):
        counts = Counter(id_list)
        dups = sorted(k for k, c in counts.items() if c > 1)
        raise DataError(describe("ids", where, "each id once", f"{len(dups)} id(s) more than once "
                                 f"(e.g. {_examples(dups)})", "drop the duplicate rows"))
    return FeaturesFile(where, id_list, feats, sha256_file(p))


#: Largest row norm accepted: squared distances between such rows stay finite in float64.
MAX_NORM = 1e150
#: Most feature dimensions accepted (re-ID embeddings have 128-8192).
MAX_DIM = 65536
#: Largest array of a features file (MARS's 13,290 items x 16,384 float64 dims fit).
MAX_ARRAY_BYTES = 2 << 30


def _examples(names: Sequence[str], k: int = 3) -> str:
    """Up to ``k`` names, quoted and comma-separated."""
    return ", ".join(quote(n, 60) for n in names[:k])


def _read_npz(p: Path, expected_n: int | None = None) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``; anything else (a pickle, an .npy, a corrupt zip) is one line."""
    where = str(p)
    fix = "save with np.savez(path, ids=np.array(ids, dtype=str), features=feats)"
    with open(p, "rb") as f:
        head = f.read(6)
    if not head.startswith(b"PK"):
        kind = ("a single .npy array" if head.startswith(b"\x93NUMPY") else
                "an empty file" if not head else "a file that is not a zip archive")
        raise DataError(describe("features file", where, "an .npz archive written by numpy.savez",
                                 kind, fix))
    def check(name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        if name == "features" and len(shape) == 2:
            n, d = shape
            if d > MAX_DIM:
                raise DataError(describe("features", where, f"at most {MAX_DIM:,} dimensions",
                                         f"a header declaring shape {shape}", fix))
            if expected_n is not None and n > expected_n:
                raise DataError(describe("features", where, f"{expected_n:,} rows (one per id "
                                         "of the protocol)", f"a header declaring {n:,} rows",
                                         "save exactly the ids `reidbench protocols ids` prints"))
        if name == "ids" and len(shape) == 1 and expected_n is not None and shape[0] > expected_n:
            raise DataError(describe("ids", where, f"{expected_n:,} ids (the protocol's)",
                                     f"a header declaring {shape[0]:,} ids",
                                     "save exactly the ids `reidbench protocols ids` prints"))

    try:
        arrays = read_npz_bounded(p, max_array_bytes=MAX_ARRAY_BYTES,
                                  max_total_bytes=MAX_ARRAY_BYTES + (256 << 20), check=check)
    except NpzError as exc:
        raise DataError(describe("features file", where, "a readable .npz archive of plain "
                                 "arrays (no pickled objects) within bounds", str(exc),
                                 fix)) from None
    return arrays


def _check_features(feats: np.ndarray, ids: np.ndarray, where: str) -> None:
    """Shape, dtype and values of the features array: what the engine can rank."""
    if feats.ndim != 2:
        raise DataError(describe("features", where, "a 2-D (N, D) array", f"shape {feats.shape}",
                                 "stack one feature vector per id"))
    if feats.shape[0] != ids.shape[0]:
        raise DataError(describe("features", where, f"{ids.shape[0]} rows (one per id)",
                                 f"{feats.shape[0]} rows", "give one row per id"))
    if feats.shape[1] == 0:
        raise DataError(describe("features", where, "at least one dimension (D >= 1)",
                                 f"shape {feats.shape}", "save the feature vectors"))
    if feats.dtype.kind not in "fiu":
        raise DataError(describe("features", where, "a float array", str(feats.dtype), ""))
    finite = np.isfinite(feats).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        raise DataError(describe("features", where, "finite values", f"NaN or inf in {rows.size} "
                                 f"row(s) (e.g. ids {_examples([str(ids[r]) for r in rows])})",
                                 "fix the extractor for those items"))
    with np.errstate(over="ignore", invalid="ignore"):  # float128 past float64: inf, refused
        f64 = feats.astype(np.float64, copy=False)
        norms = np.sqrt(np.einsum("ij,ij->i", f64, f64))
    big = np.flatnonzero(~(norms <= MAX_NORM))
    if big.size:
        raise DataError(describe("features", where, f"row norms below {MAX_NORM:g} (distances must "
                                 "fit in float64)", f"{big.size} row(s) beyond it (e.g. ids "
                                 f"{_examples([str(ids[r]) for r in big])})",
                                 "rescale the features (e.g. L2-normalise them)"))
