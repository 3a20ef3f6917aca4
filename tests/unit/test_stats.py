"""Bootstrap intervals, paired tests and mean +- std (reidbench.metrics.stats)."""

from types import SimpleNamespace

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics.stats import (
    bootstrap_ci,
    bootstrap_means,
    bootstrap_rank_metrics,
    mean_std,
    paired_test,
)


def test_interval_covers_true_mean_at_nominal_rate():
    # 300 samples of n=120 from Beta(2, 5) (true mean 2/7, skewed like per-query AP).
    rng = np.random.default_rng(123)
    true = 2 / 7
    hits = 0
    n_sim = 300
    for i in range(n_sim):
        x = rng.beta(2, 5, size=120)
        ci = bootstrap_ci(x, n_boot=400, level=0.9, seed=i)
        assert ci.low <= ci.estimate <= ci.high
        hits += ci.low <= true <= ci.high
    # nominal 0.90; binomial sd over 300 sims ~0.017, percentile bootstrap slightly undercovers.
    assert 0.84 <= hits / n_sim <= 0.96


def test_interval_width_shrinks_like_one_over_sqrt_n():
    rng = np.random.default_rng(0)
    small = bootstrap_ci(rng.random(100), n_boot=2000, seed=1)
    large = bootstrap_ci(rng.random(1600), n_boot=2000, seed=1)
    ratio = (small.high - small.low) / (large.high - large.low)
    assert 3.0 < ratio < 5.3  # sqrt(16) = 4
    # std_err of the mean of U(0,1) with n=1600: sqrt(1/12/1600) = 0.00722
    assert large.std_err == pytest.approx(np.sqrt(1 / 12 / 1600), rel=0.15)


def test_estimate_ignores_uncounted_queries_and_is_seeded():
    x = np.array([1.0, np.nan, 0.5, 0.0, np.nan, 1.0])
    ci = bootstrap_ci(x, n_boot=300, seed=7)
    assert ci.estimate == pytest.approx(2.5 / 4)
    assert ci.n == 4 and ci.n_boot == 300
    assert bootstrap_ci(x, n_boot=300, seed=7) == ci
    assert bootstrap_ci(x, n_boot=300, seed=8) != ci
    assert 0.0 <= ci.low <= ci.high <= 1.0


def test_single_query_gives_degenerate_interval():
    ci = bootstrap_ci([0.25], n_boot=50)
    assert (ci.low, ci.estimate, ci.high, ci.std_err) == (0.25, 0.25, 0.25, 0.0)


def test_joint_resampling_uses_same_indices_for_every_metric():
    rng = np.random.default_rng(3)
    x = rng.random(50)
    out = bootstrap_means({"a": x, "b": 2 * x + 1}, n_boot=500, seed=5)
    # b = 2a + 1 in every replicate, so the interval maps exactly.
    assert out["b"].low == pytest.approx(2 * out["a"].low + 1)
    assert out["b"].high == pytest.approx(2 * out["a"].high + 1)
    alone = bootstrap_ci(x, n_boot=500, seed=5)
    assert alone.low == pytest.approx(out["a"].low) and alone.high == pytest.approx(out["a"].high)


def test_cluster_bootstrap_with_singleton_groups_equals_query_bootstrap():
    x = np.random.default_rng(4).random(40)
    plain = bootstrap_ci(x, n_boot=300, seed=2)
    grouped = bootstrap_ci(x, n_boot=300, seed=2, groups=np.arange(40))
    assert grouped.low == pytest.approx(plain.low) and grouped.high == pytest.approx(plain.high)


