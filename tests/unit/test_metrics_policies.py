"""No-positive policies, junk rules, presets, option validation and invariances of rank_metrics."""

from __future__ import annotations

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics import AP_VARIANTS, PRESETS, RankMetrics, rank_metrics

# three queries: q0 has one positive at rank 1 of 3 items; q1's only same-pid item is same-camera
# junk; q2's pid is absent from the gallery
D = np.array([[0.1, 0.5, 0.9, 0.3], [0.2, 0.1, 0.4, 0.3], [0.6, 0.2, 0.3, 0.1]])
GP = np.array([1, 2, 3, 0])
GC = np.array([2, 1, 1, 1])
QP = np.array([1, 2, 9])
QC = np.array([1, 1, 1])


def test_skip_counts_only_queries_with_a_positive():
    r = rank_metrics(D, QP, GP, QC, GC, no_positive="skip")
    assert list(r.valid) == [True, False, False]
    assert list(r.counted) == [True, False, False]
    assert r.n_skipped == 2 and r.n_queries == 3
    assert r.map == 1.0 and r.rank1 == 1.0
    assert np.isnan(r.ap[1]) and np.isnan(r.ap[2])
    assert list(r.first_rank) == [1, 0, 0]


def test_zero_keeps_every_query_with_ap_zero():
    r = rank_metrics(D, QP, GP, QC, GC, no_positive="zero")
    assert r.n_skipped == 0
    assert list(r.ap) == [1.0, 0.0, 0.0]
    assert r.map == pytest.approx(1 / 3)
    assert r.rank1 == pytest.approx(1 / 3)
    assert r.minp == pytest.approx(1 / 3)


def test_nan_makes_the_mean_nan_but_cmc_divides_by_all():
    r = rank_metrics(D, QP, GP, QC, GC, no_positive="nan")
    assert np.isnan(r.map) and np.isnan(r.ap[1])
    assert r.rank1 == pytest.approx(1 / 3)


def test_skip_raw_counts_a_query_whose_same_pid_items_are_all_junk():
    r = rank_metrics(D, QP, GP, QC, GC, no_positive="skip_raw")
    assert list(r.counted) == [True, True, False]
    assert r.map == pytest.approx(1 / 2)
    assert r.ap[1] == 0.0 and np.isnan(r.ap[2])
    assert r.rank1 == pytest.approx(1 / 2)


def test_error_policy_names_the_query():
    with pytest.raises(InputError, match="query 1"):
        rank_metrics(D, QP, GP, QC, GC, no_positive="error")


def test_junk_pids_and_same_camera_items_leave_the_ranking():
    # gallery: -1 (junk everywhere), same pid same camera (junk), distractor 0 (negative)
    d = np.array([[0.1, 0.2, 0.3, 0.4]])
    gp = np.array([-1, 4, 0, 4])
    gc = np.array([2, 1, 2, 2])
    r = rank_metrics(d, [4], gp, [1], gc)
    assert r.first_rank[0] == 2  # distractor first, then the positive
    assert r.ap[0] == pytest.approx(1 / 2)
    r2 = rank_metrics(d, [4], gp, [1], gc, junk_pids=())
    assert r2.first_rank[0] == 3
    r3 = rank_metrics(d, [4], gp, [1], gc, junk_pids=(-1, 0))
    assert r3.first_rank[0] == 1


def test_cmc_has_max_rank_entries_and_pads_short_lists():
    r = rank_metrics(D, QP, GP, QC, GC, max_rank=10)
    assert r.cmc.shape == (10,) and r.cmc.dtype == np.float64
    assert np.all(r.cmc == 1.0)
    assert np.isnan(r.rank20)


def test_every_ap_variant_is_registered_with_formula_and_version():
    assert AP_VARIANTS.names() == ["noninterp", "sklearn_legacy", "sklearn_step", "trapezoid"]
    for name, v in AP_VARIANTS.items():
        assert v.name == name and v.version and v.formula and v.used_by


def test_ap_all_gives_every_variant_and_the_default_headline():
    r = rank_metrics(D, QP, GP, QC, GC, ap="all")
    assert set(r.ap_by_variant) == set(AP_VARIANTS.names())
    assert r.options["ap"] == "noninterp"


def test_headline_ap_follows_the_option():
    d = np.array([[0.2, 0.1, 0.3]])
    gp, gc = np.array([1, 2, 1]), np.array([2, 2, 2])
    r = rank_metrics(d, [1], gp, [1], gc, ap="trapezoid")
    assert r.map == pytest.approx((1 / 2 + 0) / 2 / 2 + (2 / 3 + 1 / 2) / 2 / 2)
    assert np.array_equal(r.ap, r.ap_by_variant["trapezoid"])


@pytest.mark.parametrize("name", PRESETS.names())
def test_presets_resolve_and_record_their_name(name):
    preset = PRESETS.get(name)
    assert preset.description and preset.codebase
    r = rank_metrics(D, QP, GP, QC, GC, preset=name)
    assert r.options["preset"] == name
    for key, value in preset.options().items():
        want = list(value) if key == "junk_pids" else value
        assert r.options[key] == want


