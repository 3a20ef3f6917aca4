"""Input checks of the metric entry points: one clear ``InputError`` naming the argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from reidbench.errors import InputError, describe
from reidbench.registry import suggest

__all__ = ["as_array", "check_distmat", "check_labels", "check_choice", "check_finite",
           "check_positive_int", "check_junk_pids"]


def as_array(x: Any) -> np.ndarray:
    """A numpy view of ``x``; torch tensors are detached and moved to the CPU."""
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def check_distmat(distmat: Any, where: str, *, finite: bool = True) -> np.ndarray:
    """Return ``distmat`` as a non-empty 2-D float32/float64 array with finite values.

    Args:
        distmat: The distance matrix.
        where: Function name for error messages.
        finite: Check finiteness here (False when the caller checks chunk by chunk).

    Raises:
        InputError: If it is not 2-D, not real-valued, empty, or holds NaN/inf.
    """
    d = as_array(distmat)
    if d.ndim != 2:
        raise InputError(describe("distmat", where, "a 2-D (queries, gallery) array",
                                  f"{d.ndim}-D array of shape {d.shape}",
                                  "pass the full query x gallery distance matrix"))
    if d.dtype.kind not in "fiub":
        raise InputError(describe("distmat", where, "a real-valued numeric array",
                                  f"dtype {d.dtype}", "convert it with np.asarray(x, float)"))
    if d.shape[0] == 0:
        raise InputError(describe("distmat", where, "at least one query row", f"shape {d.shape}",
                                  "pass a non-empty query set"))
    if d.shape[1] == 0:
        raise InputError(describe("distmat", where, "a non-empty gallery (at least one column)",
                                  f"shape {d.shape}", "pass a non-empty gallery"))
    if d.dtype not in (np.float32, np.float64):
        d = d.astype(np.float64)
    if finite:
        check_finite(d, "distmat", where)
    return d


def check_finite(a: np.ndarray, name: str, where: str, row_offset: int = 0) -> None:
    """Raise ``InputError`` naming the first non-finite cell of the 2-D float array ``a``.

    One row-sum reduction finds candidate rows (NaN and inf propagate into the sums; a plain
    reduction, not a BLAS product, whose worker threads would linger); only rows whose sum is not
    finite are inspected element by element. ``row_offset`` is added to the reported row (``a``
    being a chunk of a larger matrix).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        sums = np.add.reduce(a, axis=1)
    bad_rows = np.flatnonzero(~np.isfinite(sums))
    for r in bad_rows.tolist():
        cols = np.flatnonzero(~np.isfinite(a[r]))
        if cols.size:
            raise InputError(describe(name, where, "finite values",
                                      f"{a[r, cols[0]]} at ({r + row_offset}, {int(cols[0])})",
                                      "check the features/distances for NaN or inf"))


def check_labels(values: Any, name: str, n: int, where: str, against: str) -> np.ndarray:
    """Return ``values`` as a 1-D int64 array of length ``n``.

    Raises:
        InputError: If it is not 1-D, has the wrong length or is not integer-valued.
    """
    a = as_array(values)
    if a.ndim != 1 or a.shape[0] != n:
        raise InputError(describe(name, where, f"a 1-D array of length {n} ({against})",
                                  f"shape {a.shape}", f"pass one {name[:-1]} per item"))
    if a.dtype.kind in "iu":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind == "f" and np.isfinite(a).all() and (a == np.round(a)).all():
        return a.astype(np.int64)
    raise InputError(describe(name, where, "integer labels", f"dtype {a.dtype}",
                              "map the labels to integers first"))


def check_choice(value: Any, name: str, choices: tuple[str, ...] | list[str], where: str) -> str:
    """Return ``value`` if it is one of ``choices``; else raise ``InputError`` with a suggestion."""
    if not isinstance(value, str) or value not in choices:
        hint = suggest(value, list(choices)) if isinstance(value, str) else ""
        raise InputError(describe(name, where, f"one of {list(choices)}", repr(value), hint))
    return value


def check_positive_int(value: Any, name: str, where: str, *, allow_none: bool = False) -> Any:
    """Return ``value`` as an int >= 1 (or None when allowed); else raise ``InputError``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(describe(name, where, "an integer >= 1" + (" or None" if allow_none
                                                                      else ""), repr(value), ""))
    return int(value)


def check_junk_pids(value: Any, where: str) -> tuple[int, ...]:
    """Return ``junk_pids`` as a tuple of ints; else raise ``InputError``."""
    if value is None:
        return ()
    try:
        items = tuple(value)
    except TypeError:
        items = (value,)
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InputError(describe("junk_pids", where, "a sequence of integer pids",
                                      repr(value), "e.g. junk_pids=(-1,)"))
        out.append(int(v))
    return tuple(out)
