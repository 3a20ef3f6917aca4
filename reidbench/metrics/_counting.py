"""Counting the valid negatives before each positive: the per-row plan and its three ways.

Part of the shared core (:mod:`reidbench.metrics._ranks` explains the method). Split out so that
each module keeps one job: this one only answers "how many valid negatives lie strictly before,
and at or before, this positive's distance in its row".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from reidbench.metrics._ranks import GalleryIndex

__all__ = ["PATHS", "Workspace", "count_negatives"]

_HAS_BITCOUNT = hasattr(np, "bitwise_count")

#: How negatives are counted: ``auto`` is the compiled kernel (:mod:`._kernel`) when numba is
#: available, else ``numpy`` (a plan per row); ``sparse``, ``dense`` and ``peel`` force one way of
#: the numpy plan for every row (tests, benchmarks).
PATHS = ("auto", "compiled", "numpy", "sparse", "dense", "peel")

# Cost model of the per-row plan (relative ns per gallery item or per candidate; measured on a
# 2-core x86-64 with numpy 2.4): sorting a whole row, copying a row to peel positives from it,
# comparing one peeled positive with its row (both sides), gathering and sorting one candidate.
_COST_DENSE = 7.0
_COST_PEEL_ROW = 0.8
_COST_PEEL = 1.4
_COST_CANDIDATE = 60.0
_MAX_PEEL = 2
# Columns sampled (in contiguous blocks) to estimate a row's candidates below a threshold.
_SAMPLE_COLUMNS = 256
_SAMPLE_BLOCKS = 8

class Workspace:
    """Reusable scratch buffers, so chunk after chunk does not fault in fresh pages.

    ``get(name, shape, dtype)`` returns a C-contiguous view of a buffer kept under ``name``,
    grown when a larger one is asked for. Its content is undefined.
    """

    def __init__(self) -> None:
        self._bufs: dict[tuple[str, str], np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        """A scratch array of ``shape`` and ``dtype`` (contents undefined)."""
        dtype = np.dtype(dtype)
        size = int(np.prod(shape))
        key = (name, dtype.str)
        buf = self._bufs.get(key)
        if buf is None or buf.shape[0] < size:
            buf = np.empty(max(size, 1), dtype=dtype)
            self._bufs[key] = buf
        return buf[:size].reshape(shape)


def _plan_rows(
    chunk: np.ndarray, pval: np.ndarray, n_pos: np.ndarray, ends: np.ndarray, path: str
) -> tuple[np.ndarray, np.ndarray]:
    """Choose, per row, how its negatives are counted.

    Returns:
        ``(dense, peel)``: ``dense[row]`` True to sort the whole row; ``peel[row]`` = how many of
        the row's farthest positives are counted by direct comparison with the row (the others
        use the sorted candidates ``d <= t``, ``t`` = the farthest positive not peeled).
    """
    n_rows, n_gal = chunk.shape
    has = n_pos > 0
    peel = np.zeros(n_rows, dtype=np.int64)
    if path == "dense":
        return has.copy(), peel
    if path == "sparse":
        return np.zeros(n_rows, dtype=bool), peel
    if path == "peel":
        return np.zeros(n_rows, dtype=bool), n_pos.copy()
    # estimate the candidates below each possible threshold from a few blocks of columns
    sub = _column_sample(chunk)
    scale = n_gal / sub.shape[1]
    best = np.where(has, _COST_DENSE * n_gal, 0.0)
    dense = has.copy()
    for m in range(min(_MAX_PEEL, int(n_pos.max(initial=0))) + 1):
        left = n_pos - m  # positives left for the sorted candidates
        ok = has & (left >= 0)
        t = np.full(n_rows, -np.inf, dtype=chunk.dtype)
        some = ok & (left > 0)
        t[some] = pval[ends[some] - 1 - m]
        est = np.count_nonzero(sub <= t[:, None], axis=1) * scale
        cost = _COST_CANDIDATE * est + (m > 0) * _COST_PEEL_ROW * n_gal + \
            _COST_PEEL * m * n_gal
        better = ok & (cost < best)
        best[better] = cost[better]
        peel[better] = m
        dense[better] = False
    return dense, peel


def _column_sample(chunk: np.ndarray) -> np.ndarray:
    """A contiguous copy of ``_SAMPLE_BLOCKS`` evenly spaced blocks of columns (all if few)."""
    n_gal = chunk.shape[1]
    width = _SAMPLE_COLUMNS // _SAMPLE_BLOCKS
    if n_gal <= 2 * _SAMPLE_COLUMNS:
        return chunk
    starts = np.linspace(0, n_gal - width, _SAMPLE_BLOCKS).astype(np.int64)
    return np.concatenate([chunk[:, s:s + width] for s in starts.tolist()], axis=1)


def count_negatives(
    chunk: np.ndarray,
    gallery: GalleryIndex,
    prow: np.ndarray,
    pval: np.ndarray,
    n_pos: np.ndarray,
    ends: np.ndarray,
    row_s: np.ndarray,
    col_s: np.ndarray,
    path: str,
    ws: Workspace,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Valid negatives strictly before / at or before each positive's distance.

    Returns ``(before, through, finite)``; ``finite`` is False when the chunk holds a NaN or an
    infinity (the counts are then meaningless and the caller reports the bad cell).

    This is the numpy plan (``path`` other than ``auto``/``compiled``, which use
    :mod:`reidbench.metrics._kernel` instead), per row (see :func:`_plan_rows`): a dense row is
    copied with every invalid item set to +inf and sorted; otherwise its farthest ``peel``
    positives are counted by comparing them with a copy of the row, and the rest by a binary
    search among the row's candidate negatives (valid, ``d <= t``), gathered into one sorted
    segment per row.
    """
    from reidbench.metrics import _kernel

    # one reduction finds non-finite rows (NaN and inf propagate into the sums)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = _kernel.rows_finite(chunk, np.add.reduce(chunk, axis=1))
    n_rows, n_gal = chunk.shape
    n_p = prow.shape[0]
    before = np.zeros(n_p, dtype=np.int64)
    through = np.zeros(n_p, dtype=np.int64)
    if n_p == 0:
        return before, through, finite
    dense, peel = _plan_rows(chunk, pval, n_pos, ends, path)
    top = ends[prow] - 1 - np.arange(n_p)  # 0 for the farthest positive of its row, 1, ...
    peeled = top < peel[prow]
    in_dense = dense[prow]
    searched = ~peeled & ~in_dense

    dense_rows = np.flatnonzero(dense)
    if dense_rows.size:
        work = _valid_rows(chunk, dense_rows, gallery, row_s, col_s, ws)
        work.sort(axis=1)
        local = np.zeros(n_rows, dtype=np.int64)
        local[dense_rows] = np.arange(dense_rows.shape[0])
        sel = np.flatnonzero(in_dense)
        full = np.full(n_rows, n_gal, dtype=np.int64)
        _search(work.reshape(-1), local * n_gal, full, prow, pval, sel, before, through)

    peel_rows = np.flatnonzero(peel > 0)
    if peel_rows.size:
        peel_rows = peel_rows[np.argsort(-peel[peel_rows], kind="stable")]  # most peeled first
        work = _valid_rows(chunk, peel_rows, gallery, row_s, col_s, ws)
        # compare into rows padded to whole 8-byte words (padding stays False), count by popcount
        width8 = -(-n_gal // 8) * 8
        cmp_full = ws.get("cmp", (work.shape[0], width8), bool)
        cmp_full[:, n_gal:] = False
        cmp = cmp_full[:, :n_gal]
        words = cmp_full.view(np.uint64)
        local = np.zeros(n_rows, dtype=np.int64)
        local[peel_rows] = np.arange(peel_rows.shape[0])
        for m in range(int(peel[peel_rows[0]])):
            n_m = int(np.count_nonzero(peel[peel_rows] > m))
            sel = np.flatnonzero(peeled & (top == m))
            sel = sel[np.argsort(local[prow[sel]], kind="stable")]
            v = pval[sel][:, None]
            np.less(work[:n_m], v, out=cmp[:n_m])
            before[sel] = _true_per_row(cmp[:n_m], words[:n_m])
            np.less_equal(work[:n_m], v, out=cmp[:n_m])
            through[sel] = _true_per_row(cmp[:n_m], words[:n_m])

    sel = np.flatnonzero(searched)
    if sel.size:
        thresh = np.full(n_rows, -np.inf, dtype=chunk.dtype)
        rows = np.flatnonzero(~dense & (n_pos > peel))
        thresh[rows] = pval[ends[rows] - 1 - peel[rows]]
        if 2 * rows.shape[0] < n_rows:  # few rows: compare a copy of them, not the whole chunk
            sub = np.take(chunk, rows, axis=0, mode="clip",
                          out=ws.get("subset", (rows.shape[0], n_gal), chunk.dtype))
            local = np.full(n_rows, -1, dtype=np.int64)
            local[rows] = np.arange(rows.shape[0])
            keep = local[row_s] >= 0
            buf, off, cnt = _candidate_segments(sub, thresh[rows], gallery, local[row_s[keep]],
                                                col_s[keep], ws)
            offset = np.zeros(n_rows, dtype=np.int64)
            length = np.zeros(n_rows, dtype=np.int64)
            offset[rows], length[rows] = off, cnt
        else:
            buf, offset, length = _candidate_segments(chunk, thresh, gallery, row_s, col_s, ws)
        _search(buf, offset, length, prow, pval, sel, before, through)
    return before, through, finite


def _true_per_row(mask: np.ndarray, words: np.ndarray) -> np.ndarray:
    """True entries per row of ``mask``, whose rows are padded with False to the 8-byte ``words``.

    Counts set bits of whole words (numpy >= 2.0), a few times faster than ``count_nonzero``.
    """
    if _HAS_BITCOUNT:
        return np.bitwise_count(words).sum(axis=1, dtype=np.int64)
    return np.count_nonzero(mask, axis=1).astype(np.int64)


def _search(buf: np.ndarray, offset: np.ndarray, length: np.ndarray, prow: np.ndarray,
            pval: np.ndarray, sel: np.ndarray, before: np.ndarray, through: np.ndarray) -> None:
    """Fill ``before``/``through`` at ``sel`` by binary search in each row's sorted segment."""
    if sel.size == 0:
        return
    rows = np.concatenate([prow[sel], prow[sel]])
    values = np.concatenate([pval[sel], pval[sel]])
    right = np.zeros(rows.shape[0], dtype=bool)
    right[sel.shape[0]:] = True
    found = _segment_searchsorted(buf, offset[rows], length[rows], values, right)
    before[sel] = found[:sel.shape[0]]
    through[sel] = found[sel.shape[0]:]


def _valid_rows(
    chunk: np.ndarray,
    rows: np.ndarray,
    gallery: GalleryIndex,
    row_s: np.ndarray,
    col_s: np.ndarray,
    ws: Workspace,
) -> np.ndarray:
    """A copy of ``chunk[rows]`` with every item that is not a valid negative set to +inf."""
    out = ws.get("rows", (rows.shape[0], chunk.shape[1]), chunk.dtype)
    work = np.take(chunk, rows, axis=0, mode="clip", out=out)  # 'clip': no buffered copy
    if gallery.junk_cols.size:
        work[:, gallery.junk_cols] = np.inf
    local = np.full(chunk.shape[0], -1, dtype=np.int64)
    local[rows] = np.arange(rows.shape[0])
    lr = local[row_s]
    keep = lr >= 0
    work[lr[keep], col_s[keep]] = np.inf  # positives and same-camera junk
    return work


def _candidate_segments(
    chunk: np.ndarray,
    thresh: np.ndarray,
    gallery: GalleryIndex,
    row_s: np.ndarray,
    col_s: np.ndarray,
    ws: Workspace,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate negatives (valid, ``d <= thresh[row]``) of each row, one sorted segment per row.

    Segments are padded with +inf to a power-of-two width and rows of equal width are sorted
    together as one 2-D block of the flat buffer.

    Returns:
        ``(flat buffer, offset per chunk row, number of candidates per chunk row)``.
    """
    n_rows, n_gal = chunk.shape
    size = n_rows * n_gal
    mask_buf = ws.get("mask", (-(-size // 8) * 8,), bool)
    mask_buf[size:] = False
    mask = np.less_equal(chunk, thresh[:, None], out=mask_buf[:size].reshape(n_rows, n_gal))
    mask[row_s, col_s] = False  # positives and same-camera junk are not negatives
    flat = _flatnonzero_sparse(mask_buf)
    r_local = flat // n_gal
    col = flat - r_local * n_gal
    if gallery.junk_cols.size:
        keep = ~gallery.junk[col]
        flat, r_local, col = flat[keep], r_local[keep], col[keep]
    values = chunk.reshape(-1)[flat] if chunk.flags.c_contiguous else chunk[r_local, col]
    count = np.bincount(r_local, minlength=n_rows)
    width = np.zeros(n_rows, dtype=np.int64)
    nz = count > 0
    width[nz] = 1 << np.ceil(np.log2(count[nz])).astype(np.int64)
    order = np.argsort(width, kind="stable")  # rows of equal width become neighbours
    seg_start = np.zeros(n_rows, dtype=np.int64)
    seg_start[order] = np.cumsum(width[order]) - width[order]
    buf = np.full(int(width.sum()), np.inf, dtype=chunk.dtype)
    row_first = np.cumsum(count) - count
    buf[seg_start[r_local] + np.arange(flat.shape[0]) - row_first[r_local]] = values
    widths_sorted = width[order]
    for w in np.unique(widths_sorted[widths_sorted > 0]).tolist():
        first = int(np.searchsorted(widths_sorted, w, side="left"))
        last = int(np.searchsorted(widths_sorted, w, side="right"))
        lo = int(seg_start[order[first]])
        buf[lo:lo + (last - first) * w].reshape(last - first, w).sort(axis=1)
    return buf, seg_start, count


def _flatnonzero_sparse(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero`` of a mostly-False bool array whose length is a multiple of 8.

    Finds the non-zero 8-byte words first, then the set bytes inside them only.
    """
    words = mask.view(np.uint64)
    hit = np.flatnonzero(words != 0)
    inner = np.flatnonzero(words[hit].view(np.uint8))
    return hit[inner >> 3] * 8 + (inner & 7)


def _segment_searchsorted(buf: np.ndarray, offset: np.ndarray, length: np.ndarray,
                          values: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Vectorised ``searchsorted`` of ``values[k]`` in the sorted ``buf[offset[k]:+length[k]]``.

    ``right[k]`` picks the side: count of entries ``<= values[k]`` (True) or ``< values[k]``.
    """
    lo = np.zeros(values.shape[0], dtype=np.int64)
    hi = length.copy()
    top = int(length.max()) if length.size else 0
    for _ in range(top.bit_length()):
        mid = (lo + hi) >> 1
        inside = mid < hi
        probe = buf[offset + np.minimum(mid, np.maximum(length - 1, 0))]
        go = np.where(right, probe <= values, probe < values) & inside
        lo = np.where(go, mid + 1, lo)
        hi = np.where(go | ~inside, hi, mid)
    return lo