def test_mars_official_preset_is_trapezoid_nan_stable():
    r = rank_metrics(D, QP, GP, QC, GC, preset="mars_official")
    assert r.options["ap"] == "trapezoid" and r.options["no_positive"] == "nan"
    assert np.isnan(r.map)
    assert rank_metrics(D, QP, GP, QC, GC, preset="market_official").map == pytest.approx(1 / 3)


def test_option_contradicting_a_preset_is_refused():
    with pytest.raises(InputError, match="ap"):
        rank_metrics(D, QP, GP, QC, GC, preset="mars_official", ap="noninterp")
    with pytest.raises(InputError, match="no_positive"):
        rank_metrics(D, QP, GP, QC, GC, preset="torchreid", no_positive="zero")
    # agreeing options are fine
    rank_metrics(D, QP, GP, QC, GC, preset="torchreid", ap="noninterp", junk_pids=[-1])


@pytest.mark.parametrize("kwargs,needle", [
    ({"ap": "noninterpp"}, "Did you mean 'noninterp'"),
    ({"preset": "torchreed"}, "Did you mean 'torchreid'"),
    ({"ties": "random"}, "ties"),
    ({"no_positive": "drop"}, "no_positive"),
    ({"same_camera": "keep"}, "same_camera"),
    ({"cmc": "cuhk03"}, "cmc"),
    ({"max_rank": 0}, "max_rank"),
    ({"chunk_size": -1}, "chunk_size"),
    ({"junk_pids": ["a"]}, "junk_pids"),
])
def test_bad_options_raise_input_error_naming_them(kwargs, needle):
    with pytest.raises(InputError, match=needle):
        rank_metrics(D, QP, GP, QC, GC, **kwargs)


@pytest.mark.parametrize("args,needle", [
    ((D[0], QP, GP, QC, GC), "distmat.*2-D"),
    ((D[:, :0], QP, GP[:0], QC, GC[:0]), "non-empty gallery"),
    ((D, QP[:2], GP, QC, GC), "query_pids"),
    ((D, QP, GP[:3], QC, GC), "gallery_pids"),
    ((D, QP, GP, QC[:1], GC), "query_camids"),
    ((D, QP, GP, QC, GC[:1]), "gallery_camids"),
    ((np.array([["a", "b"]]), [1], [1, 2], [1], [1, 2]), "distmat"),
    ((D, np.array([0.5, 1, 2]), GP, QC, GC), "query_pids"),
])
def test_bad_arrays_raise_input_error_naming_them(args, needle):
    with pytest.raises(InputError, match=needle):
        rank_metrics(*args)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_distances_are_refused_with_their_position(bad):
    d = D.copy()
    d[2, 1] = bad
    with pytest.raises(InputError, match=r"distmat.*\(2, 1\)"):
        rank_metrics(d, QP, GP, QC, GC)


def _problem(seed, n_q=12, n_g=60, levels=None):
    rng = np.random.default_rng(seed)
    gp = rng.integers(-1, 8, n_g)
    gc = rng.integers(1, 4, n_g)
    qp = rng.integers(1, 8, n_q)
    qc = rng.integers(1, 4, n_q)
    d = rng.random((n_q, n_g)) if levels is None else rng.integers(0, levels, (n_q, n_g)) * 1.0
    return d, qp, gp, qc, gc


def test_gallery_permutation_without_ties_changes_nothing():
    d, qp, gp, qc, gc = _problem(1)
    perm = np.random.default_rng(2).permutation(d.shape[1])
    a = rank_metrics(d, qp, gp, qc, gc, cmc="allshots")
    b = rank_metrics(d[:, perm], qp, gp[perm], qc, gc[perm], cmc="allshots")
    for v in AP_VARIANTS.names():
        np.testing.assert_allclose(a.ap_by_variant[v], b.ap_by_variant[v], atol=1e-15)
    np.testing.assert_array_equal(a.first_rank, b.first_rank)
    np.testing.assert_allclose(a.cmc, b.cmc, atol=1e-15)


def test_gallery_permutation_with_stable_ties_moves_only_tied_items():
    d, qp, gp, qc, gc = _problem(3, levels=5)
    perm = np.random.default_rng(4).permutation(d.shape[1])
    a = rank_metrics(d, qp, gp, qc, gc)
    b = rank_metrics(d[:, perm], qp, gp[perm], qc, gc[perm])
    # grouped variants and the tie bounds do not depend on the gallery order
    for v in ("sklearn_step", "sklearn_legacy"):
        np.testing.assert_allclose(a.ap_by_variant[v], b.ap_by_variant[v], atol=1e-15)
    lo = rank_metrics(d, qp, gp, qc, gc, ties="pessimistic")
    hi = rank_metrics(d, qp, gp, qc, gc, ties="optimistic")
    for r in (a, b):
        assert np.all(r.first_rank[r.valid] <= lo.first_rank[r.valid])
        assert np.all(r.first_rank[r.valid] >= hi.first_rank[r.valid])
        assert np.all(r.ap[r.valid] <= hi.ap[r.valid] + 1e-15)
        assert np.all(r.ap[r.valid] >= lo.ap[r.valid] - 1e-15)
    assert not np.array_equal(a.first_rank, b.first_rank) or not np.allclose(a.ap, b.ap) \
        or a.tied_pairs == 0


