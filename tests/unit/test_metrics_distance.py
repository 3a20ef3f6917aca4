"""compute_distance (numpy, torch), streamed evaluation from features, single-gallery-shot CMC."""

from __future__ import annotations

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics import (
    compute_distance,
    rank_metrics,
    rank_metrics_from_features,
    single_gallery_shot_cmc,
)

Q = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
G = np.array([[0.0, 0.0], [1.0, 1.0]])


def test_numpy_distances_by_hand():
    sq = compute_distance(Q, G, "sqeuclidean")
    np.testing.assert_allclose(sq, [[1, 1], [4, 2], [25, 13]], atol=1e-12)
    np.testing.assert_allclose(compute_distance(Q, G), np.sqrt([[1, 1], [4, 2], [25, 13]]),
                               atol=1e-12)
    cos = compute_distance(Q, G, "cosine")
    # zero gallery vector: distance 1 to everything
    np.testing.assert_allclose(cos[:, 0], 1.0)
    np.testing.assert_allclose(cos[:, 1], 1 - np.array([1, 2, 7]) / (np.linalg.norm(Q, axis=1)
                                                                      * np.sqrt(2)), atol=1e-12)
    assert sq.dtype == np.float64


def test_float32_features_give_float64_and_never_negative():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 16)).astype(np.float32)
    d = compute_distance(x, x, "sqeuclidean")
    assert d.dtype == np.float64 and (d >= 0).all()
    np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-9)


def test_cosine_self_distance_never_negative_so_reranking_accepts_it():
    import torch  # a dependency: a missing torch fails here, not skips

    from reidbench.metrics.rerank import k_reciprocal_rerank

    x = np.random.default_rng(3).normal(size=(40, 7))
    for feats in (x, torch.from_numpy(x)):
        d = compute_distance(feats, feats, "cosine")
        d = d.numpy() if isinstance(d, torch.Tensor) else d
        assert d.min() >= 0.0 and d.max() <= 2.0
    d = compute_distance(x, x, "cosine")
    out = k_reciprocal_rerank(d[:10, 10:], d[:10, :10], d[10:, 10:], k1=5, k2=3)
    assert out.shape == (10, 30) and np.isfinite(out).all()


def test_torch_in_torch_out():
    import torch  # a dependency: a missing torch fails here, not skips
    for metric in ("euclidean", "sqeuclidean", "cosine"):
        got = compute_distance(torch.from_numpy(Q), torch.from_numpy(G), metric)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), compute_distance(Q, G, metric), atol=1e-12)


@pytest.mark.parametrize("q,g,needle", [
    (Q[0], G, "query_feats"),
    (Q, G[:, :1], "gallery_feats"),
    (np.array([[np.nan, 1.0]]), G, "query_feats"),
    (Q, np.zeros((0, 2)), "gallery_feats"),
])
def test_bad_features_raise(q, g, needle):
    with pytest.raises(InputError, match=needle):
        compute_distance(q, g)


def test_unknown_metric_suggests():
    with pytest.raises(InputError, match="Did you mean 'cosine'"):
        compute_distance(Q, G, "cosin")


def test_streamed_from_features_equals_distmat_and_forwards_options():
    rng = np.random.default_rng(1)
    qf, gf = rng.normal(size=(9, 4)), rng.normal(size=(30, 4))
    qp, gp = rng.integers(0, 4, 9), rng.integers(-1, 4, 30)
    qc, gc = rng.integers(1, 3, 9), rng.integers(1, 3, 30)
    full = rank_metrics(compute_distance(qf, gf, "cosine"), qp, gp, qc, gc, preset="tkp")
    got = rank_metrics_from_features(qf, gf, qp, gp, qc, gc, distance="cosine", preset="tkp",
                                     chunk_size=2)
    np.testing.assert_array_equal(got.ap, full.ap)
    np.testing.assert_array_equal(got.cmc, full.cmc)
    assert got.options["preset"] == "tkp"
    with pytest.raises(InputError, match="argument 'bogus'"):
        rank_metrics_from_features(qf, gf, qp, gp, qc, gc, bogus=1)


