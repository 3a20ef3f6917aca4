"""k-reciprocal re-ranking against a slow, literal implementation of the paper's equations."""

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics.rerank import (
    half_neighbourhood_size,
    k_reciprocal_neighbors,
    k_reciprocal_rerank,
    k_reciprocal_rerank_features,
)
from reidbench.metrics.synthetic import make_problem


def _euclid(a, b):
    return np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0))


def slow_rerank(qg, qq, gg, k1, k2, lam, half):
    """Sets, loops and the min/max Jaccard, straight from the definitions."""
    q = qg.shape[0]
    d = np.block([[qq, qg], [qg.T, gg]]).astype(np.float64) ** 2
    d = d / d.max(axis=1, keepdims=True)
    n = d.shape[0]
    order = [list(np.argsort(d[i], kind="stable")) for i in range(n)]

    def nn(i, size):
        return set(order[i][:size])

    def recip(i, size):
        return {j for j in nn(i, size) if i in nn(j, size)}

    v = np.zeros((n, n))
    for i in range(n):
        r = recip(i, k1 + 1)
        star = set(r)
        for c in r:
            rc = recip(c, half)
            if len(rc & r) > 2 / 3 * len(rc):
                star |= rc
        for j in star:
            v[i, j] = np.exp(-d[i, j])
        v[i] /= v[i].sum()
    if k2 > 1:
        v = np.array([v[order[i][:k2]].mean(axis=0) for i in range(n)])
    jac = np.empty((q, n))
    for i in range(q):
        for j in range(n):
            jac[i, j] = 1 - np.minimum(v[i], v[j]).sum() / np.maximum(v[i], v[j]).sum()
    return ((1 - lam) * jac + lam * d[:q])[:, q:]


def _blocks(seed, q=7, g=25, dim=4):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((6, dim)) * 2
    qf = centres[rng.integers(0, 6, q)] + rng.standard_normal((q, dim))
    gf = centres[rng.integers(0, 6, g)] + rng.standard_normal((g, dim))
    return qf, gf, _euclid(qf, gf), _euclid(qf, qf), _euclid(gf, gf)


@pytest.mark.parametrize(
    "seed, k1, k2, lam, half",
    [(0, 20, 6, 0.3, "python"), (1, 4, 2, 0.3, "python"), (2, 5, 1, 0.5, "python"),
     (3, 7, 3, 0.0, "matlab"), (4, 7, 3, 0.2, "python"), (5, 3, 4, 0.9, "matlab")],
)
def test_matches_slow_reference(seed, k1, k2, lam, half):
    _, _, qg, qq, gg = _blocks(seed)
    want = slow_rerank(qg, qq, gg, k1, k2, lam, half_neighbourhood_size(k1, half))
    got = k_reciprocal_rerank(qg, qq, gg, k1=k1, k2=k2, lambda_value=lam, half_rounding=half,
                              dtype=np.float64)
    assert got.shape == qg.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    got32 = k_reciprocal_rerank(qg, qq, gg, k1=k1, k2=k2, lambda_value=lam, half_rounding=half)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=0, atol=2e-5)


def test_lambda_one_returns_normalised_squared_distance():
    _, _, qg, qq, gg = _blocks(7)
    joint = np.block([[qq, qg], [qg.T, gg]]) ** 2
    want = (joint / joint.max(axis=1, keepdims=True))[: qg.shape[0], qg.shape[0]:]
    got = k_reciprocal_rerank(qg, qq, gg, lambda_value=1.0, dtype=np.float64)
    np.testing.assert_allclose(got, want, atol=1e-15)


def test_features_equal_blocks_of_euclidean_distances():
    qf, gf, qg, qq, gg = _blocks(8)
    a = k_reciprocal_rerank_features(qf, gf, k1=6, k2=3, dtype=np.float64)
    b = k_reciprocal_rerank(qg, qq, gg, k1=6, k2=3, dtype=np.float64)
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_k_reciprocal_sets_on_hand_built_line():
    x = np.array([0.0, 1.0, 2.5, 10.0, 11.2, 30.0])
    d = np.abs(x[:, None] - x[None, :])
    one = k_reciprocal_neighbors(d, 1)  # N(i,1) = {i, its nearest}
    assert [r.tolist() for r in one] == [[0, 1], [0, 1], [2], [3, 4], [3, 4], [5]]
    two = k_reciprocal_neighbors(d, 2)  # N(i,2) = {i and its 2 nearest}
    assert [r.tolist() for r in two] == [[0, 1, 2], [0, 1, 2], [0, 1, 2], [3, 4], [3, 4], [5]]


