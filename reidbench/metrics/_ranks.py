"""The shared core: where every positive lands in the junk-free ranking of its query, with ties.

Every metric of :mod:`reidbench.metrics` (each AP variant, CMC, mINP) is a short function of the
flat per-positive arrays that :func:`positive_ranks` returns for a chunk of queries. For each
positive it counts the valid negatives strictly before it and through its tie group; nothing sorts
a full row unless that row needs it:

1. The gallery is grouped by pid once (:class:`GalleryIndex`), so a query's same-pid items (its
   positives and its same-camera junk) come from an index lookup, not a dense pid comparison.
2. The valid negatives before each positive are counted by the compiled kernel
   (:mod:`reidbench.metrics._kernel`, numba: one read per row), or, where numba cannot be
   imported, by the numpy fallback (:mod:`reidbench.metrics._counting`: sorted rows and a
   vectorised binary search). Both give the same exact counts.
3. For the ``stable`` tie policy, the negatives tied with a positive are counted by gallery index
   only for the (rare) positives that have such ties.

Distances are compared in the dtype they come in (float32 input is never rounded again, float64 is
never cast down); the per-positive counts are exact integers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from reidbench.metrics import _kernel
from reidbench.metrics._counting import count_negatives

__all__ = ["GalleryIndex", "PositiveRanks", "positive_ranks", "TIE_POLICIES"]

#: Order among items at equal distance: by gallery index, positives first, negatives first.
TIE_POLICIES = ("stable", "optimistic", "pessimistic")

# Rows of tied positives compared against their full gallery row at once (bounds that temporary).
_TIE_BLOCK_ELEMS = 1 << 21

# How negatives are counted: None (the compiled kernel when numba imports, else the numpy
# fallback), "compiled" or "numpy". Set only by forced_counting (tests and benchmarks).
_FORCED: str | None = None


@contextmanager
def forced_counting(way: str) -> Iterator[None]:
    """Count negatives with ``way`` (``"compiled"`` or ``"numpy"``) inside the block.

    A private hook for tests and benchmarks, which compare the kernel with the fallback; the
    result does not depend on it. Not thread-safe: set it around a whole evaluation.

    Raises:
        ValueError: On an unknown ``way``, or ``"compiled"`` without numba.
    """
    global _FORCED
    if way not in ("compiled", "numpy"):
        raise ValueError(f"forced_counting: expected 'compiled' or 'numpy', got {way!r}")
    if way == "compiled" and not _kernel.available():
        raise ValueError("forced_counting: numba cannot be imported")
    previous, _FORCED = _FORCED, way
    try:
        yield
    finally:
        _FORCED = previous


@dataclass(frozen=True)
class GalleryIndex:
    """The gallery labels, grouped by pid once per evaluation.

    Attributes:
        pids: ``(G,)`` int64 gallery identities.
        camids: ``(G,)`` int64 gallery cameras.
        junk: ``(G,)`` bool, True where the pid is one of the junk pids (junk for every query).
        order: Gallery indices sorted by pid (stable, so ascending index within a pid).
        upids: The distinct gallery pids, ascending.
        starts: Start of each distinct pid's run in ``order``.
        counts: Length of each distinct pid's run in ``order``.
        junk_cols: Indices of the junk-pid items.
    """

    pids: np.ndarray
    camids: np.ndarray
    junk: np.ndarray
    order: np.ndarray
    upids: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    junk_cols: np.ndarray

    @classmethod
    def build(cls, pids: np.ndarray, camids: np.ndarray,
              junk_pids: tuple[int, ...]) -> GalleryIndex:
        """Group ``pids`` and mark the items whose pid is in ``junk_pids``."""
        pids = np.asarray(pids, dtype=np.int64)
        camids = np.asarray(camids, dtype=np.int64)
        order = np.argsort(pids, kind="stable")
        upids, starts, counts = np.unique(pids[order], return_index=True, return_counts=True)
        junk = np.isin(pids, np.asarray(junk_pids, dtype=np.int64)) if junk_pids else \
            np.zeros(pids.shape[0], dtype=bool)
        return cls(pids, camids, junk, order, upids, starts, counts, np.flatnonzero(junk))

    def same_pid_items(self, qpids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gallery items with the same pid as each query.

        Returns:
            ``(row, col)``: query row (ascending) and gallery index (ascending within a row).
        """
        if self.upids.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        loc = np.searchsorted(self.upids, qpids)
        loc = np.minimum(loc, self.upids.size - 1)
        cnt = np.where(self.upids[loc] == qpids, self.counts[loc], 0)
        row = np.repeat(np.arange(qpids.shape[0], dtype=np.int64), cnt)
        first = np.repeat(self.starts[loc] - (np.cumsum(cnt) - cnt), cnt)
        col = self.order[first + np.arange(row.shape[0], dtype=np.int64)]
        return row, col


