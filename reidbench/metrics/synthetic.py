"""Synthetic retrieval problems with the pid/camera structure of MARS (demos, benchmarks, tests).

:func:`make_problem` builds a query set and a gallery the way the official MARS evaluation does:

* one query per (identity, camera) pair that has tracklets, so an identity seen by ``k`` cameras
  gives ``k`` queries (MARS: 1,980 queries over 625 identities, about 3.2 cameras per identity);
* the gallery holds every test tracklet, **the queries included** (the official 11,310-tracklet
  gallery; the query's own copy is same-pid-same-camera junk), so every query has a cross-camera
  positive. :meth:`SyntheticProblem.without_queries` gives the other protocol in use (gallery minus
  queries, torchreid's 9,330 tracklets), under which some queries lose every positive;
* pid ``-1`` junk tracklets (MARS has 870) and pid ``0`` distractors (ordinary negatives);
* a heavy-tailed number of tracklets per (identity, camera), so the number of positives per query
  varies a lot (MARS: min 1, median 8, max 207).

Two kinds of scores:

* ``kind="model"``: 64-d (``dim``) float32 embeddings, ``centre[pid] + shift[camera] + noise``, with
  a per-tracklet noise scale (some tracklets are blurred or occluded), and **squared Euclidean**
  distances computed from them in float64. With the default ``difficulty`` the noninterpolated mAP
  is about 0.8 and Rank-1 about 0.9 on the MARS-sized problem, like a real model.
* ``kind="random"``: distances uniform in [0, 1) (features, when asked for, are standard normal with
  no identity structure); mAP is near chance.

``ties=L`` quantises the distances to ``L`` evenly spaced levels (order kept, ties created) to
exercise the tie policies, as quantised or fp16 features and re-ranked distances do.

Everything is deterministic given ``seed`` (numpy ``default_rng``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from reidbench.errors import InputError, describe

__all__ = ["SyntheticProblem", "make_problem", "gallery_split", "min_gallery",
           "MARS_CAMERAS_PER_ID"]

#: Queries per identity in MARS (1,980 queries / 625 identities); sets the default ``n_ids``.
MARS_CAMERAS_PER_ID = 1980 / 625

_WHERE = "make_problem"


@dataclass(frozen=True)
class SyntheticProblem:
    """A retrieval problem: labels of query and gallery items plus distances and/or features.

    Attributes:
        query_pids: ``(Q,)`` int64 identities of the queries (all >= 1).
        gallery_pids: ``(G,)`` int64 identities of the gallery (``-1`` junk, ``0`` distractor).
        query_camids: ``(Q,)`` int64 cameras (1-based).
        gallery_camids: ``(G,)`` int64 cameras (1-based).
        distmat: ``(Q, G)`` float64 distances (lower = more similar), or ``None`` when not built.
        query_features: ``(Q, dim)`` float32 embeddings (``kind="model"`` or when
            ``with_distmat=False``), else ``None``.
        gallery_features: ``(G, dim)`` float32 embeddings, or ``None``.
        query_gallery_index: ``(Q,)`` int64 position of each query's own tracklet in the gallery,
            ``-1`` where the gallery does not contain it.
        params: The resolved arguments of :func:`make_problem` (for provenance).
    """

    query_pids: np.ndarray
    gallery_pids: np.ndarray
    query_camids: np.ndarray
    gallery_camids: np.ndarray
    distmat: np.ndarray | None
    query_features: np.ndarray | None
    gallery_features: np.ndarray | None
    query_gallery_index: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_query(self) -> int:
        """Number of queries."""
        return int(self.query_pids.shape[0])

    @property
    def n_gallery(self) -> int:
        """Number of gallery items."""
        return int(self.gallery_pids.shape[0])

    def metric_args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The positional arguments of ``rank_metrics``: distmat, query/gallery pids and camids.

        Raises:
            InputError: If the problem was built without a distance matrix.
        """
        if self.distmat is None:
            raise InputError(describe("distmat", "SyntheticProblem.metric_args",
                                      "a distance matrix",
                                      "None (built with with_distmat=False)",
                                      "use the features, or build with with_distmat=True"))
        return (self.distmat, self.query_pids, self.gallery_pids, self.query_camids,
                self.gallery_camids)

    def without_queries(self) -> SyntheticProblem:
        """The same problem with the query tracklets removed from the gallery.

        This is the torchreid / COSAM MARS protocol (gallery = test - query - junk, 9,330
        tracklets);
        queries whose only cross-camera tracklets were other queries then have no positive.
        """
        keep = np.ones(self.n_gallery, dtype=bool)
        keep[self.query_gallery_index[self.query_gallery_index >= 0]] = False
        new_pos = np.cumsum(keep) - 1
        return replace(
            self,
            gallery_pids=_frozen(self.gallery_pids[keep]),
            gallery_camids=_frozen(self.gallery_camids[keep]),
            distmat=None if self.distmat is None else _frozen(self.distmat[:, keep]),
            gallery_features=(None if self.gallery_features is None
                              else _frozen(self.gallery_features[keep])),
            query_gallery_index=_frozen(np.full(self.n_query, -1, dtype=np.int64)),
            params={**self.params, "query_in_gallery": False,
                    "n_gallery_effective": int(new_pos[-1] + 1) if keep.any() else 0},
        )