def test_cluster_bootstrap_is_wider_for_correlated_queries():
    rng = np.random.default_rng(5)
    # 40 identities x 5 queries each, values dominated by the identity effect.
    ident = np.repeat(rng.random(40), 5)
    x = np.clip(ident + 0.01 * rng.standard_normal(200), 0, 1)
    groups = np.repeat(np.arange(40), 5)
    naive = bootstrap_ci(x, n_boot=1000, seed=0)
    clustered = bootstrap_ci(x, n_boot=1000, seed=0, groups=groups)
    assert clustered.n == 40 and naive.n == 200
    assert clustered.estimate == pytest.approx(naive.estimate)
    assert (clustered.high - clustered.low) > 1.8 * (naive.high - naive.low)  # ~sqrt(5) = 2.2


def test_bootstrap_rank_metrics_from_per_query_arrays():
    res = SimpleNamespace(
        ap=np.array([1.0, 0.5, np.nan, 0.2, 0.0]),
        inp=np.array([1.0, 0.25, np.nan, 0.1, 0.0]),
        first_rank=np.array([1, 2, 0, 7, 0]),
        counted=np.array([True, True, False, True, True]),  # last one: no positive, 'zero' policy
        query_pids=np.array([3, 3, 4, 5, 5]),
    )
    out = bootstrap_rank_metrics(res, ranks=(1, 5), n_boot=200, seed=0)
    assert list(out) == ["mAP", "rank1", "rank5", "mINP"]
    assert out["mAP"].estimate == pytest.approx(1.7 / 4)
    assert out["rank1"].estimate == pytest.approx(1 / 4)
    assert out["rank5"].estimate == pytest.approx(2 / 4)
    assert out["mINP"].estimate == pytest.approx(1.35 / 4)
    assert all(iv.n == 4 for iv in out.values())
    by_id = bootstrap_rank_metrics(res, ranks=(1,), n_boot=200, seed=0, by_identity=True)
    assert by_id["mAP"].n == 2  # pids 3 and 5 have counted queries


def test_bootstrap_by_identity_on_a_real_rank_metrics_result():
    from reidbench.metrics import rank_metrics

    rng = np.random.default_rng(0)
    qp = np.repeat(np.arange(1, 7), 3)  # 6 identities, 3 queries each
    gp = np.repeat(np.arange(1, 7), 4)
    d = rng.random((qp.size, gp.size))
    res = rank_metrics(d, qp, gp, np.zeros(qp.size, int), np.ones(gp.size, int))
    assert np.array_equal(res.query_pids, qp)
    by_query = bootstrap_rank_metrics(res, n_boot=300, seed=0)
    by_id = bootstrap_rank_metrics(res, n_boot=300, seed=0, by_identity=True)
    assert by_id["mAP"].estimate == pytest.approx(res.map)
    assert by_id["mAP"].n == 6 and by_query["mAP"].n == 18
    with pytest.raises(InputError, match="query_pids for by_identity=True"):
        bootstrap_rank_metrics(SimpleNamespace(ap=res.ap, inp=res.inp, first_rank=res.first_rank,
                                               counted=res.counted), by_identity=True)


def test_bootstrap_rank_metrics_nan_policy_gives_nan_interval():
    res = SimpleNamespace(ap=np.array([1.0, np.nan]), inp=np.array([1.0, np.nan]),
                          first_rank=np.array([1, 0]), counted=np.array([True, True]))
    out = bootstrap_rank_metrics(res, ranks=(1,), n_boot=50)
    assert np.isnan(out["mAP"].estimate) and np.isnan(out["mINP"].high)
    assert out["rank1"].estimate == 0.5


def test_paired_test_null_p_values_roughly_uniform():
    rng = np.random.default_rng(11)
    for method in ("permutation", "bootstrap"):
        ps = []
        for i in range(250):
            base = rng.random(40)
            a = base + 0.1 * rng.standard_normal(40)
            b = base + 0.1 * rng.standard_normal(40)
            ps.append(paired_test(a, b, method=method, n_resamples=199, seed=i).p_value)
        ps = np.array(ps)
        assert ps.min() > 0 and ps.max() <= 1
        assert 0.01 <= (ps < 0.05).mean() <= 0.11, method
        assert 0.38 <= (ps < 0.5).mean() <= 0.62, method


