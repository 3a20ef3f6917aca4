"""Query x gallery distances: euclidean, squared euclidean, cosine; numpy or torch.

numpy in, numpy out (float64). torch in, torch out (float64, on the tensors' device; torch is
imported only when a tensor is passed). Lower = more similar for every metric.

* ``sqeuclidean``: ``|q|^2 + |g|^2 - 2 q.g``, clipped at 0 (the expansion can round below 0).
* ``euclidean``: the square root of ``sqeuclidean``.
* ``cosine``: ``1 - q.g / (|q| |g|)``, clipped to [0, 2] (a vector's distance to itself can round
  to -2e-16, which re-ranking would refuse as negative); a zero vector is treated as having norm 1
  (distance 1 to everything), so the result stays finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reidbench.errors import InputError, describe
from reidbench.metrics._validate import check_choice

__all__ = ["compute_distance", "check_features", "prepare_gallery", "pairwise", "DISTANCES"]

DISTANCES = ("euclidean", "sqeuclidean", "cosine")


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def check_features(query: Any, gallery: Any, where: str) -> tuple[Any, Any]:
    """Check two feature matrices: 2-D, same width, non-empty, finite; numpy ones as float64.

    Two torch tensors must be on one device (their distances are computed there); any real dtypes
    may be mixed, since both are converted to float64. A torch tensor paired with a numpy array is
    moved to the CPU.

    Returns:
        ``(query, gallery)``: numpy float64 arrays, or torch float64 tensors when both are torch.

    Raises:
        InputError: Naming ``query_feats``/``gallery_feats`` on a bad shape, dtype, device or
            value.
    """
    both_torch = _is_torch(query) and _is_torch(gallery)
    if both_torch:
        _check_devices(query, gallery, where)
    out = []
    for name, x in (("query_feats", query), ("gallery_feats", gallery)):
        if both_torch:
            shape, ok_dtype = tuple(x.shape), not x.is_complex()
        else:
            if _is_torch(x):
                x = x.detach().cpu().numpy()
            x = np.asarray(x)
            shape, ok_dtype = x.shape, x.dtype.kind in "fiub"
        if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
            raise InputError(describe(name, where, "a non-empty 2-D (items, dim) array",
                                      f"shape {shape}", "pass one feature row per item"))
        if not ok_dtype:
            raise InputError(describe(name, where, "real-valued features", f"dtype {x.dtype}", ""))
        if both_torch:
            import torch

            x = x.to(torch.float64)
            finite = bool(torch.isfinite(x).all())
        else:
            x = x.astype(np.float64, copy=False)
            finite = bool(np.isfinite(x).all())
        if not finite:
            raise InputError(describe(name, where, "finite values", "NaN or inf",
                                      "check the model output"))
        out.append(x)
    if out[0].shape[1] != out[1].shape[1]:
        raise InputError(describe("gallery_feats", where,
                                  f"the query feature dimension {out[0].shape[1]}",
                                  f"dimension {out[1].shape[1]}",
                                  "extract both sets with the same model"))
    return out[0], out[1]


def _check_devices(query: Any, gallery: Any, where: str) -> None:
    """Both tensors on one device that holds data (not torch's shape-only 'meta' device)."""
    for name, x in (("query_feats", query), ("gallery_feats", gallery)):
        if x.device.type == "meta":
            raise InputError(describe(name, where, "a tensor with values",
                                      "a tensor on the 'meta' device (shapes only)",
                                      "materialise the features first"))
    if query.device != gallery.device:
        raise InputError(describe("gallery_feats", where,
                                  f"a tensor on the device of query_feats ({query.device})",
                                  f"device {gallery.device}",
                                  "move both to one device, e.g. "
                                  "gallery_feats.to(query_feats.device)"))


def compute_distance(query: Any, gallery: Any, metric: str = "euclidean") -> Any:
    """Distances between every query row and every gallery row.

    Args:
        query: ``(Q, D)`` features (numpy array or torch tensor).
        gallery: ``(G, D)`` features (same kind as ``query``; two tensors on one device).
        metric: ``euclidean``, ``sqeuclidean`` or ``cosine``.

    Returns:
        ``(Q, G)`` float64 distances: a numpy array, or a torch tensor on the inputs' device.

    Raises:
        InputError: On an unknown metric or bad features.
    """
    where = "compute_distance"
    check_choice(metric, "metric", DISTANCES, where)
    q, g = check_features(query, gallery, where)
    return pairwise(q, prepare_gallery(g, metric), metric)


def prepare_gallery(gallery: Any, metric: str) -> tuple[Any, Any]:
    """What :func:`pairwise` needs of checked float64 gallery features, computed once.

    Returns:
        ``(matrix, norms)``: the unit-normalised features and None for ``cosine``; the features
        and their squared norms otherwise.
    """
    if _is_torch(gallery):
        if metric == "cosine":
            n = gallery.norm(dim=1, keepdim=True)
            return gallery / n.masked_fill(n == 0, 1.0), None
        return gallery, (gallery * gallery).sum(1)
    if metric == "cosine":
        n = np.linalg.norm(gallery, axis=1, keepdims=True)
        n[n == 0] = 1.0
        return gallery / n, None
    return gallery, np.einsum("ij,ij->i", gallery, gallery)


def pairwise(query: Any, gallery: tuple[Any, Any], metric: str) -> Any:
    """Distances from checked float64 query features to a :func:`prepare_gallery` result."""
    g, g_sq = gallery
    if _is_torch(query):
        if metric == "cosine":
            n = query.norm(dim=1, keepdim=True)
            return (1.0 - (query / n.masked_fill(n == 0, 1.0)) @ g.T).clamp_(0.0, 2.0)
        d = (query * query).sum(1, keepdim=True) + g_sq[None, :] - 2.0 * (query @ g.T)
        d = d.clamp_min(0.0)
        return d.sqrt() if metric == "euclidean" else d
    if metric == "cosine":
        n = np.linalg.norm(query, axis=1, keepdims=True)
        n[n == 0] = 1.0
        return np.clip(1.0 - (query / n) @ g.T, 0.0, 2.0)
    d = query @ g.T
    d *= -2.0
    d += np.einsum("ij,ij->i", query, query)[:, None]
    d += g_sq[None, :]
    np.maximum(d, 0.0, out=d)
    if metric == "euclidean":
        np.sqrt(d, out=d)
    return d
