"""The shared core: where every positive lands in the junk-free ranking of its query, with ties.

Every metric of :mod:`reidbench.metrics` (each AP variant, CMC, mINP) is a short function of the flat
per-positive arrays that :func:`positive_ranks` returns for a chunk of queries. Nothing sorts a full
row of the distance matrix unless that row needs it:

1. The gallery is grouped by pid once (:class:`GalleryIndex`), so a query's same-pid items (its
   positives and its same-camera junk) come from an index lookup, not from a dense pid comparison.
2. Per query, ``t_q`` is the largest distance of a positive; only valid negatives with ``d <= t_q``
   can change any positive's rank. One dense pass ``d <= t[:, None]`` finds them.
3. Rows with few such candidates ("sparse" rows) get their candidate negatives gathered, packed into
   rows of a padded array (one array per power-of-two width) and sorted; rows where candidates are a
   large fraction of the gallery ("dense" rows) are copied with every invalid item set to +inf and
   sorted whole. Either way each positive then finds, by a vectorised binary search, how many valid
   negatives lie strictly before it and how many lie at or before its distance.
4. For the ``stable`` tie policy, the negatives tied with a positive are counted by gallery index
   only for the (rare) positives that have such ties.

Distances are compared in the dtype they come in (float32 input is never rounded again, float64 is
never cast down); the per-positive counts are exact integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GalleryIndex", "PositiveRanks", "positive_ranks", "TIE_POLICIES", "PATHS"]

#: Order among items at equal distance: by gallery index, positives first, negatives first.
TIE_POLICIES = ("stable", "optimistic", "pessimistic")
#: How candidate negatives are found and counted (``auto`` picks per row).
PATHS = ("auto", "sparse", "dense")

# A row whose candidates (items with d <= t_q) exceed this fraction of the gallery is sorted whole.
_DENSE_FRACTION = 0.25
# Rows of tied positives compared against their full gallery row at once (bounds that temporary).
_TIE_BLOCK_ELEMS = 1 << 21


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
    """

    pids: np.ndarray
    camids: np.ndarray
    junk: np.ndarray
    order: np.ndarray
    upids: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def build(cls, pids: np.ndarray, camids: np.ndarray, junk_pids: tuple[int, ...]) -> GalleryIndex:
        """Group ``pids`` and mark the items whose pid is in ``junk_pids``."""
        pids = np.asarray(pids, dtype=np.int64)
        camids = np.asarray(camids, dtype=np.int64)
        order = np.argsort(pids, kind="stable")
        upids, starts, counts = np.unique(pids[order], return_index=True, return_counts=True)
        junk = np.isin(pids, np.asarray(junk_pids, dtype=np.int64)) if junk_pids else \
            np.zeros(pids.shape[0], dtype=bool)
        return cls(pids, camids, junk, order, upids, starts, counts)

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
    path: str = "auto",
) -> PositiveRanks:
    """Rank every positive of a chunk of queries in its junk-free gallery ranking.

    Args:
        chunk: ``(C, G)`` finite distances (float32 or float64), lower = more similar.
        qpids: ``(C,)`` int64 query pids.
        qcamids: ``(C,)`` int64 query cameras.
        gallery: The gallery labels (:meth:`GalleryIndex.build`).
        ties: One of :data:`TIE_POLICIES`.
        path: ``"auto"`` (per row), or force ``"sparse"`` / ``"dense"`` counting for every row.

    Returns:
        The :class:`PositiveRanks` of the chunk.
    """
    n_rows, n_gal = chunk.shape
    row_s, col_s = gallery.same_pid_items(qpids)
    n_same = np.bincount(row_s, minlength=n_rows)
    is_pos = (gallery.camids[col_s] != qcamids[row_s]) & ~gallery.junk[col_s]
    prow, pcol = row_s[is_pos], col_s[is_pos]
    pval = chunk[prow, pcol]
    order = np.lexsort((pcol, pval, prow))
    prow, pcol, pval = prow[order], pcol[order], pval[order]

    n_pos = np.bincount(prow, minlength=n_rows)
    ends = np.cumsum(n_pos)
    starts = ends - n_pos
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

    thresh = np.full(n_rows, -np.inf, dtype=chunk.dtype)
    has = n_pos > 0
    thresh[has] = pval[ends[has] - 1]
    neg_before, neg_through = _count_negatives(
        chunk, qpids, gallery, thresh, prow, pval, row_s, col_s, path)

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


