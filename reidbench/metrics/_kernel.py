"""The compiled counting kernel: valid negatives before each positive, one memory read per row.

Part of the shared core (:mod:`reidbench.metrics._ranks`). The numpy fallback of
:mod:`reidbench.metrics._counting` copies and sorts every row of a chunk; this kernel (numba,
compiled on first use and cached on disk) reads each row from memory once and does the rest while
the row is in cache:

1. copy the row into a scratch row, summing it (the finiteness check) and counting the items
   before the farthest positive on the way; then set every item that is not a valid negative
   (same pid as the query, or a junk pid) to +inf, taking it out of those counts;
2. count the next farthest positives directly (a branch-free compare-and-count pass each) while
   a positive's candidate set is large (an outlier positive);
3. bin the few candidates left (valid negatives at or below the nearest positives that remain) by
   a binary search among those positives' distinct distances, and turn the bins into counts by a
   prefix sum.

The counts are exact integers, equal to the numpy fallback's for every input (tested), and the
kernel releases the GIL, so chunks can be counted by several threads. numba is a dependency; when it
cannot be imported (an interpreter it does not support yet), :func:`available` is False and
the core uses the numpy fallback.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from reidbench.metrics._ranks import GalleryIndex

__all__ = ["AVAILABLE", "available", "count_negatives_compiled", "rows_finite"]

#: Whether numba is installed (it is imported, ~0.2 s, only when the kernel is first needed).
AVAILABLE = importlib.util.find_spec("numba") is not None
_importable: bool | None = None


def available() -> bool:
    """Whether the compiled kernel can be used: numba is installed and imports."""
    global _importable
    if _importable is None:
        try:
            import numba  # noqa: F401
        except ImportError:  # pragma: no cover - a broken or incompatible numba
            _importable = False
        else:
            _importable = AVAILABLE
    return _importable

# A positive whose candidate set (valid items at or below it) exceeds ``n_gal / _DIRECT_RATIO`` is
# counted by a direct pass over its row (~0.6 cycles per item in cache) rather than by binning its
# candidates (~30 cycles each): the break-even is near one candidate in 50.
_DIRECT_RATIO = 64
_DIRECT_MIN = 16
# The (one, zero) whose sums count items, per distance dtype (see _count_rows); float32 sums of
# 0/1 are exact below 2**24, so float32 rows at least that long are counted in float64.
_ACCUMULATOR = {np.float64: (np.int64(1), np.int64(0)), np.float32: (np.float32(1), np.float32(0))}
_FLOAT32_EXACT = 1 << 24
# Positives per row up to which they are sorted by insertion (a stable merge sort beyond).
_INSERTION_MAX = 32
# Items per block of the candidate scan; a block without a candidate is skipped after one
# vectorised test (a compile-time trip count, so the test is unrolled; 64 beat 32 and 128).
_BLOCK = 64


def _count_rows(chunk: np.ndarray, pcol: np.ndarray, pval: np.ndarray, pos_start: np.ndarray,
                same_start: np.ndarray, same_col: np.ndarray, junk_cols: np.ndarray,
                before: np.ndarray, through: np.ndarray, row_sums: np.ndarray, limit: int,
                max_pos: int, one: Any, zero: Any) -> None:  # pragma: no cover
    """Numba kernel (see the module docstring).

    ``pcol[pos_start[r]:pos_start[r + 1]]`` are row ``r``'s positives (at most ``max_pos``),
    ascending; the kernel re-orders them by (distance, gallery index) in place and writes their
    distances to ``pval``. ``same_col[same_start[r]:same_start[r + 1]]`` are the gallery items
    with the query's pid. ``row_sums[r]`` receives the sum of row ``r`` (not finite if the row
    holds a NaN or an infinity, or overflows).

    Counts are sums of ``one``/``zero``, whose type the caller picks per dtype: int64 for
    float64 rows; float32 for float32 rows, so a vector of float32 comparisons is not widened to
    int64 lanes (2x faster; exact below 2**24 items per row, the caller upcasts longer rows).
    Compiled with ``reassoc`` so such sums vectorise; no flag lets the compiler assume finite
    values, so NaN and inf still propagate into ``row_sums`` and compare as IEEE says.
    """
    n_rows, n_gal = chunk.shape
    inf = np.inf
    fzero = np.zeros(1, chunk.dtype)[0]  # of the chunk's type: no widening to float64
    w = np.empty(n_gal, chunk.dtype)
    # per-row scratch, allocated once: distinct positive values (padded to a power of two with
    # +inf for the binary search), each positive's distinct index, counts and bins
    width = 1
    while width < max_pos:
        width <<= 1
    u = np.empty(width, chunk.dtype)
    uid = np.empty(max(max_pos, 1), np.int64)
    lt_u = np.empty(width, np.int64)
    le_u = np.empty(width, np.int64)
    bin_lt = np.empty(width + 1, np.int64)
    bin_le = np.empty(width + 1, np.int64)
    for r in range(n_rows):
        row = chunk[r]
        a = pos_start[r]
        m = pos_start[r + 1] - a
        if m == 0:  # no positive: only the finiteness check
            total = fzero
            for j in range(n_gal):
                total += row[j]
            row_sums[r] = total
            continue
        # the row's positives by (distance, gallery index): their gallery indices come
        # ascending, so a stable sort by distance (insertion sort for the usual few)
        if m <= _INSERTION_MAX:
            for i in range(m):
                c = pcol[a + i]
                v = row[c]
                h = i
                while h > 0 and pval[a + h - 1] > v:
                    pval[a + h] = pval[a + h - 1]
                    pcol[a + h] = pcol[a + h - 1]
                    h -= 1
                pval[a + h] = v
                pcol[a + h] = c
        else:
            cols = pcol[a:a + m].copy()
            vals = np.empty(m, chunk.dtype)
            for i in range(m):
                vals[i] = row[cols[i]]
            order = np.argsort(vals, kind="mergesort")
            for i in range(m):
                pval[a + i] = vals[order[i]]
                pcol[a + i] = cols[order[i]]
        n_u = 0
        for i in range(m):
            v = pval[a + i]
            if n_u == 0 or v != u[n_u - 1]:
                u[n_u] = v
                n_u += 1
            uid[i] = n_u - 1
        # 1. copy, check, and count against the farthest positive, all in the one read of the row
        v = u[n_u - 1]
        total = fzero
        lt_f = zero
        le_f = zero
        for j in range(n_gal):
            x = row[j]
            w[j] = x
            total += x
            lt_f += one if x < v else zero
            le_f += one if x <= v else zero
        row_sums[r] = total
        lt = int(lt_f)
        le = int(le_f)
        # mask the items that are not valid negatives, taking them out of those counts
        for k in range(same_start[r], same_start[r + 1]):
            c = same_col[k]
            lt -= w[c] < v
            le -= w[c] <= v
            w[c] = inf
        for k in range(junk_cols.shape[0]):
            c = junk_cols[k]
            if w[c] != inf:
                lt -= w[c] < v
                le -= w[c] <= v
                w[c] = inf
        lt_u[n_u - 1] = lt
        le_u[n_u - 1] = le
        # 2. the next farthest positives directly, while their candidate sets are large
        k = n_u - 1
        while k > 0 and le > limit:
            v = u[k - 1]
            lt_f = zero
            le_f = zero
            for j in range(n_gal):
                x = w[j]
                lt_f += one if x < v else zero
                le_f += one if x <= v else zero
            lt = int(lt_f)
            le = int(le_f)
            lt_u[k - 1] = lt
            le_u[k - 1] = le
            k -= 1
        if k > 0:
            # 3. bin the candidates x <= u[k-1] by c = #{u[:k] < x} (c + 1 when x equals u[c])
            p = 1
            while p < k:
                p <<= 1
            u[k:p] = inf
            t = u[k - 1]
            bin_lt[:p + 1] = 0
            bin_le[:p + 1] = 0
            for b0 in range(0, n_gal, _BLOCK):
                b1 = min(b0 + _BLOCK, n_gal)
                if b1 - b0 == _BLOCK:  # a whole block: one branch-free (vectorised) test first
                    block = w[b0:b1]
                    hits = zero
                    for jj in range(_BLOCK):
                        hits += one if block[jj] <= t else zero
                    if hits == zero:
                        continue
                for j in range(b0, b1):
                    x = w[j]
                    if x > t:
                        continue
                    pos = 0
                    step = p >> 1
                    while step > 0:
                        if u[pos + step - 1] < x:
                            pos += step
                        step >>= 1
                    if u[pos] < x:
                        pos += 1
                    bin_le[pos] += 1
                    if pos < k and u[pos] == x:
                        pos += 1
                    bin_lt[pos] += 1
            acc_lt = 0
            acc_le = 0
            for i in range(k):
                acc_lt += bin_lt[i]
                acc_le += bin_le[i]
                lt_u[i] = acc_lt
                le_u[i] = acc_le
        for i in range(m):
            before[a + i] = lt_u[uid[i]]
            through[a + i] = le_u[uid[i]]


_compiled: Any = None


def _kernel() -> Any:
    """The compiled kernel (compiled on first call per dtype, cached on disk by numba)."""
    global _compiled
    if _compiled is None:
        import numba

        _compiled = numba.njit(nogil=True, cache=True, boundscheck=False,
                               fastmath={"reassoc", "nsz"})(_count_rows)
    return _compiled


def count_negatives_compiled(
    chunk: np.ndarray,
    gallery: GalleryIndex,
    pcol: np.ndarray,
    n_pos: np.ndarray,
    row_s: np.ndarray,
    col_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Sort each row's positives, count the valid negatives before them, check finiteness.

    Args:
        chunk: ``(C, G)`` C-contiguous float32 or float64 distances.
        gallery: The gallery labels.
        pcol: Gallery index of each positive, grouped by query row (rows ascending) and
            ascending within a row.
        n_pos: ``(C,)`` positives per row.
        row_s: Query row of each same-pid gallery item (ascending).
        col_s: Gallery index of each same-pid gallery item.

    Returns:
        ``(pcol, pval, before, through, finite)``: the positives re-ordered by (row, distance,
        gallery index), their distances, the int64 counts of valid negatives strictly before /
        at or before each; ``finite`` is False if the chunk holds a NaN or an infinity (the rest
        is then meaningless).
    """
    n_rows, n_gal = chunk.shape
    if chunk.dtype == np.float32 and n_gal >= _FLOAT32_EXACT:
        chunk = chunk.astype(np.float64)  # exact; float32 sums of 0/1 are exact below 2**24
    pos_start = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(n_pos, out=pos_start[1:])
    same_start = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_s, minlength=n_rows), out=same_start[1:])
    pcol = np.array(pcol, dtype=np.int64)  # sorted in place by the kernel
    pval = np.empty(pcol.shape[0], dtype=chunk.dtype)
    before = np.empty(pcol.shape[0], dtype=np.int64)
    through = np.empty(pcol.shape[0], dtype=np.int64)
    row_sums = np.empty(n_rows, dtype=chunk.dtype)
    limit = max(n_gal // _DIRECT_RATIO, _DIRECT_MIN)
    with np.errstate(over="ignore", invalid="ignore"):
        _kernel()(chunk, pcol, pval, pos_start, same_start,
                  np.ascontiguousarray(col_s, dtype=np.int64),
                  np.ascontiguousarray(gallery.junk_cols, dtype=np.int64), before, through,
                  row_sums, limit, int(n_pos.max(initial=0)), *_ACCUMULATOR[chunk.dtype.type])
    return pcol, pval, before, through, rows_finite(chunk, row_sums)


def rows_finite(chunk: np.ndarray, row_sums: np.ndarray) -> bool:
    """Whether every value of ``chunk`` is finite, given its row sums.

    A NaN or infinity makes its row's sum non-finite; a sum can also overflow to inf with finite
    values, so only the rows whose sum is not finite are checked value by value.
    """
    bad = np.flatnonzero(~np.isfinite(row_sums))
    return bad.size == 0 or bool(np.isfinite(chunk[bad]).all())
