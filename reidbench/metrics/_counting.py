"""The numpy fallback of the counting step, for where the compiled kernel cannot be used.

Part of the shared core (:mod:`reidbench.metrics._ranks`): for each positive, how many valid
negatives of its row lie strictly before its distance and at or before it. The compiled kernel
(:mod:`reidbench.metrics._kernel`, numba) answers this in one read per row; where numba cannot be
imported, this module does it with a few whole-chunk numpy passes and no per-query loop:

1. copy the chunk, setting every item that is not a valid negative (the query's pid, a junk pid)
   to +inf;
2. sort each row of the copy (``O(G log G)`` per row, whatever the distances look like);
3. binary-search every positive's distance in its sorted row, all positives at once.

Comparisons are made in the chunk's dtype and the counts are exact integers, equal to the
kernel's (tested against it and against a slow reference).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from reidbench.metrics._ranks import GalleryIndex

__all__ = ["count_negatives"]


def count_negatives(
    chunk: np.ndarray,
    gallery: GalleryIndex,
    prow: np.ndarray,
    pval: np.ndarray,
    row_s: np.ndarray,
    col_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Valid negatives strictly before / at or before each positive's distance.

    Args:
        chunk: ``(C, G)`` distances.
        gallery: The gallery labels.
        prow: Row of each positive.
        pval: Distance of each positive.
        row_s: Row of each same-pid gallery item (positives and same-camera junk).
        col_s: Gallery index of each same-pid item.

    Returns:
        ``(before, through, finite)``: int64 counts per positive; ``finite`` is False when the
        chunk holds a NaN or an infinity (the counts are then meaningless and the caller reports
        the bad cell).
    """
    from reidbench.metrics._kernel import rows_finite

    # one reduction finds non-finite rows (NaN and inf propagate into the sums)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = rows_finite(chunk, np.add.reduce(chunk, axis=1))
    n_gal = chunk.shape[1]
    if prow.shape[0] == 0 or not finite:
        empty = np.zeros(prow.shape[0], dtype=np.int64)
        return empty, empty.copy(), finite
    work = np.array(chunk, order="C", copy=True)
    if gallery.junk_cols.size:
        work[:, gallery.junk_cols] = np.inf
    work[row_s, col_s] = np.inf
    work.sort(axis=1)
    flat = work.reshape(-1)
    offset = prow * n_gal
    before = _segment_searchsorted(flat, offset, n_gal, pval, right=False)
    through = _segment_searchsorted(flat, offset, n_gal, pval, right=True)
    return before, through, finite


def _segment_searchsorted(buf: np.ndarray, offset: np.ndarray, length: int, values: np.ndarray,
                          *, right: bool) -> np.ndarray:
    """Vectorised ``searchsorted`` of ``values[k]`` in the sorted ``buf[offset[k]:+length]``.

    Returns the count of entries ``<= values[k]`` (``right``) or ``< values[k]``.
    """
    lo = np.zeros(values.shape[0], dtype=np.int64)
    hi = np.full(values.shape[0], length, dtype=np.int64)
    for _ in range(int(length).bit_length()):
        mid = (lo + hi) >> 1
        inside = mid < hi
        probe = buf[offset + np.minimum(mid, length - 1)]
        go = ((probe <= values) if right else (probe < values)) & inside
        lo = np.where(go, mid + 1, lo)
        hi = np.where(go | ~inside, hi, mid)
    return lo
