"""Reading the metadata files of the official layouts, with one clear error per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reidbench.errors import DataError, describe

__all__ = ["require_dir", "require_file", "read_lines", "read_mat", "mat_matrix", "one_based_rows",
           "is_os_artefact", "folder_files", "STRAY_FILE_RULE"]

#: Files an operating system leaves in folders it displays; never part of a dataset.
OS_ARTEFACTS = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})

#: The one rule for stray files, across layouts (docs/datasets.md, "Stray files").
STRAY_FILE_RULE = (
    "Where a layout finds frames by listing a tracklet folder (DukeV, iLIDS-VID, PRID-2011), "
    "every file there must be a frame of the layout's grammar; operating-system artefacts "
    "(names starting with '.', such as .DS_Store and AppleDouble ._* files, Thumbs.db, "
    "desktop.ini) are ignored, anything else is refused, naming the file. Where frames are "
    "indexed by metadata (MARS name lists, LS-VID list prefixes), only the indexed files are "
    "read and other files are never looked at.")


def is_os_artefact(name: str) -> bool:
    """Whether a file name is an operating-system artefact (ignored in every layout)."""
    return name.startswith(".") or name.lower() in OS_ARTEFACTS


def folder_files(folder: Path) -> list[Path]:
    """The files of a tracklet folder, sorted, OS artefacts left out (see :data:`STRAY_FILE_RULE`).

    Sub-folders are returned too (a stray folder is refused like a stray file by the caller's
    grammar check).
    """
    return sorted(p for p in folder.iterdir() if not is_os_artefact(p.name))

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def require_file(path: Path, what: str, fix: str) -> Path:
    """Return ``path`` if it is a file, else raise a DataError naming it."""
    if not path.is_file():
        raise DataError(describe(what, str(path), "an existing file", "nothing there", fix))
    return path


def require_dir(path: Path, what: str, fix: str) -> Path:
    """Return ``path`` if it is a directory, else raise a DataError naming it."""
    if not path.is_dir():
        raise DataError(describe(what, str(path), "an existing folder", "nothing there", fix))
    return path


def read_lines(path: Path) -> list[str]:
    """Non-empty lines with trailing whitespace (CR of CRLF included) stripped."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(describe("text file", str(path), "UTF-8/ASCII text", f"bytes that are not "
                                 f"({exc.reason})", "re-extract the file")) from None
    except OSError as exc:
        raise DataError(describe("text file", str(path), "a readable file",
                                 f"{type(exc).__name__}: {exc.strerror or exc}",
                                 "fix its permissions (chmod u+r) or re-extract it")) from None
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def read_mat(path: Path) -> dict[str, Any]:
    """Variables of a MAT file: v5 via scipy, v7.3 (HDF5) via h5py (datasets as arrays, as stored).

    h5py returns MATLAB arrays transposed relative to MATLAB's shape; callers index by the stored
    layout documented in ``docs/datasets.md`` (LS-VID ``query`` reads as ``(1, Nq)``).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(520)
    except OSError as exc:
        raise DataError(describe("MAT file", str(path), "a readable file", str(exc), "")) from None
    try:
        if head[512:520] == _HDF5_MAGIC or head[:8] == _HDF5_MAGIC:
            import h5py

            with h5py.File(path, "r") as f:
                return {k: np.asarray(f[k]) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
        from scipy.io import loadmat

        return {k: v for k, v in loadmat(str(path)).items() if not k.startswith("__")}
    except DataError:
        raise
    except Exception as exc:
        raise DataError(describe("MAT file", str(path), "a valid MATLAB v5 or v7.3 file",
                                 f"{type(exc).__name__}: {exc}",
                                 "re-download or re-extract it")) from None


def mat_matrix(mat: dict[str, Any], name: str, path: Path, ncols: int | None = None
               ) -> np.ndarray:
    """An integer matrix variable, checked for presence, 2-D shape and integral values."""
    if name not in mat:
        raise DataError(describe(f"variable {name!r}", str(path), f"a variable {name}",
                                 f"variables {sorted(mat)}", "use the official file"))
    arr = np.asarray(mat[name])
    if arr.ndim != 2 or (ncols is not None and arr.shape[1] != ncols):
        want = f"a 2-D (N, {ncols}) matrix" if ncols else "a 2-D matrix"
        raise DataError(describe(f"variable {name!r}", str(path), want, f"shape {arr.shape}",
                                 "use the official file"))
    if arr.dtype.kind not in "iuf":
        raise DataError(describe(f"variable {name!r}", str(path), "a numeric matrix",
                                 f"dtype {arr.dtype}", "use the official file"))
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise DataError(describe(f"variable {name!r}", str(path), "integer values",
                                     "non-integers", "use the official file"))
    return arr.astype(np.int64)


def one_based_rows(values: np.ndarray, n_rows: int, what: str, path: Path,
                   unit: str = "row numbers") -> np.ndarray:
    """Convert 1-based row numbers to 0-based, checking they lie in ``1..n_rows``.

    ``unit`` names the numbers in the error message (e.g. ``"person indices"``). The values must
    be whole numbers (any integer dtype, or floats such as scipy's float64 that hold integers):
    ``9.5`` is refused, never truncated to row 9.
    """
    arr = np.asarray(values).ravel()
    if arr.dtype.kind not in "iuf":
        raise DataError(describe(what, str(path), f"1-based {unit} (numbers)",
                                 f"dtype {arr.dtype}", "the file does not belong to this copy"))
    if arr.dtype.kind == "f":
        frac = arr[~np.isfinite(arr) | (arr != np.round(arr))]
        if frac.size:
            raise DataError(describe(what, str(path), f"1-based {unit} (whole numbers)",
                                     float(frac[0]), "the file does not belong to this copy"))
    bad = arr[(arr < 1) | (arr > n_rows)]  # before the cast: 1e30 must not wrap around
    if bad.size:
        raise DataError(describe(what, str(path), f"1-based {unit} in 1..{n_rows}",
                                 f"{int(bad[0])}", "the file does not belong to this copy"))
    return arr.astype(np.int64) - 1