@dataclass(frozen=True)
class PositiveRanks:
    """Where the positives of a chunk of queries land, flat over all positives.

    Positives are sorted by (query row, distance, gallery index). All counts are over the valid
    (junk-free) items of the query's row; "before" means at a strictly smaller distance, "through"
    means at a distance smaller than or equal to the positive's (the end of its tie group).

    Attributes:
        row: Query row of each positive (within the chunk).
        col: Gallery index of each positive.
        index: 1-based index ``i`` of the positive among its query's positives.
        rank: 1-based junk-free rank ``r_i`` under the tie policy.
        pos_before: Positives strictly before it (``TP_before`` of its tie group).
        pos_through: Positives through its tie group (``TP_through``).
        neg_before: Valid negatives strictly before it.
        neg_through: Valid negatives through its tie group.
        n_pos: ``(C,)`` positives per query.
        n_same_pid: ``(C,)`` gallery items with the query's pid before junk removal (any camera).
        finite: False if the chunk held a NaN or an infinity (every other field is then
            meaningless; the caller reports the bad cell).
    """

    row: np.ndarray
    col: np.ndarray
    index: np.ndarray
    rank: np.ndarray
    pos_before: np.ndarray
    pos_through: np.ndarray
    neg_before: np.ndarray
    neg_through: np.ndarray
    n_pos: np.ndarray
    n_same_pid: np.ndarray
    finite: bool = True

    @property
    def n_before(self) -> np.ndarray:
        """Valid items strictly before each positive (``N_before`` of its tie group)."""
        return self.pos_before + self.neg_before

    @property
    def n_through(self) -> np.ndarray:
        """Valid items through each positive's tie group (``N_through``)."""
        return self.pos_through + self.neg_through


def positive_ranks(
    chunk: np.ndarray,
    qpids: np.ndarray,
    qcamids: np.ndarray,
    gallery: GalleryIndex,
    ties: str = "stable",
) -> PositiveRanks:
    """Rank every positive of a chunk of queries in its junk-free gallery ranking.

    Args:
        chunk: ``(C, G)`` C-contiguous distances (float32 or float64), lower = more similar;
            a NaN or infinity is reported by ``finite=False`` in the result.
        qpids: ``(C,)`` int64 query pids.
        qcamids: ``(C,)`` int64 query cameras.
        gallery: The gallery labels (:meth:`GalleryIndex.build`).
        ties: One of :data:`TIE_POLICIES`.

    Returns:
        The :class:`PositiveRanks` of the chunk.
    """
    n_rows, n_gal = chunk.shape
    row_s, col_s = gallery.same_pid_items(qpids)
    n_same = np.bincount(row_s, minlength=n_rows)
    is_pos = (gallery.camids[col_s] != qcamids[row_s]) & ~gallery.junk[col_s]
    prow, pcol = row_s[is_pos], col_s[is_pos]
    n_pos = np.bincount(prow, minlength=n_rows)
    starts = np.cumsum(n_pos) - n_pos
    if _FORCED == "compiled" or (_FORCED is None and _kernel.available()):
        # the kernel sorts each row's positives by (distance, index) as it counts
        pcol, pval, neg_before, neg_through, finite = _kernel.count_negatives_compiled(
            chunk, gallery, pcol, n_pos, row_s, col_s)
    else:
        pval = chunk[prow, pcol]
        order = np.lexsort((pcol, pval, prow))
        prow, pcol, pval = prow[order], pcol[order], pval[order]
        neg_before, neg_through, finite = count_negatives(chunk, gallery, prow, pval, row_s,
                                                          col_s)

    n_p = prow.shape[0]
    new = np.ones(n_p, dtype=bool)
    if n_p > 1:
        new[1:] = (prow[1:] != prow[:-1]) | (pval[1:] != pval[:-1])
    gstart = np.flatnonzero(new)
    gend = np.append(gstart[1:], n_p)
    gid = np.cumsum(new) - 1
    index = np.arange(n_p, dtype=np.int64) - starts[prow]
    pos_before = gstart[gid] - starts[prow]
    pos_through = gend[gid] - starts[prow]
    index += 1
    if not finite:
        return PositiveRanks(prow, pcol, index, index, pos_before, pos_through, neg_before,
                             neg_through, n_pos, n_same, finite=False)

    n_before = pos_before + neg_before
    within = index - 1 - pos_before  # rank among equal-distance positives (by gallery index)
    if ties == "optimistic":
        rank = n_before + 1 + within
    elif ties == "pessimistic":
        rank = n_before + (neg_through - neg_before) + 1 + within
    else:
        rank = n_before + 1 + within
        tied = np.flatnonzero(neg_through > neg_before)
        if tied.size:
            rank[tied] += _tied_negatives_before(chunk, qpids, gallery, prow[tied], pcol[tied],
                                                 pval[tied])
    return PositiveRanks(prow, pcol, index, rank, pos_before, pos_through, neg_before,
                         neg_through, n_pos, n_same)


def _tied_negatives_before(
    chunk: np.ndarray,
    qpids: np.ndarray,
    gallery: GalleryIndex,
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
) -> np.ndarray:
    """Valid negatives at exactly the positive's distance with a smaller gallery index."""
    n_gal = chunk.shape[1]
    out = np.zeros(rows.shape[0], dtype=np.int64)
    step = max(1, _TIE_BLOCK_ELEMS // max(n_gal, 1))
    arange = np.arange(n_gal)
    for s in range(0, rows.shape[0], step):
        r, c, v = rows[s:s + step], cols[s:s + step], vals[s:s + step]
        hit = chunk[r] == v[:, None]
        hit &= gallery.pids[None, :] != qpids[r][:, None]
        hit &= ~gallery.junk[None, :]
        hit &= arange[None, :] < c[:, None]
        out[s:s + step] = np.count_nonzero(hit, axis=1)
    return out