def test_streamed_from_torch_features():
    import torch  # a dependency: a missing torch fails here, not skips
    rng = np.random.default_rng(2)
    qf, gf = rng.normal(size=(6, 3)), rng.normal(size=(12, 3))
    qp, gp = rng.integers(0, 3, 6), rng.integers(0, 3, 12)
    qc, gc = np.ones(6, int), np.full(12, 2)
    a = rank_metrics_from_features(torch.from_numpy(qf), torch.from_numpy(gf), qp, gp, qc, gc)
    b = rank_metrics_from_features(qf, gf, qp, gp, qc, gc)
    np.testing.assert_allclose(a.ap, b.ap, atol=1e-12)


def test_tensors_on_different_devices_raise_input_error():
    import torch  # a dependency: a missing torch fails here, not skips
    cpu = torch.from_numpy(G)
    meta = torch.empty(3, 2, dtype=torch.float64, device="meta")
    with pytest.raises(InputError, match="query_feats in compute_distance.*'meta' device"):
        compute_distance(meta, meta)
    with pytest.raises(InputError, match="gallery_feats in compute_distance.*'meta' device"):
        compute_distance(torch.from_numpy(Q), meta)
    # a device mismatch between two real devices is named before any computation
    from reidbench.metrics.distance import _check_devices

    class Elsewhere:  # a tensor stand-in on another device (the CUDA case without a GPU)
        device = torch.device("cuda", 0)

    with pytest.raises(InputError, match="gallery_feats in f: expected a tensor on the device "
                                         "of query_feats \\(cpu\\), got device cuda:0"):
        _check_devices(cpu, Elsewhere(), "f")


def _cuda():
    import torch  # a dependency: a missing torch fails here, not skips
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch


def test_cuda_features_match_numpy():
    torch = _cuda()
    from reidbench.metrics.synthetic import make_problem

    p = make_problem(60, 400, seed=4, with_distmat=False)
    qf, gf = p.query_features, p.gallery_features
    args = (p.query_pids, p.gallery_pids, p.query_camids, p.gallery_camids)
    q_gpu, g_gpu = torch.tensor(qf).cuda(), torch.tensor(gf).cuda()
    for metric in ("euclidean", "sqeuclidean", "cosine"):
        got = compute_distance(q_gpu, g_gpu, metric)
        assert got.device.type == "cuda" and got.dtype == torch.float64
        np.testing.assert_allclose(got.cpu().numpy(), compute_distance(qf, gf, metric),
                                   rtol=0, atol=1e-9)
        a = rank_metrics_from_features(q_gpu, g_gpu, *args, distance=metric, chunk_size=7)
        b = rank_metrics_from_features(qf, gf, *args, distance=metric)
        np.testing.assert_allclose(a.ap, b.ap, atol=1e-12)
        np.testing.assert_array_equal(a.cmc, b.cmc)
        np.testing.assert_array_equal(a.first_rank, b.first_rank)
    with pytest.raises(InputError, match="gallery_feats in rank_metrics_from_features.*cuda"):
        rank_metrics_from_features(q_gpu, torch.tensor(gf), *args)
    with pytest.raises(InputError, match="gallery_feats in compute_distance.*device cpu"):
        compute_distance(q_gpu, torch.tensor(gf))


def test_single_gallery_shot_equals_first_match_with_one_item_per_identity():
    rng = np.random.default_rng(3)
    gp = np.arange(1, 21)
    gc = np.full(20, 2)
    qp = rng.integers(1, 21, 15)
    qc = np.ones(15, int)
    d = rng.random((15, 20))
    want = rank_metrics(d, qp, gp, qc, gc, max_rank=10).cmc
    got = single_gallery_shot_cmc(d, qp, gp, qc, gc, repeats=3, seed=5, max_rank=10)
    np.testing.assert_allclose(got, want, atol=1e-15)


def test_single_gallery_shot_is_seeded_and_bounded():
    rng = np.random.default_rng(4)
    gp = rng.integers(1, 6, 40)
    gc = rng.integers(1, 3, 40)
    qp, qc = rng.integers(1, 6, 8), rng.integers(1, 3, 8)
    d = rng.random((8, 40))
    a = single_gallery_shot_cmc(d, qp, gp, qc, gc, seed=1)
    b = single_gallery_shot_cmc(d, qp, gp, qc, gc, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (50,) and np.all(np.diff(a) >= 0) and a[-1] == 1.0
    # positives always nearest -> rank 1 in every draw
    pos = (qp[:, None] == gp[None, :]) & (qc[:, None] != gc[None, :])
    near = np.where(pos, d - 2, d)
    c = single_gallery_shot_cmc(near, qp, gp, qc, gc, repeats=4)
    assert pos.any(1).any() and np.all(c == 1.0)
