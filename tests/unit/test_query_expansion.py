"""Average / alpha-weighted query expansion (reidbench.metrics.query_expansion)."""

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics.query_expansion import query_expansion
from reidbench.metrics.synthetic import make_problem


def _unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


Q = [[2.0, 0.0]]  # any scale: normalised to (1, 0)
G = [[0.8, 0.6], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]]  # cosine to q: 0.8, 0.6, 0, -1


def test_aqe_hand_computed():
    q, g = query_expansion(Q, G, k=1)
    np.testing.assert_allclose(q, [_unit([1.8, 0.6])])
    np.testing.assert_allclose(g, _unit(G))
    q2, _ = query_expansion(Q, G, k=2)
    np.testing.assert_allclose(q2, [_unit([1 + 0.8 + 0.6, 0.6 + 0.8])])


def test_alpha_qe_hand_computed():
    q, _ = query_expansion(Q, G, method="alpha_qe", k=2, alpha=3.0)
    want = np.array([1.0, 0.0]) + 0.8**3 * np.array([0.8, 0.6]) + 0.6**3 * np.array([0.6, 0.8])
    np.testing.assert_allclose(q, [_unit(want)])
    # negative similarities get weight 0 (max(s, 0)^alpha): the 4th neighbour adds nothing
    q4, _ = query_expansion(Q, G, method="alpha_qe", k=4, alpha=3.0)
    np.testing.assert_allclose(q4, [_unit(want)])


def test_alpha_zero_equals_aqe_and_mean_without_normalize():
    a, _ = query_expansion(Q, G, method="alpha_qe", k=3, alpha=0.0)
    b, _ = query_expansion(Q, G, method="aqe", k=3)
    np.testing.assert_allclose(a, b)
    m, _ = query_expansion(Q, G, k=2, normalize=False)
    np.testing.assert_allclose(m, [(np.array([1.0, 0.0]) + _unit(G[:2]).sum(0)) / 3])


def test_k_zero_returns_normalised_inputs():
    q, g = query_expansion(Q, G, k=0)
    np.testing.assert_allclose(q, [[1.0, 0.0]])
    np.testing.assert_allclose(g, _unit(G))


def test_gallery_expansion_excludes_self():
    g_in = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]
    _, g = query_expansion(Q, g_in, k=1, expand_gallery=True)
    np.testing.assert_allclose(g[0], _unit([1.8, 0.6]))  # nearest other item of g0 is g1
    np.testing.assert_allclose(g[1], _unit([1.8, 0.6]))  # and of g1 is g0 (0.8 > 0.6)
    np.testing.assert_allclose(g[2], _unit([0.8, 1.6]))


def test_ties_take_lower_index_and_permutation_equivariance():
    q, _ = query_expansion([[1.0, 0.0]], [[0.0, 1.0], [0.0, -1.0], [0.0, 1.0]], k=1)
    np.testing.assert_allclose(q, [_unit([1.0, 1.0])])  # the three tie at 0; index 0 wins
    rng = np.random.default_rng(0)
    qf, gf = rng.standard_normal((5, 8)), rng.standard_normal((30, 8))
    perm = rng.permutation(30)
    a_q, a_g = query_expansion(qf, gf, method="alpha_qe", k=4, expand_gallery=True)
    b_q, b_g = query_expansion(qf, gf[perm], method="alpha_qe", k=4, expand_gallery=True)
    np.testing.assert_allclose(a_q, b_q, atol=1e-12)
    np.testing.assert_allclose(a_g[perm], b_g, atol=1e-12)


def test_dtype_follows_inputs():
    q, g = query_expansion(np.ones((2, 3), np.float32), np.eye(3, dtype=np.float32), k=1)
    assert q.dtype == g.dtype == np.float32
    q, _ = query_expansion(np.ones((2, 3)), np.eye(3, dtype=np.float32), k=1)
    assert q.dtype == np.float64


def _map_cos(qf, gf, p):
    d = 1 - qf @ gf.T
    aps = []
    for i in range(d.shape[0]):
        keep = ~((p.gallery_pids == p.query_pids[i]) & (p.gallery_camids == p.query_camids[i]))
        keep &= p.gallery_pids != -1
        hit = (p.gallery_pids[keep] == p.query_pids[i])[np.argsort(d[i][keep], kind="stable")]
        r = np.flatnonzero(hit) + 1
        aps.append(np.mean(np.arange(1, r.size + 1) / r))
    return float(np.mean(aps))


def test_expansion_helps_on_model_like_problem():
    p = make_problem(n_query=80, n_gallery=600, difficulty=1.3, dim=32, seed=1)
    q0, g0 = query_expansion(p.query_features, p.gallery_features, k=0)
    q1, g1 = query_expansion(p.query_features, p.gallery_features, method="alpha_qe", k=3,
                             expand_gallery=True)
    before, after = _map_cos(q0, g0, p), _map_cos(q1, g1, p)
    assert 0.3 < before < 0.95 and after > before


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((Q, G), {"method": "dba"}, "method"),
        ((Q, G), {"k": -1}, "k in"),
        ((Q, G), {"k": 5}, "at most 4"),
        ((Q, G), {"k": 4, "expand_gallery": True}, "at most 3"),
        ((Q, G), {"alpha": -1.0}, "alpha"),
        (([[1.0, 0.0, 0.0]], G), {}, "dimension 3"),
        (([[np.nan, 0.0]], G), {}, "row 0"),
        ((Q, [[1.0, 0.0], [0.0, 0.0]]), {"k": 1}, "all zeros in row 1"),
        (([1.0, 0.0], G), {}, r"\(N, D\)"),
    ],
)
def test_bad_input(args, kwargs, match):
    with pytest.raises(InputError, match=match):
        query_expansion(*args, **kwargs)