def _count_negatives(
    chunk: np.ndarray,
    qpids: np.ndarray,
    gallery: GalleryIndex,
    thresh: np.ndarray,
    prow: np.ndarray,
    pval: np.ndarray,
    row_s: np.ndarray,
    col_s: np.ndarray,
    path: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Valid negatives strictly before / at or before each positive's distance."""
    n_rows, n_gal = chunk.shape
    neg_before = np.zeros(prow.shape[0], dtype=np.int64)
    neg_through = np.zeros(prow.shape[0], dtype=np.int64)
    rows_with = np.flatnonzero(thresh > -np.inf)
    if rows_with.size == 0:
        return neg_before, neg_through
    if path == "dense":
        dense = rows_with
        sparse = rows_with[:0]
        mask = None
    else:
        mask = chunk <= thresh[:, None]
        if path == "sparse":
            dense, sparse = rows_with[:0], rows_with
        else:
            k_row = np.count_nonzero(mask[rows_with], axis=1)
            big = k_row > _DENSE_FRACTION * n_gal
            dense, sparse = rows_with[big], rows_with[~big]

    # bucket of each row: 0 = dense, b >= 1 = sparse row packed to width 2**(b-1); -1 = no positive
    bucket = np.full(n_rows, -1, dtype=np.int64)
    bucket[dense] = 0
    packs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if dense.size:
        packs[0] = (dense, _sorted_dense_rows(chunk, dense, qpids, gallery, row_s, col_s))
    if sparse.size and mask is not None:
        packs.update(_sorted_sparse_rows(chunk, mask, sparse, qpids, gallery, bucket))
    local = np.zeros(n_rows, dtype=np.int64)
    pbucket = bucket[prow]
    for b, (rows, packed) in packs.items():
        local[rows] = np.arange(rows.shape[0])
        sel = np.flatnonzero(pbucket == b)
        if sel.size == 0 or packed.shape[1] == 0:
            continue
        lr = local[prow[sel]]
        neg_before[sel] = _row_searchsorted(packed, lr, pval[sel], right=False)
        neg_through[sel] = _row_searchsorted(packed, lr, pval[sel], right=True)
    return neg_before, neg_through


def _sorted_dense_rows(
    chunk: np.ndarray,
    rows: np.ndarray,
    qpids: np.ndarray,
    gallery: GalleryIndex,
    row_s: np.ndarray,
    col_s: np.ndarray,
) -> np.ndarray:
    """Copies of ``chunk[rows]`` holding only valid negatives (the rest +inf), each row sorted."""
    work = chunk[rows]
    if gallery.junk.any():
        work[:, gallery.junk] = np.inf
    local = np.full(chunk.shape[0], -1, dtype=np.int64)
    local[rows] = np.arange(rows.shape[0])
    lr = local[row_s]
    keep = lr >= 0
    work[lr[keep], col_s[keep]] = np.inf  # positives and same-camera junk
    work.sort(axis=1)
    return work


def _sorted_sparse_rows(
    chunk: np.ndarray,
    mask: np.ndarray,
    rows: np.ndarray,
    qpids: np.ndarray,
    gallery: GalleryIndex,
    bucket: np.ndarray,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Candidate negatives of sparse rows, packed per power-of-two width and sorted per row.

    Sets ``bucket[row]`` for every row in ``rows`` and returns ``{bucket: (rows, packed)}``.
    """
    n_gal = chunk.shape[1]
    flat = np.flatnonzero(mask[rows])
    r_local = flat // n_gal
    col = flat - r_local * n_gal
    row = rows[r_local]
    keep = (gallery.pids[col] != qpids[row]) & ~gallery.junk[col]
    row, col = row[keep], col[keep]
    val = chunk[row, col]
    count = np.bincount(row, minlength=chunk.shape[0])
    cnt = count[rows]
    width_exp = np.zeros(rows.shape[0], dtype=np.int64)
    nz = cnt > 0
    width_exp[nz] = np.ceil(np.log2(cnt[nz])).astype(np.int64) + 1
    bucket[rows] = width_exp + 1  # >= 1; rows without candidate negatives get width 0
    row_start = np.cumsum(count) - count
    pos_in_row = np.arange(row.shape[0], dtype=np.int64) - row_start[row]
    entry_bucket = bucket[row]
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for b in np.unique(bucket[rows]).tolist():
        b_rows = rows[bucket[rows] == b]
        width = 0 if b == 1 else 1 << (b - 2)
        packed = np.full((b_rows.shape[0], width), np.inf, dtype=chunk.dtype)
        if width:
            local = np.zeros(chunk.shape[0], dtype=np.int64)
            local[b_rows] = np.arange(b_rows.shape[0])
            sel = np.flatnonzero(entry_bucket == b)
            packed[local[row[sel]], pos_in_row[sel]] = val[sel]
            packed.sort(axis=1)
        out[b] = (b_rows, packed)
    return out


def _row_searchsorted(packed: np.ndarray, rows: np.ndarray, values: np.ndarray, *,
                      right: bool) -> np.ndarray:
    """Vectorised ``searchsorted`` of ``values[k]`` in the sorted row ``packed[rows[k]]``."""
    width = packed.shape[1]
    flat = packed.reshape(-1)
    base = rows * width
    lo = np.zeros(rows.shape[0], dtype=np.int64)
    hi = np.full(rows.shape[0], width, dtype=np.int64)
    for _ in range(int(width).bit_length()):
        mid = (lo + hi) >> 1
        inside = mid < hi
        probe = flat[base + np.minimum(mid, width - 1)]
        go = (probe <= values) if right else (probe < values)
        go &= inside
        lo = np.where(go, mid + 1, lo)
        hi = np.where(go | ~inside, hi, mid)
    return lo


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