def make_problem(
    n_query: int = 1980,
    n_gallery: int = 11310,
    n_ids: int | None = None,
    n_cams: int = 6,
    distractor_frac: float = 0.05,
    junk_frac: float = 0.07,
    dim: int = 64,
    difficulty: float = 1.0,
    ties: int | None = None,
    seed: int = 0,
    kind: Literal["model", "random"] = "model",
    with_distmat: bool = True,
) -> SyntheticProblem:
    """Build a MARS-like synthetic retrieval problem.

    Args:
        n_query: Number of queries, one per (identity, camera) pair. MARS: 1,980.
        n_gallery: Gallery size, the queries' own tracklets included. MARS: 11,310.
        n_ids: Number of identities; ``None`` gives ``n_query / 3.168`` as in MARS (625 by default),
            clipped so each identity has between 2 and ``n_cams`` cameras.
        n_cams: Number of cameras (MARS: 6). At least 2.
        distractor_frac: Fraction of the gallery that is pid-0 distractors (ordinary negatives).
        junk_frac: Fraction of the gallery that is pid -1 junk (MARS: 870 of 12,180, about 0.07).
        dim: Embedding dimension (``kind="model"``).
        difficulty: Noise scale of the embeddings relative to the identity spread. 1.0 gives a
            noninterpolated mAP of about 0.8 at MARS size; 0 makes the problem nearly trivial, 2
            very hard.
        ties: ``None`` for continuous distances, or a number of levels (>= 2) to quantise the
            distances to, which creates ties.
        seed: Seed of numpy's ``default_rng``; the same arguments give the same problem.
        kind: ``"model"`` (model-like embeddings) or ``"random"`` (uniform random distances).
        with_distmat: Build the ``(Q, G)`` distance matrix (float64). Set ``False`` for large
            problems that are evaluated streamed from the features.

    Returns:
        A frozen :class:`SyntheticProblem`.

    Raises:
        InputError: If a size, fraction or option is out of range or the sizes are inconsistent.
    """
    _check_int("n_query", n_query, 2)
    _check_int("n_gallery", n_gallery, 1)
    _check_int("n_cams", n_cams, 2)
    _check_int("dim", dim, 1)
    _check_int("seed", seed, 0)
    for name, val in (("distractor_frac", distractor_frac), ("junk_frac", junk_frac)):
        if not (isinstance(val, (int, float)) and 0.0 <= val < 1.0):
            raise InputError(describe(name, _WHERE, "a fraction in [0, 1)", repr(val), ""))
    if not (isinstance(difficulty, (int, float)) and math.isfinite(difficulty) and difficulty >= 0):
        raise InputError(describe("difficulty", _WHERE, "a finite number >= 0", repr(difficulty),
                                  "use about 1.0 for a model-like mAP of 0.8"))
    if kind not in ("model", "random"):
        raise InputError(describe("kind", _WHERE, "'model' or 'random'", repr(kind), ""))
    if ties is not None:
        _check_int("ties", ties, 2)
    lo_ids, hi_ids = math.ceil(n_query / n_cams), n_query // 2
    if n_ids is None:
        n_ids = min(max(round(n_query / MARS_CAMERAS_PER_ID), lo_ids), hi_ids)
    _check_int("n_ids", n_ids, 1)
    if not lo_ids <= n_ids <= hi_ids:
        raise InputError(describe(
            "n_ids", _WHERE, f"between {lo_ids} and {hi_ids} for {n_query} queries over {n_cams} "
            "cameras (each identity is seen by 2 to n_cams cameras, one query per camera)",
            n_ids, "change n_ids, n_query or n_cams"))
    n_junk, n_distr, n_ident = gallery_split(n_gallery, junk_frac, distractor_frac)
    if n_ident < n_query:
        raise InputError(describe(
            "n_gallery", _WHERE, f"room for the {n_query} query tracklets besides "
            f"{n_junk} junk and {n_distr} distractors", n_gallery,
            "increase n_gallery or lower junk_frac / distractor_frac"))

    rng = np.random.default_rng(seed)
    q_pids, q_cams, g_pids, g_cams, q_index = _structure(
        rng, n_query, n_ids, n_cams, n_ident, n_distr, n_junk)
    params = dict(n_query=n_query, n_gallery=n_gallery, n_ids=n_ids, n_cams=n_cams,
                  distractor_frac=distractor_frac, junk_frac=junk_frac, dim=dim,
                  difficulty=difficulty, ties=ties, seed=seed, kind=kind,
                  with_distmat=with_distmat, distance="sqeuclidean", query_in_gallery=True)

    qf = gf = dist = None
    if kind == "model":
        gf = _model_features(rng, g_pids, g_cams, n_ids, n_cams, dim, float(difficulty))
        qf = gf[q_index]
        if with_distmat:
            dist = _sqeuclidean(qf, gf)
    elif with_distmat:
        dist = rng.random((n_query, n_gallery))
    else:
        gf = rng.standard_normal((n_gallery, dim), dtype=np.float32)
        qf = gf[q_index]
    if dist is not None and ties is not None:
        dist = _quantise(dist, ties)

    return SyntheticProblem(
        query_pids=_frozen(q_pids), gallery_pids=_frozen(g_pids),
        query_camids=_frozen(q_cams), gallery_camids=_frozen(g_cams),
        distmat=None if dist is None else _frozen(dist),
        query_features=None if qf is None else _frozen(qf),
        gallery_features=None if gf is None else _frozen(gf),
        query_gallery_index=_frozen(q_index), params=params,
    )