def test_paired_test_detects_clear_effect():
    rng = np.random.default_rng(12)
    b = rng.random(300)
    a = b + 0.05 + 0.05 * rng.standard_normal(300)
    for method in ("permutation", "bootstrap"):
        r = paired_test(a, b, method=method, n_resamples=2000, seed=0)
        assert r.diff == pytest.approx(float(np.mean(a - b)))
        assert r.p_value == pytest.approx(1 / 2001)  # the smallest value it can give
        assert 0.0 < r.low < r.diff < r.high
        assert r.n == 300 and r.method == method
    flipped = paired_test(b, a, n_resamples=2000, seed=0)
    assert flipped.diff == pytest.approx(-float(np.mean(a - b)))


def test_sign_flip_p_value_matches_exact_enumeration_rate():
    # d_i all equal: |mean(s*d)| >= |mean(d)| only when all 10 signs agree: probability 2/1024.
    a = np.full(10, 0.7)
    b = np.full(10, 0.2)
    r = paired_test(a, b, n_resamples=40000, seed=3)
    assert r.p_value == pytest.approx(2 / 1024, abs=0.0008)


def test_paired_test_is_seeded_and_validates():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    assert paired_test(a, b, seed=4, n_resamples=500) == paired_test(a, b, seed=4, n_resamples=500)
    with pytest.raises(InputError, match="b in paired_test"):
        paired_test(a, b[:-1])
    b2 = b.copy()
    b2[3] = np.nan
    with pytest.raises(InputError, match="counted by only one"):
        paired_test(a, b2)
    with pytest.raises(InputError, match="method"):
        paired_test(a, b, method="ttest")
    with pytest.raises(InputError, match="level"):
        paired_test(a, b, level=95)


def test_mean_std_sample_and_population():
    r = mean_std([0.80, 0.82, 0.84])
    assert r.mean == pytest.approx(0.82) and r.std == pytest.approx(0.02) and r.ddof == 1
    assert r.format() == "82.0 ± 2.0"
    p = mean_std([0.80, 0.82, 0.84], ddof=0)
    assert p.std == pytest.approx(0.02 * np.sqrt(2 / 3))
    one = mean_std([0.5])
    assert one.mean == 0.5 and np.isnan(one.std)
    grid = mean_std(np.array([[0.1, 1.0], [0.3, 3.0]]))
    np.testing.assert_allclose(grid.mean, [0.2, 2.0])
    np.testing.assert_allclose(grid.std, [np.sqrt(0.02), np.sqrt(2.0)])
    named = mean_std({"mAP": [0.5, 0.7], "rank1": [0.6, 0.6]})
    assert named.mean["mAP"] == pytest.approx(0.6) and named.std["rank1"] == 0.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bootstrap_ci([]), "at least one counted"),
        (lambda: bootstrap_ci([np.nan, np.nan]), "at least one counted"),
        (lambda: bootstrap_ci([0.1, np.inf]), "inf"),
        (lambda: bootstrap_ci(np.ones((2, 2))), "1-D"),
        (lambda: bootstrap_ci([0.1], n_boot=0), "n_boot"),
        (lambda: bootstrap_ci([0.1, 0.2], groups=[1]), "groups"),
        (lambda: bootstrap_means({"a": [0.1, 0.2], "b": [0.1]}), "length 2"),
        (lambda: bootstrap_means({"a": [0.1, np.nan], "b": [0.1, 0.2]}), "NaN at the same"),
        (lambda: bootstrap_rank_metrics(object()), "RankMetrics"),
        (lambda: mean_std([]), "non-empty"),
        (lambda: mean_std([0.1, np.nan]), "finite"),
        (lambda: mean_std([0.1], ddof=-1), "ddof"),
        (lambda: mean_std({"a": [0.1], "b": [0.1, 0.2]}), "same number of splits"),
    ],
)
def test_bad_input_raises_input_error(call, match):
    with pytest.raises(InputError, match=match):
        call()
