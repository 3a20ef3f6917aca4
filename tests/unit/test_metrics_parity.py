"""The parity report and the bootstrap agree with ``rank_metrics`` for every preset."""

from __future__ import annotations

import numpy as np
import pytest

from reidbench.errors import InputError
from reidbench.metrics import DEFAULT_CMC_RANKS as RANKS
from reidbench.metrics import PRESETS, rank_metrics
from reidbench.metrics.parity import run_parity
from reidbench.metrics.stats import bootstrap_rank_metrics
from reidbench.metrics.synthetic import make_problem


@pytest.fixture(scope="module")
def problem():
    # hard enough that first-match and all-shots Rank-k differ by many points
    return make_problem(300, 2000, seed=0, difficulty=1.5).metric_args()


@pytest.fixture(scope="module")
def report(problem):
    return run_parity(*problem, n_boot=20)


@pytest.mark.parametrize("preset", PRESETS.names())
def test_point_estimates_equal_the_cmc_of_rank_metrics(problem, report, preset):
    res = rank_metrics(*problem, preset=preset)
    row = next(r for r in report.rows if r.group == "preset" and r.label == preset)
    boot = bootstrap_rank_metrics(res, ranks=RANKS, n_boot=20)
    for k in RANKS:
        want = res.cmc[k - 1]
        assert row.metrics[f"rank{k}"].estimate == pytest.approx(want, abs=1e-12), (preset, k)
        assert boot[f"rank{k}"].estimate == pytest.approx(want, abs=1e-12), (preset, k)
    assert row.metrics["mAP"].estimate == pytest.approx(res.map, abs=1e-12)


def test_allshots_presets_differ_from_first_match(problem):
    # the bug this guards against: all-shots rows showed first-match Rank-k
    shots = rank_metrics(*problem, preset="openreid_sklearn_post019")
    first = rank_metrics(*problem, ap="sklearn_step")
    assert shots.options["cmc"] == "allshots"
    assert first.rank1 - shots.rank1 > 0.05


def test_bootstrap_allshots_rank_past_max_rank_names_ranks():
    shots = rank_metrics(*make_problem(30, 200, seed=1).metric_args(), cmc="allshots",
                         max_rank=10)
    with pytest.raises(InputError, match="ranks in bootstrap_rank_metrics.*max_rank \\(10\\)"):
        bootstrap_rank_metrics(shots, ranks=(1, 20), n_boot=10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernel_is_warmed_on_a_tiny_problem_before_any_row_is_timed(monkeypatch, dtype):
    from reidbench.metrics import parity

    calls = []

    def recording(distmat, *args, **kwargs):
        calls.append((distmat.shape, distmat.dtype))
        return rank_metrics(distmat, *args, **kwargs)

    monkeypatch.setattr(parity, "rank_metrics", recording)
    p = make_problem(20, 150, seed=3)
    run_parity(p.distmat.astype(dtype), *p.metric_args()[1:], n_boot=5, presets=["torchreid"])
    assert calls[0][0][0] * calls[0][0][1] <= 10 and calls[0][1] == np.dtype(dtype)
    assert all(shape == (20, 150) for shape, _ in calls[1:])


@pytest.mark.parametrize("writeable", [False, True])
def test_the_warm_up_loads_the_kernel_the_rows_use(writeable):
    # numba types a read-only matrix apart; make_problem's is read-only, and a warm-up on a
    # writeable one left the first timed row to compile the kernel (7 s on a fresh install)
    from reidbench.metrics import _kernel
    from reidbench.metrics.parity import _warm_up

    if not _kernel.available():
        pytest.skip("numba cannot be imported: no compiled kernel to warm up")
    d = np.zeros((2, 3))
    d.flags.writeable = writeable
    _warm_up(d)
    assert any(sig[0].mutable == writeable for sig in _kernel._kernel().signatures)