def gallery_split(n_gallery: int, junk_frac: float = 0.07,
                  distractor_frac: float = 0.05) -> tuple[int, int, int]:
    """How :func:`make_problem` divides a gallery: ``(junk, distractors, identity tracklets)``.

    The identity tracklets hold the queries' own, so :func:`make_problem` needs at least
    ``n_query`` of them.
    """
    n_junk = round(junk_frac * n_gallery)
    n_distr = round(distractor_frac * n_gallery)
    return n_junk, n_distr, n_gallery - n_junk - n_distr


def min_gallery(n_query: int, junk_frac: float = 0.07, distractor_frac: float = 0.05) -> int:
    """The smallest gallery size from which on every size leaves room for ``n_query`` queries.

    The fractions must sum below 1. The junk and distractor counts are rounded, so an isolated
    smaller size can fit too; every size from the result on does.

    Example:
        >>> min_gallery(1980)
        2249
    """
    g = math.ceil((n_query + 1) / max(1e-9, 1.0 - junk_frac - distractor_frac)) + 1
    while g > 1 and gallery_split(g - 1, junk_frac, distractor_frac)[2] >= n_query:
        g -= 1
    return g


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(describe(name, _WHERE, f"an integer >= {minimum}", repr(value), ""))


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _structure(
    rng: np.random.Generator, n_query: int, n_ids: int, n_cams: int, n_ident: int, n_distr: int,
    n_junk: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels: one query per (pid, camera) pair, heavy-tailed tracklet counts, shuffled gallery."""
    # Cameras per identity: 2 each, the remaining pairs spread over free camera slots.
    extra_slots = rng.choice(n_ids * (n_cams - 2), size=n_query - 2 * n_ids, replace=False)
    k = 2 + np.bincount(extra_slots // (n_cams - 2), minlength=n_ids) if n_cams > 2 \
        else np.full(n_ids, 2)
    cam_order = np.argsort(rng.random((n_ids, n_cams)), axis=1)  # a random camera permutation
    take = np.arange(n_cams)[None, :] < k[:, None]
    pair_pid = np.repeat(np.arange(1, n_ids + 1), k)
    pair_cam = np.sort(np.where(take, cam_order, n_cams), axis=1)[take] + 1  # cams sorted per id

    # Tracklets per (pid, camera): 1 (the query) + a heavy-tailed share of the rest.
    weights = rng.gamma(0.5, size=n_query)
    extra = rng.multinomial(n_ident - n_query, weights / weights.sum())
    per_pair = 1 + extra
    first = np.concatenate([[0], np.cumsum(per_pair)[:-1]])  # the query is each pair's first

    ident_pids = np.repeat(pair_pid, per_pair)
    ident_cams = np.repeat(pair_cam, per_pair)
    pids = np.concatenate([ident_pids, np.zeros(n_distr, np.int64), np.full(n_junk, -1, np.int64)])
    cams = np.concatenate([ident_cams, rng.integers(1, n_cams + 1, n_distr + n_junk)])
    perm = rng.permutation(pids.shape[0])  # gallery position p holds item perm[p]
    position = np.empty_like(perm)
    position[perm] = np.arange(perm.shape[0])
    return (pair_pid.astype(np.int64), pair_cam.astype(np.int64), pids[perm].astype(np.int64),
            cams[perm].astype(np.int64), position[first].astype(np.int64))


def _model_features(
    rng: np.random.Generator, pids: np.ndarray, cams: np.ndarray, n_ids: int, n_cams: int, dim: int,
    difficulty: float,
) -> np.ndarray:
    """centre[pid] + shift[cam] + noise, with a per-tracklet noise scale; float32."""
    n = pids.shape[0]
    centres = rng.standard_normal((n_ids + 1, dim))
    shifts = 0.35 * rng.standard_normal((n_cams + 1, dim))
    base = np.where((pids > 0)[:, None], centres[np.maximum(pids, 0)], 0.0)
    other = pids <= 0  # distractors and junk: a person we never see again
    base[other] = rng.standard_normal((int(other.sum()), dim))
    scale = 0.7 * difficulty * rng.lognormal(0.0, 0.35, size=n)
    noise = rng.standard_normal((n, dim)) * scale[:, None]
    return (base + shifts[cams] + noise).astype(np.float32)


def _sqeuclidean(q: np.ndarray, g: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Squared Euclidean distances in float64, computed in chunks of queries, clipped at 0."""
    q64, g64 = q.astype(np.float64), g.astype(np.float64)
    g2 = np.einsum("ij,ij->i", g64, g64)
    out = np.empty((q64.shape[0], g64.shape[0]))
    for s in range(0, q64.shape[0], chunk):
        qc = q64[s:s + chunk]
        block = out[s:s + chunk]
        np.matmul(qc, g64.T, out=block)
        block *= -2.0
        block += np.einsum("ij,ij->i", qc, qc)[:, None]
        block += g2[None, :]
        np.maximum(block, 0.0, out=block)
    return out


def _quantise(d: np.ndarray, levels: int) -> np.ndarray:
    """Map distances onto ``levels`` evenly spaced values (monotone, so only ties are added)."""
    lo, hi = float(d.min()), float(d.max())
    if hi <= lo:
        return np.zeros_like(d)
    step = (hi - lo) / (levels - 1)
    return np.round((d - lo) / step) * step
