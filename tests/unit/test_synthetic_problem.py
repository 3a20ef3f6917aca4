"""The MARS-like synthetic retrieval problem (reidbench.metrics.synthetic)."""

import dataclasses

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics.synthetic import gallery_split, make_problem, min_gallery


def _noninterp_map(d, qp, gp, qc, gc):
    """Vectorised first-principles mAP (stable order; skip queries without positives)."""
    order = np.argsort(d, axis=1, kind="stable")
    gpo, gco = gp[order], gc[order]
    junk = ((gpo == qp[:, None]) & (gco == qc[:, None])) | (gpo == -1)
    pos = (gpo == qp[:, None]) & ~junk
    rank = np.cumsum(~junk, axis=1)  # junk-free rank of each position
    hits = np.cumsum(pos, axis=1)
    n_pos = pos.sum(axis=1)
    ap = np.where(pos, hits / np.maximum(rank, 1), 0.0).sum(axis=1)[n_pos > 0] / n_pos[n_pos > 0]
    return float(ap.mean()), float((pos & (rank == 1)).any(axis=1)[n_pos > 0].mean())


@pytest.fixture(scope="module")
def mars():
    return make_problem(with_distmat=False)


def test_mars_sized_structure(mars):
    p = mars
    assert (p.n_query, p.n_gallery) == (1980, 11310)
    assert p.params["n_ids"] == 625 and p.distmat is None
    pairs = set(zip(p.query_pids.tolist(), p.query_camids.tolist(), strict=True))
    assert len(pairs) == 1980  # one query per (pid, camera)
    assert p.query_pids.min() >= 1 and len(np.unique(p.query_pids)) == 625
    cams_per_id = np.bincount(p.query_pids)[1:]
    assert cams_per_id.min() >= 2 and cams_per_id.max() <= 6
    assert (p.gallery_pids == -1).sum() == round(0.07 * 11310)
    assert (p.gallery_pids == 0).sum() == round(0.05 * 11310)
    assert set(np.unique(p.gallery_camids)) == set(range(1, 7))
    # each query's own tracklet is in the gallery (official MARS gallery)
    gi = p.query_gallery_index
    assert len(np.unique(gi)) == 1980
    np.testing.assert_array_equal(p.gallery_pids[gi], p.query_pids)
    np.testing.assert_array_equal(p.gallery_camids[gi], p.query_camids)
    np.testing.assert_array_equal(p.gallery_features[gi], p.query_features)
    # every query has a cross-camera positive; positives per query vary widely
    same = p.query_pids[:, None] == p.gallery_pids[None, :]
    cross = same & (p.query_camids[:, None] != p.gallery_camids[None, :])
    n_pos = cross.sum(axis=1)
    assert n_pos.min() >= 1 and 4 <= np.median(n_pos) <= 16 and n_pos.max() >= 40


def test_without_queries_is_the_9330_gallery(mars):
    w = mars.without_queries()
    assert w.n_gallery == 11310 - 1980 and w.params["query_in_gallery"] is False
    assert (w.query_gallery_index == -1).all()
    same = w.query_pids[:, None] == w.gallery_pids[None, :]
    n_pos = (same & (w.query_camids[:, None] != w.gallery_camids[None, :])).sum(axis=1)
    assert 20 <= (n_pos == 0).sum() <= 400  # MARS: 140 queries lose every positive


def test_model_like_map_is_realistic():
    p = make_problem(n_query=990, n_gallery=5655, seed=2)  # half MARS, same ratios
    d, qp, gp, qc, gc = p.metric_args()
    assert d.shape == (990, 5655) and d.dtype == np.float64
    m, r1 = _noninterp_map(d, qp, gp, qc, gc)
    assert 0.7 <= m <= 0.93 and 0.85 <= r1 <= 1.0
    easy, _ = _noninterp_map(*make_problem(200, 1200, difficulty=0.3).metric_args())
    hard, _ = _noninterp_map(*make_problem(200, 1200, difficulty=2.0).metric_args())
    assert easy > 0.97 and hard < 0.5


def test_distances_are_squared_euclidean_of_features():
    p = make_problem(n_query=40, n_gallery=300, dim=8, seed=5)
    q, g = p.query_features.astype(np.float64), p.gallery_features.astype(np.float64)
    want = ((q[:, None, :] - g[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(p.distmat, want, rtol=1e-9, atol=1e-9)
    assert p.query_features.dtype == np.float32


def test_random_kind_and_ties():
    r = make_problem(n_query=60, n_gallery=500, kind="random", seed=1)
    assert r.query_features is None and 0 <= r.distmat.min() and r.distmat.max() < 1
    m, _ = _noninterp_map(*r.metric_args())
    assert m < 0.3
    base = make_problem(n_query=60, n_gallery=500, seed=1)
    tied = make_problem(n_query=60, n_gallery=500, seed=1, ties=12)
    assert len(np.unique(tied.distmat)) <= 12
    # quantisation keeps the order: strictly smaller before never becomes larger after
    a, b = base.distmat.ravel()[:5000], tied.distmat.ravel()[:5000]
    o = np.argsort(a)
    assert (np.diff(b[o]) >= 0).all()
    np.testing.assert_array_equal(base.gallery_pids, tied.gallery_pids)


def test_seeded_and_frozen():
    a = make_problem(n_query=50, n_gallery=300, seed=4)
    b = make_problem(n_query=50, n_gallery=300, seed=4)
    c = make_problem(n_query=50, n_gallery=300, seed=5)
    np.testing.assert_array_equal(a.distmat, b.distmat)
    np.testing.assert_array_equal(a.gallery_pids, b.gallery_pids)
    assert not np.array_equal(a.gallery_pids, c.gallery_pids)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.distmat = None
    with pytest.raises(ValueError):
        a.distmat[0, 0] = 1.0


def test_metric_args_without_distmat_raises():
    with pytest.raises(InputError, match="with_distmat"):
        make_problem(n_query=20, n_gallery=100, with_distmat=False).metric_args()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_query": 1}, "n_query"),
        ({"n_query": 20, "n_gallery": 100, "n_ids": 15}, "between 4 and 10"),
        ({"n_query": 20, "n_gallery": 20}, "room for the 20 query"),
        ({"junk_frac": 1.2}, "junk_frac"),
        ({"difficulty": -1}, "difficulty"),
        ({"kind": "uniform"}, "kind"),
        ({"ties": 1}, "ties"),
        ({"n_cams": 1}, "n_cams"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_problem(**kwargs)


@pytest.mark.parametrize("n_query", [2, 3, 40, 333])
def test_min_gallery_is_where_make_problem_starts_to_fit(n_query):
    least = min_gallery(n_query)
    for g in range(least, least + 200):
        assert gallery_split(g)[2] >= n_query
    make_problem(n_query, least, seed=0)
    with pytest.raises(InputError, match="n_gallery"):
        make_problem(n_query, least - 1, seed=0)