def test_half_neighbourhood_rounding_rules():
    assert half_neighbourhood_size(20, "python") == half_neighbourhood_size(20, "matlab") == 11
    assert half_neighbourhood_size(19, "python") == 11
    assert half_neighbourhood_size(19, "matlab") == 10
    for k1 in range(1, 41):
        differ = half_neighbourhood_size(k1, "python") != half_neighbourhood_size(k1, "matlab")
        assert differ == (k1 % 4 == 3), k1


def test_rows_are_permutation_equivariant_and_result_is_transductive():
    _, _, qg, qq, gg = _blocks(9, q=8, g=30)
    full = k_reciprocal_rerank(qg, qq, gg, k1=5, k2=2, dtype=np.float64)
    perm = np.random.default_rng(0).permutation(30)
    permuted = k_reciprocal_rerank(qg[:, perm], qq, gg[np.ix_(perm, perm)], k1=5, k2=2,
                                   dtype=np.float64)
    np.testing.assert_allclose(permuted, full[:, perm], atol=1e-12)
    # Dropping the other queries changes query 0's re-ranked distances: transductive.
    alone = k_reciprocal_rerank(qg[:1], qq[:1, :1], gg, k1=5, k2=2, dtype=np.float64)
    assert not np.allclose(alone[0], full[0])


def _map(dist, qp, gp, qc, gc):
    aps = []
    for i in range(dist.shape[0]):
        keep = ~((gp == qp[i]) & (gc == qc[i])) & (gp != -1)
        order = np.argsort(dist[i][keep], kind="stable")
        hit = (gp[keep] == qp[i])[order]
        if hit.any():
            r = np.flatnonzero(hit) + 1
            aps.append(np.mean(np.arange(1, r.size + 1) / r))
    return float(np.mean(aps))


def test_improves_map_on_a_model_like_problem():
    p = make_problem(n_query=60, n_gallery=400, difficulty=1.3, dim=16, seed=3)
    qf, gf = p.query_features.astype(np.float64), p.gallery_features.astype(np.float64)
    base = _euclid(qf, gf)
    rr = k_reciprocal_rerank_features(qf, gf)
    labels = (p.query_pids, p.gallery_pids, p.query_camids, p.gallery_camids)
    before, after = _map(base, *labels), _map(rr, *labels)
    assert 0.3 < before < 0.95
    assert after > before + 0.01


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"q_q_dist": "asym"}, "symmetric"),
        ({"g_g_dist": np.zeros((3, 3))}, r"shape \(25, 25\)"),
        ({"q_g_dist": "nan"}, "finite"),
        ({"q_g_dist": "neg"}, ">= 0"),
        ({"k1": 0}, "k1"),
        ({"lambda_value": 1.5}, "lambda_value"),
        ({"half_rounding": "round"}, "half_rounding"),
        ({"dtype": np.float16}, "float32 or float64"),
        ({"max_items": 20}, "max_items=20"),
    ],
)
def test_bad_input(kwargs, match):
    _, _, qg, qq, gg = _blocks(10)
    args = {"q_g_dist": qg, "q_q_dist": qq, "g_g_dist": gg}
    if kwargs.get("q_q_dist") == "asym":
        qq = qq.copy()
        qq[0, 1] += 1.0
        kwargs["q_q_dist"] = qq
    if isinstance(kwargs.get("q_g_dist"), str):
        bad = qg.copy()
        bad[2, 3] = np.nan if kwargs["q_g_dist"] == "nan" else -1.0
        kwargs["q_g_dist"] = bad
    args.update({k: v for k, v in kwargs.items() if k in args})
    opts = {k: v for k, v in kwargs.items() if k not in args}
    with pytest.raises(InputError, match=match):
        k_reciprocal_rerank(args["q_g_dist"], args["q_q_dist"], args["g_g_dist"], **opts)


def test_feature_dimension_mismatch():
    with pytest.raises(InputError, match="gallery_features"):
        k_reciprocal_rerank_features(np.zeros((2, 3)), np.zeros((4, 5)))
