"""Average query expansion on embeddings, as a named post-processing step.

Query expansion replaces each query embedding by a weighted mean of itself and its ``k`` most
similar gallery embeddings, then ranks with the new query (Chum et al., ICCV 2007, "Total Recall").
Everything happens on L2-normalised features with cosine similarity ``s = <q, g>``:

* ``method="aqe"``: average query expansion, ``q' = q + sum_{i<=k} g_i`` (uniform weights).
* ``method="alpha_qe"``: alpha-weighted query expansion (Radenovic, Tolias and Chum, TPAMI 2018),
  ``q' = q + sum_{i<=k} max(s_i, 0)^alpha * g_i``; ``alpha=0`` is ``aqe``, larger ``alpha`` trusts
  only the nearest neighbours. fast-reid's ``TEST.AQE`` is of this kind (its defaults: ``k=5``,
  ``alpha=3``), but it expands queries and gallery together over the joint set; here each side is
  expanded from the original gallery.

Inputs are L2-normalised first. ``q'`` is L2-normalised again (``normalize=True``), so the sums need
no division; with ``normalize=False`` the weighted **mean** of the unit vectors is returned instead.
With ``expand_gallery=True`` every
gallery item is expanded the same way from its ``k`` nearest *other* gallery items (database-side
augmentation), using the original gallery features for both sides.

Caveat: with ``expand_gallery=True`` the gallery representation depends on the whole gallery, and
in every case the result is a different procedure from plain retrieval; record it with the result.
Neighbours are the ``k`` largest similarities; exact ties are broken by lower gallery index.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from reidbench.errors import InputError, describe

__all__ = ["query_expansion", "QE_METHODS"]

#: The named expansion methods.
QE_METHODS = ("aqe", "alpha_qe")

_WHERE = "query_expansion"
_CHUNK_ENTRIES = 4_000_000


def query_expansion(
    query_features: Any,
    gallery_features: Any,
    *,
    method: Literal["aqe", "alpha_qe"] = "aqe",
    k: int = 5,
    alpha: float = 3.0,
    expand_gallery: bool = False,
    normalize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Expand query (and optionally gallery) embeddings with their nearest gallery neighbours.

    Args:
        query_features: ``(Q, D)`` query embeddings (any scale; normalised internally).
        gallery_features: ``(G, D)`` gallery embeddings.
        method: ``"aqe"`` (uniform weights) or ``"alpha_qe"`` (weights ``max(s, 0)^alpha``).
        k: Number of gallery neighbours used (0 returns the normalised inputs). At most ``G``
            (``G - 1`` with ``expand_gallery``).
        alpha: Exponent of ``alpha_qe`` (ignored by ``aqe``); >= 0.
        expand_gallery: Also expand every gallery item from its ``k`` nearest other gallery items.
        normalize: L2-normalise the expanded features (for cosine ranking); otherwise return the
            weighted means.

    Returns:
        ``(query, gallery)`` expanded features, float64 (float32 when both inputs are float32).
        Without ``expand_gallery`` the gallery is only L2-normalised.

    Raises:
        InputError: On non-finite or all-zero feature rows, mismatched dimensions, or bad options.

    Example:
        >>> q, g = query_expansion([[1.0, 0.0]], [[0.6, 0.8], [0.0, 1.0]], k=1)
        >>> np.round(q, 4).tolist()
        [[0.8944, 0.4472]]
    """
    if method not in QE_METHODS:
        raise InputError(describe("method", _WHERE, f"one of {list(QE_METHODS)}", repr(method), ""))
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise InputError(describe("k", _WHERE, "an integer >= 0", repr(k), "fast-reid uses 5"))
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not np.isfinite(alpha) \
            or alpha < 0:
        raise InputError(describe("alpha", _WHERE, "a finite number >= 0", repr(alpha),
                                  "fast-reid uses 3.0"))
    qf = _features("query_features", query_features)
    gf = _features("gallery_features", gallery_features)
    if qf.shape[1] != gf.shape[1]:
        raise InputError(describe("gallery_features", _WHERE,
                                  f"dimension {qf.shape[1]} like query_features", gf.shape[1],
                                  "embed both sets with the same model"))
    limit = gf.shape[0] - 1 if expand_gallery else gf.shape[0]
    if k > limit:
        raise InputError(describe("k", _WHERE, f"at most {limit} (the gallery size"
                                  + (" minus the item itself)" if expand_gallery else ")"), k,
                                  "use a smaller k"))
    out_dtype = np.float32 if qf.dtype == gf.dtype == np.float32 else np.float64
    qn = _unit("query_features", qf.astype(np.float64))
    gn = _unit("gallery_features", gf.astype(np.float64))
    weight_alpha = alpha if method == "alpha_qe" else 0.0
    q_out = _expand(qn, gn, k, weight_alpha, normalize, exclude_self=False)
    if expand_gallery:
        g_out = _expand(gn, gn, k, weight_alpha, normalize, exclude_self=True)
    else:
        g_out = gn
    return q_out.astype(out_dtype), g_out.astype(out_dtype)


def _features(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(describe(name, _WHERE, "a 2-D array of real numbers", f"dtype {arr.dtype}",
                                  ""))
    if arr.ndim != 2 or 0 in arr.shape:
        raise InputError(describe(name, _WHERE, "a non-empty (N, D) array", f"shape {arr.shape}",
                                  ""))
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise InputError(describe(name, _WHERE, "finite values", f"NaN or inf in row {row}",
                                  "check the feature extractor"))
    return arr


def _unit(name: str, x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1)
    if (norms == 0).any():
        row = int(np.flatnonzero(norms == 0)[0])
        raise InputError(describe(name, _WHERE, "non-zero feature rows", f"all zeros in row {row}",
                                  "an all-zero embedding has no direction; drop or fix it"))
    return x / norms[:, None]


def _expand(x: np.ndarray, base: np.ndarray, k: int, alpha: float, normalize: bool,
            exclude_self: bool) -> np.ndarray:
    """x_i' = x_i + sum over the k most similar base rows of w * base_j (x and base unit-norm)."""
    if k == 0:
        return x.copy()
    out = np.empty_like(x)
    n_base = base.shape[0]
    rows = max(1, _CHUNK_ENTRIES // max(1, n_base))
    for s in range(0, x.shape[0], rows):
        sim = x[s:s + rows] @ base.T
        if exclude_self:
            sim[np.arange(sim.shape[0]), np.arange(s, s + sim.shape[0])] = -np.inf
        # the k largest similarities; among values equal to the k-th largest, lower index first
        kth = np.partition(sim, n_base - k, axis=1)[:, n_base - k]
        key = np.where(sim > kth[:, None], 0, np.where(sim == kth[:, None], 1, 2)).astype(np.int8)
        nbr = np.argsort(key, axis=1, kind="stable")[:, :k]
        s_nbr = np.take_along_axis(sim, nbr, axis=1)
        w = np.maximum(s_nbr, 0.0) ** alpha if alpha > 0 else np.ones_like(s_nbr)
        acc = x[s:s + rows] + np.einsum("ck,ckd->cd", w, base[nbr])
        out[s:s + rows] = acc if normalize else acc / (1.0 + w.sum(axis=1))[:, None]
    if normalize:  # a query exactly cancelled by its neighbours stays at zero
        out /= np.maximum(np.linalg.norm(out, axis=1), np.finfo(np.float64).tiny)[:, None]
    return out