def test_query_permutation_permutes_per_query_arrays():
    d, qp, gp, qc, gc = _problem(5, levels=7)
    perm = np.random.default_rng(6).permutation(d.shape[0])
    a = rank_metrics(d, qp, gp, qc, gc, chunk_size=5)
    b = rank_metrics(d[perm], qp[perm], gp, qc[perm], gc, chunk_size=3)
    np.testing.assert_array_equal(a.ap[perm], b.ap)
    np.testing.assert_array_equal(a.first_rank[perm], b.first_rank)
    np.testing.assert_array_equal(a.inp[perm], b.inp)
    assert a.map == pytest.approx(b.map)


@pytest.mark.parametrize("seed", range(5))
def test_ap_in_unit_interval_and_cmc_monotone(seed):
    d, qp, gp, qc, gc = _problem(seed, levels=[None, 3, 40, None, 2][seed])
    for cmc in ("first_match", "allshots"):
        r = rank_metrics(d, qp, gp, qc, gc, cmc=cmc)
        for v in r.ap_by_variant.values():
            ok = v[r.counted]
            assert np.all((ok >= 0) & (ok <= 1))
        assert np.all(np.diff(r.cmc) >= 0)
        assert np.all((r.cmc >= 0) & (r.cmc <= 1))


def test_chunk_size_does_not_change_results():
    d, qp, gp, qc, gc = _problem(9, n_q=17, levels=6)
    ref = rank_metrics(d, qp, gp, qc, gc)
    for chunk in (1, 2, 5, 16, 100):
        r = rank_metrics(d, qp, gp, qc, gc, chunk_size=chunk)
        for v in AP_VARIANTS.names():
            np.testing.assert_array_equal(r.ap_by_variant[v], ref.ap_by_variant[v])
        np.testing.assert_array_equal(r.cmc, ref.cmc)


def test_float32_input_is_not_cast_and_float64_is_not_rounded():
    d = np.array([[0.5, 0.5 + 1e-12, 0.7]])  # distinct in float64, equal in float32
    gp, gc = np.array([2, 1, 3]), np.array([1, 2, 1])
    r64 = rank_metrics(d, [1], gp, [1], gc)
    assert r64.first_rank[0] == 2 and r64.tied_pairs == 0
    r32 = rank_metrics(d.astype(np.float32), [1], gp, [1], gc, ties="optimistic")
    assert r32.first_rank[0] == 1 and r32.tied_pairs == 1


def test_summary_and_result_record():
    r = rank_metrics(D, QP, GP, QC, GC)
    s = r.summary()
    assert isinstance(r, RankMetrics)
    assert s["mAP"] == r.map and s["rank1"] == r.rank1 and s["mINP"] == r.minp
    assert set(s["mAP_by_variant"]) == set(AP_VARIANTS.names())
    assert s["n_skipped"] == 2 and s["n_counted"] == 1
    with pytest.raises(AttributeError):
        r.map = 0.5  # type: ignore[misc]


def test_torch_distmat_is_accepted():
    import torch  # a dependency: a missing torch fails here, not skips
    a = rank_metrics(torch.from_numpy(D), torch.from_numpy(QP), GP, QC, GC)
    assert a.map == rank_metrics(D, QP, GP, QC, GC).map


def test_cli_lists_every_preset(capsys):
    import json

    from reidbench.cli import main

    assert main(["metrics", "presets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed] == PRESETS.names()
    mars = next(p for p in listed if p["name"] == "mars_official")
    assert mars["ap"] == "trapezoid" and mars["no_positive"] == "nan"
    assert main(["metrics", "presets"]) == 0
    out = capsys.readouterr().out
    assert "read: ap=sklearn_legacy" in out and "sklearn_step (v1)" in out


def test_fortran_ordered_and_sliced_distmats_give_the_same_result():
    d, qp, gp, qc, gc = _problem(11, n_q=9, n_g=50, levels=8)
    ref = rank_metrics(d, qp, gp, qc, gc, chunk_size=4)
    for view in (np.asfortranarray(d), np.hstack([d, d])[:, :50], d[::-1][::-1]):
        r = rank_metrics(view, qp, gp, qc, gc, chunk_size=4)
        np.testing.assert_array_equal(r.ap, ref.ap)
        np.testing.assert_array_equal(r.first_rank, ref.first_rank)
