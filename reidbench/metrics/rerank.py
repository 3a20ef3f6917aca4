"""k-reciprocal re-ranking (Zhong et al. 2017) as a named post-processing step.

Zhong, Zheng, Cao and Li, "Re-ranking Person Re-identification with k-reciprocal Encoding",
CVPR 2017.

What it computes, for the joint set of N = Q + G items (queries first, then the gallery):

1. ``d(i, j)``: the original distances, **squared** and divided by the maximum of their row, as the
   authors' code does. Give Euclidean distances (or features, from which Euclidean distances are
   computed) to match the paper; torchreid passes squared Euclidean distances, which this step then
   squares again (pass those to reproduce torchreid).
2. ``N(i, k)``: the ``k + 1`` nearest items of ``i`` in the joint set, ``i`` itself included (the
   authors' code takes ``initial_rank[i, :k+1]``). ``R(i, k) = {j in N(i, k) : i in N(j, k)}``, the
   k-reciprocal neighbours.
3. ``R*(i)``: ``R(i, k1)`` united with every ``R(c, k1/2)``, ``c in R(i, k1)``, that overlaps
   ``R(i, k1)`` in **more than** two thirds of its own members (``3 |R(c) & R(i)| > 2 |R(c)|``,
   exact integer comparison). The size of the half neighbourhood is ``round(k1/2) + 1`` items with
   numpy rounding (half to even: ``half_rounding="python"``, the authors' Python code, torchreid,
   COSAM) or ``round((k1+1)/2)`` with MATLAB rounding (half away from zero:
   ``half_rounding="matlab"``, the authors' ``re_ranking.m``). They agree for k1 = 20 and differ
   whenever ``k1 % 4 == 3`` (see ``docs/metrics.md``).
4. ``V[i, j] = exp(-d(i, j))`` for ``j in R*(i)``, 0 elsewhere, each row normalised to sum 1.
5. Local query expansion: ``V[i] <- mean of V[j] over the k2 nearest j of i`` (itself included;
   skipped when ``k2 == 1``).
6. Jaccard distance ``dJ(i, j) = 1 - sum_m min(V[i,m], V[j,m]) / sum_m max(V[i,m], V[j,m])``; with
   rows summing to 1 the denominator is ``2 - sum_m min``.
7. ``final = (1 - lambda) * dJ + lambda * d``, returned for the query x gallery block.

Standard parameters: ``k1=20, k2=6, lambda=0.3`` (the paper's Market-1501 setting, torchreid, the
fast-reid config and COSAM). fast-reid's evaluator runs a different algorithm (faiss k-NN, no max
normalisation, mixed with the cosine distance); its numbers are not comparable with this step.

Caveats:

* **Transductive.** The result for one query depends on the other queries and on the whole gallery,
  so per-query numbers change with the query set. Results with re-ranking are a different procedure
  and must say so.
* **Memory is (Q + G)^2 by nature**: the joint distance matrix is dense (MARS: 13,290^2 float32 =
  0.7 GB, plus the inputs). Above ``max_items`` joint items a clear error is raised instead of
  swapping; raise the limit if you have the memory. The neighbour vectors are kept sparse.
* Computed in ``dtype`` (float32 by default, like the authors' ranklist code and torchreid; float64
  on request). Which item enters a neighbour set when distances tie exactly at the k-th place is not
  specified (as in the authors' code, which uses numpy's default unstable argsort).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from reidbench.errors import InputError, describe

__all__ = ["k_reciprocal_rerank", "k_reciprocal_rerank_features", "k_reciprocal_neighbors",
           "half_neighbourhood_size"]

_WHERE = "k_reciprocal_rerank"
_CHUNK_ENTRIES = 4_000_000  # working-set bound of the vectorised steps (elements)


def half_neighbourhood_size(k1: int, half_rounding: Literal["python", "matlab"] = "python") -> int:
    """Number of items (self included) in the ``k1/2`` neighbourhood used by the expansion step.

    Args:
        k1: The k1 parameter.
        half_rounding: ``"python"``: ``numpy.around(k1 / 2) + 1`` (half to even);
            ``"matlab"``: ``round((k1 + 1) / 2)`` (half away from zero).

    Returns:
        The neighbourhood size; 11 for k1 = 20 under both rules, 11 vs 10 for k1 = 19.
    """
    if half_rounding == "python":
        return int(np.around(k1 / 2)) + 1
    if half_rounding == "matlab":
        return int(np.floor((k1 + 1) / 2 + 0.5))
    raise InputError(describe("half_rounding", _WHERE, "'python' or 'matlab'", repr(half_rounding),
                              ""))


def k_reciprocal_rerank(
    q_g_dist: Any,
    q_q_dist: Any,
    g_g_dist: Any,
    *,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    half_rounding: Literal["python", "matlab"] = "python",
    dtype: Any = np.float32,
    max_items: int = 20_000,
) -> np.ndarray:
    """Re-rank a query x gallery distance matrix with k-reciprocal encoding.

    Args:
        q_g_dist: ``(Q, G)`` query-gallery distances (Euclidean to match the paper; see the module
            docstring).
        q_q_dist: ``(Q, Q)`` query-query distances, symmetric.
        g_g_dist: ``(G, G)`` gallery-gallery distances, symmetric.
        k1: Size of the k-reciprocal neighbourhood (>= 1).
        k2: Size of the local query expansion (>= 1; 1 disables it).
        lambda_value: Weight of the original distance in the final mix, in [0, 1]. 1 returns the
            normalised squared original distance; 0 the Jaccard distance alone.
        half_rounding: Rounding of k1/2 (``"python"`` or ``"matlab"``), see
            :func:`half_neighbourhood_size`.
        dtype: ``numpy.float32`` (default) or ``numpy.float64``: precision of every step.
        max_items: Largest joint set ``Q + G`` accepted; re-ranking holds ``(Q+G)^2`` distances.

    Returns:
        ``(Q, G)`` re-ranked distances in ``dtype`` (lower = more similar).

    Raises:
        InputError: On inconsistent shapes, non-finite, negative or asymmetric distances, bad
            parameters, or a joint set larger than ``max_items``.
    """
    dt = _check_params(k1, k2, lambda_value, half_rounding, dtype, max_items)
    qg = _as_2d("q_g_dist", q_g_dist)
    q, g = qg.shape
    _check_size(q + g, max_items, dt)
    qq = _as_2d("q_q_dist", q_q_dist, (q, q))
    gg = _as_2d("g_g_dist", g_g_dist, (g, g))
    for name, block in (("q_q_dist", qq), ("g_g_dist", gg)):
        _check_symmetric(name, block)
    joint = np.empty((q + g, q + g), dtype=dt)
    joint[:q, :q] = qq
    joint[:q, q:] = qg
    joint[q:, :q] = qg.T
    joint[q:, q:] = gg
    return _rerank_joint(joint, q, k1, k2, float(lambda_value), half_rounding)


def k_reciprocal_rerank_features(
    query_features: Any,
    gallery_features: Any,
    *,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    half_rounding: Literal["python", "matlab"] = "python",
    dtype: Any = np.float32,
    max_items: int = 20_000,
) -> np.ndarray:
    """Re-rank from features: Euclidean distances over the joint set, then re-ranking.

    The same as :func:`k_reciprocal_rerank` on the Euclidean distance blocks (the authors'
    ``re_ranking_feature``, used by COSAM).

    Args:
        query_features: ``(Q, D)`` query embeddings.
        gallery_features: ``(G, D)`` gallery embeddings.
        k1: See :func:`k_reciprocal_rerank`.
        k2: See :func:`k_reciprocal_rerank`.
        lambda_value: See :func:`k_reciprocal_rerank`.
        half_rounding: See :func:`k_reciprocal_rerank`.
        dtype: See :func:`k_reciprocal_rerank`.
        max_items: See :func:`k_reciprocal_rerank`.

    Returns:
        ``(Q, G)`` re-ranked distances.

    Raises:
        InputError: On bad features or parameters (see :func:`k_reciprocal_rerank`).
    """
    dt = _check_params(k1, k2, lambda_value, half_rounding, dtype, max_items)
    qf = _as_2d("query_features", query_features)
    gf = _as_2d("gallery_features", gallery_features)
    if qf.shape[1] != gf.shape[1]:
        raise InputError(describe("gallery_features", "k_reciprocal_rerank_features",
                                  f"dimension {qf.shape[1]} like query_features", gf.shape[1],
                                  "embed both sets with the same model"))
    _check_size(qf.shape[0] + gf.shape[0], max_items, dt)
    joint = _euclidean(np.concatenate([qf, gf]).astype(np.float64), dt)
    return _rerank_joint(joint, qf.shape[0], k1, k2, float(lambda_value), half_rounding)


def k_reciprocal_neighbors(dist: Any, k: int) -> list[np.ndarray]:
    """The k-reciprocal neighbour sets ``R(i, k)`` of every item of a square distance matrix.

    ``R(i, k) = {j in N(i, k) : i in N(j, k)}`` where ``N(i, k)`` holds the ``k + 1`` nearest items
    of ``i``, itself included (the convention of the authors' code).

    Args:
        dist: ``(N, N)`` symmetric distances.
        k: Neighbourhood size (>= 1).

    Returns:
        One sorted index array per item.

    Raises:
        InputError: If ``dist`` is not a square, finite, symmetric matrix or ``k`` is invalid.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(describe("k", "k_reciprocal_neighbors", "an integer >= 1", repr(k), ""))
    d = _as_2d("dist", dist)
    if d.shape[0] != d.shape[1]:
        raise InputError(describe("dist", "k_reciprocal_neighbors", "a square (N, N) matrix",
                                  f"shape {d.shape}", ""))
    _check_symmetric("dist", d)
    kk = min(k + 1, d.shape[0])
    top = _nearest(d, [kk])
    mask = _reciprocal(top[:, :kk])
    return [np.sort(top[i, :kk][mask[i]]) for i in range(d.shape[0])]


# ----------------------------------------------------------------------------- validation


def _check_params(k1: Any, k2: Any, lam: Any, half_rounding: Any, dtype: Any,
                  max_items: Any) -> np.dtype:
    for name, val in (("k1", k1), ("k2", k2), ("max_items", max_items)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise InputError(describe(name, _WHERE, "an integer >= 1", repr(val),
                                      "the standard setting is k1=20, k2=6"))
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0.0 <= lam <= 1.0:
        raise InputError(describe("lambda_value", _WHERE, "a number in [0, 1]", repr(lam),
                                  "the standard setting is 0.3"))
    half_neighbourhood_size(1, half_rounding)  # validates the name
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise InputError(describe("dtype", _WHERE, "float32 or float64", repr(dtype), "")) from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InputError(describe("dtype", _WHERE, "float32 or float64", str(dt), ""))
    return dt


def _check_size(n: int, max_items: int, dt: np.dtype) -> None:
    if n > max_items:
        gib = n * n * dt.itemsize / 2**30
        raise InputError(describe(
            "query + gallery size", _WHERE, f"at most max_items={max_items} joint items "
            f"(re-ranking holds (Q+G)^2 distances: {gib:.1f} GiB here, plus the inputs)", n,
            "raise max_items if the machine has the memory, or re-rank a smaller gallery"))


def _as_2d(name: str, value: Any, shape: tuple[int, int] | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(describe(name, _WHERE, "a 2-D array of real numbers", f"dtype {arr.dtype}",
                                  ""))
    if arr.ndim != 2 or 0 in arr.shape:
        raise InputError(describe(name, _WHERE, "a non-empty 2-D array", f"shape {arr.shape}", ""))
    if shape is not None and arr.shape != shape:
        raise InputError(describe(name, _WHERE, f"shape {shape} to match q_g_dist",
                                  f"shape {arr.shape}", ""))
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(x) for x in np.argwhere(bad)[0])
        raise InputError(describe(name, _WHERE, "finite values", f"{arr[where]} at {where}",
                                  "check the features for NaN or inf"))
    if name.endswith("_dist") or name == "dist":
        if (arr < 0).any():
            raise InputError(describe(name, _WHERE, "distances >= 0", f"minimum {arr.min()}",
                                      "pass distances, not similarities"))
    return arr


def _check_symmetric(name: str, block: np.ndarray) -> None:
    scale = float(np.abs(block).max()) or 1.0
    if not np.allclose(block, block.T, rtol=1e-5, atol=1e-6 * scale):
        i, j = np.unravel_index(int(np.argmax(np.abs(block - block.T))), block.shape)
        raise InputError(describe(name, _WHERE, "a symmetric distance matrix",
                                  f"[{i},{j}]={block[i, j]} but [{j},{i}]={block[j, i]}",
                                  "pass the distances of the set to itself"))


# ----------------------------------------------------------------------------- the algorithm


def _euclidean(x: np.ndarray, dt: np.dtype) -> np.ndarray:
    sq = np.einsum("ij,ij->i", x, x)
    out = np.empty((x.shape[0], x.shape[0]), dtype=dt)
    rows = max(1, _CHUNK_ENTRIES // max(1, x.shape[0]))
    for s in range(0, x.shape[0], rows):
        block = sq[s:s + rows, None] + sq[None, :] - 2.0 * (x[s:s + rows] @ x.T)
        out[s:s + rows] = np.sqrt(np.maximum(block, 0.0))
    return out


def _nearest(d: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Indices of the ``max(sizes)`` nearest items per row.

    For every s in ``sizes`` the first s columns are the s nearest (as a set).
    """
    n = d.shape[0]
    kmax = max(sizes)
    out = np.empty((n, kmax), dtype=np.int64)
    rows = max(1, _CHUNK_ENTRIES // max(1, n))
    kth = sorted({s - 1 for s in sizes})
    for s in range(0, n, rows):
        block = d[s:s + rows]
        if kmax >= n:
            out[s:s + rows] = np.argsort(block, axis=1, kind="stable")[:, :kmax]
        else:
            out[s:s + rows] = np.argpartition(block, kth, axis=1)[:, :kmax]
    return out


def _reciprocal(top: np.ndarray) -> np.ndarray:
    """mask[i, a] = i is among the nearest of top[i, a] (top: (N, K) neighbour lists)."""
    n, k = top.shape
    mask = np.empty((n, k), dtype=bool)
    rows = max(1, _CHUNK_ENTRIES // max(1, k * k))
    for s in range(0, n, rows):
        ids = np.arange(s, min(n, s + rows))
        mask[ids] = (top[top[ids]] == ids[:, None, None]).any(axis=2)
    return mask


def _rerank_joint(d: np.ndarray, n_query: int, k1: int, k2: int, lam: float,
                  half_rounding: str) -> np.ndarray:
    """The algorithm on the joint (N, N) distance matrix ``d`` (modified in place)."""
    from scipy import sparse  # scipy is a dependency; imported here to keep import time low

    n = d.shape[0]
    np.square(d, out=d)
    rowmax = d.max(axis=1)
    rowmax[rowmax == 0] = 1.0
    d /= rowmax[:, None]

    kf = min(k1 + 1, n)
    kh = min(half_neighbourhood_size(k1, half_rounding), n)
    kq = min(k2, n)
    top = _nearest(d, [kf, kh, kq])
    full, half = top[:, :kf], top[:, :kh]
    full_ok, half_ok = _reciprocal(full), _reciprocal(half)

    # R*(i): R(i, k1) plus the accepted half neighbourhoods of its members.
    row_parts, col_parts = [], []
    rows = max(1, _CHUNK_ENTRIES // (kf * kh * kf))
    for s in range(0, n, rows):
        ids = np.arange(s, min(n, s + rows))
        members, mem_ok = full[ids], full_ok[ids]                       # (c, kf)
        cand, cand_ok = half[members], half_ok[members]                 # (c, kf, kh)
        in_r = ((cand[..., None] == members[:, None, None, :])
                & mem_ok[:, None, None, :]).any(axis=3)                 # (c, kf, kh)
        overlap = (in_r & cand_ok).sum(axis=2)
        size = cand_ok.sum(axis=2)
        accept = mem_ok & (3 * overlap > 2 * size)
        take = accept[..., None] & cand_ok
        row_parts += [np.broadcast_to(ids[:, None], members.shape)[mem_ok],
                      np.broadcast_to(ids[:, None, None], cand.shape)[take]]
        col_parts += [members[mem_ok], cand[take]]
    r, c = np.concatenate(row_parts), np.concatenate(col_parts)
    v = sparse.csr_matrix((np.ones(r.shape[0], dtype=d.dtype), (r, c)), shape=(n, n))
    v.sum_duplicates()
    vr = np.repeat(np.arange(n), np.diff(v.indptr))
    v.data = np.exp(-d[vr, v.indices]).astype(d.dtype)
    v.data /= np.repeat(np.asarray(v.sum(axis=1)).ravel().astype(d.dtype), np.diff(v.indptr))

    if k2 != 1:  # local query expansion over the k2 nearest (self included)
        qe = sparse.csr_matrix((np.full(n * kq, 1.0 / kq, dtype=d.dtype),
                                (np.repeat(np.arange(n), kq), top[:, :kq].ravel())), shape=(n, n))
        v = (qe @ v).tocsr()

    jacc = _jaccard_rows(v, n_query)
    out = (1.0 - lam) * jacc[:, n_query:] + lam * d[:n_query, n_query:]
    return out.astype(d.dtype, copy=False)


def _jaccard_rows(v: Any, n_rows: int) -> np.ndarray:
    """1 - sum(min)/(2 - sum(min)) between rows 0..n_rows-1 of ``v`` and every row (rows sum 1)."""
    n = v.shape[0]
    vc = v.tocsc()
    vq = v[:n_rows].tocsr()
    col_len = np.diff(vc.indptr)
    out = np.empty((n_rows, n), dtype=v.dtype)
    s = 0
    while s < n_rows:
        # grow the chunk until its expanded entry count reaches the bound
        e, total = s, 0
        while e < n_rows and (e == s or total < _CHUNK_ENTRIES):
            cols = vq.indices[vq.indptr[e]:vq.indptr[e + 1]]
            total += int(col_len[cols].sum()) + n
            e += 1
        lo, hi = vq.indptr[s], vq.indptr[e]
        qrow = np.repeat(np.arange(e - s), np.diff(vq.indptr[s:e + 1]))
        cols, a = vq.indices[lo:hi], vq.data[lo:hi]
        lens = col_len[cols]
        starts = np.repeat(vc.indptr[cols] - (np.cumsum(lens) - lens), lens)
        pos = starts + np.arange(int(lens.sum()))
        mins = np.minimum(np.repeat(a, lens), vc.data[pos])
        summed = np.bincount(np.repeat(qrow, lens) * n + vc.indices[pos], weights=mins,
                             minlength=(e - s) * n).reshape(e - s, n)
        out[s:e] = 1.0 - summed / (2.0 - summed)
        s = e
    return out
