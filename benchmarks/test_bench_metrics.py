"""Speed of reidbench's metric engine against the peers, side by side on the same inputs.

``make bench`` (``pytest benchmarks --benchmark-only``); ``python benchmarks/report.py`` prints the
README table from the saved JSON. Every benchmark also checks that its numbers agree with reidbench
on the same input: a speed comparison of different quantities would be worthless.

* ``mars-model`` / ``mars-random``: the MARS-sized synthetic problem (1,980 x 11,310, gallery with
  the queries, pid -1 junk and pid 0 distractors), model-like squared-Euclidean distances (mAP about
  0.8) or uniformly random ones. Full evaluation: CMC@1..50, every AP variant, mINP. reidbench runs
  with ``junk_pids=()``: the peers treat pid -1 as an ordinary negative, and so must it to compute
  the same numbers. fast-reid's Cython evaluator gets float32 (its native type; reidbench is timed
  on both the float64 and that float32 matrix); the pure-Python evaluators and the scikit-learn loop
  run on every 10th query (198) and their time is scaled by 10 in the report, as the spec did.
* ``big``: 10,000 x 100,000 streamed from 256-d float32 features, in a child process (time and peak
  RSS). fast-reid on the precomputed 4 GB float32 matrix (about 64 s and 12 GB) and reidbench on the
  same matrix run only with ``REIDBENCH_BENCH_BIG=1`` (``make bench-big``).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import peers
import pytest

from reidbench.metrics import rank_metrics
from reidbench.metrics.synthetic import make_problem

HERE = Path(__file__).resolve().parent
SUBSET_STEP = 10  # pure-Python peers and the sklearn loop: every 10th query, time x 10
MAX_RANK = 50
BIG = dict(n_query=10_000, n_gallery=100_000, dim=256)
BIG_OPT_IN = os.environ.get("REIDBENCH_BENCH_BIG") == "1"
# float32 accumulation in the Cython evaluator: its per-query AP is off by up to ~1e-5 when a query
# has hundreds of positives (sums of ~1e4 float32 terms); mAP, CMC and INP agree to ~1e-7.
TOL_SUMMARY = 1e-6
TOL_AP_FLOAT32 = 2e-5


def _writable(a: np.ndarray, dtype: object = None) -> np.ndarray:
    # make_problem freezes its arrays; the Cython peers need writable buffers.
    return np.array(a, dtype=dtype, copy=True)


def _reference(d: np.ndarray, p: SimpleNamespace, ties: str = "stable") -> object:
    return rank_metrics(d, p.qp, p.gp, p.qc, p.gc, junk_pids=(), ties=ties, max_rank=MAX_RANK)


@pytest.fixture(scope="module", params=["model", "random"])
def mars(request: pytest.FixtureRequest) -> SimpleNamespace:
    """The MARS-sized problem, its float32 copy and reidbench's (untimed) reference results."""
    kind = request.param
    prob = make_problem(kind=kind, seed=0)
    p = SimpleNamespace(kind=kind, d64=_writable(prob.distmat), qp=_writable(prob.query_pids),
                        gp=_writable(prob.gallery_pids), qc=_writable(prob.query_camids),
                        gc=_writable(prob.gallery_camids))
    p.d32 = _writable(prob.distmat, np.float32)
    p.ref64 = _reference(p.d64, p)
    p.ref32 = _reference(p.d32, p)
    # Tie bounds on float32 (the cast can tie a positive with a negative; numpy's argsort order
    # among ties is unspecified, so a peer may land anywhere between the two bounds).
    p.ref32_bounds = ((_reference(p.d32, p, "pessimistic"), _reference(p.d32, p, "optimistic"))
                      if p.ref32.tied_pairs else (p.ref32, p.ref32))
    sub = slice(None, None, SUBSET_STEP)
    p.sub = SimpleNamespace(d64=np.ascontiguousarray(p.d64[sub]), qp=p.qp[sub].copy(),
                            qc=p.qc[sub].copy(), gp=p.gp, gc=p.gc)
    p.sub.ref64 = _reference(p.sub.d64, p.sub)
    return p


def _threads() -> int:
    """The metric core's default thread count (1 for a core without a thread pool)."""
    try:
        from reidbench.metrics.rank import default_threads
    except ImportError:
        return 1
    return default_threads()


def _tag(benchmark: object, p: SimpleNamespace, impl: str, dtype: str, n_queries: int,
         scale: float = 1.0, **extra: object) -> None:
    benchmark.extra_info.update(group=f"mars-{p.kind}", impl=impl, dtype=dtype, n_queries=n_queries,
                                n_gallery=int(p.gp.shape[0]), scale=scale, **extra)


def _in_bounds(value: np.ndarray, lo: np.ndarray, hi: np.ndarray, tol: float) -> bool:
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    return bool(np.all(value >= lo - tol) and np.all(value <= hi + tol))


# --- MARS-sized: reidbench and the numpy floor ---------------------------------------------------

@pytest.mark.parametrize("threads", ["default", 1])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reidbench(benchmark, mars, dtype, threads):
    """reidbench, with its default thread pool and with one thread (the peers use one core)."""
    benchmark.group = f"mars-{mars.kind}"  # before timing, or it is ignored
    d = mars.d64 if dtype == "float64" else mars.d32
    kw = {} if threads == "default" else {"threads": threads}
    if kw and "threads" not in inspect.signature(rank_metrics).parameters:
        pytest.skip("this rank_metrics has no threads= option")
    r = benchmark(rank_metrics, d, mars.qp, mars.gp, mars.qc, mars.gc, junk_pids=(),
                  max_rank=MAX_RANK, **kw)
    ref = mars.ref64 if dtype == "float64" else mars.ref32
    _tag(benchmark, mars, "reidbench", dtype, d.shape[0], map=r.map, minp=r.minp,
         rank1=r.rank1, tied_pairs=r.tied_pairs, map_by_variant=r.map_by_variant,
         threads=_threads() if threads == "default" else threads)
    assert r.map == ref.map and np.array_equal(r.cmc, ref.cmc)
    assert set(r.ap_by_variant) >= {"noninterp", "trapezoid", "sklearn_step", "sklearn_legacy"}
    assert r.cmc.shape == (MAX_RANK,) and np.isfinite(r.minp)
    if mars.kind == "model":  # the problem must look like a real model's scores
        assert 0.7 <= r.map <= 0.9, r.map
    else:
        assert r.map < 0.05, r.map
    # float64 and float32 inputs give the same numbers up to float32 ties
    assert abs(mars.ref64.map - mars.ref32.map) < 1e-6


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reidbench_numpy_plan(benchmark, mars, dtype):
    """reidbench's numpy counting fallback (what runs where numba is unavailable), one thread."""
    from reidbench.metrics._ranks import forced_counting

    benchmark.group = f"mars-{mars.kind}"  # before timing, or it is ignored
    d = mars.d64 if dtype == "float64" else mars.d32
    with forced_counting("numpy"):
        r = benchmark(rank_metrics, d, mars.qp, mars.gp, mars.qc, mars.gc, junk_pids=(),
                      max_rank=MAX_RANK, threads=1)
    ref = mars.ref64 if dtype == "float64" else mars.ref32
    _tag(benchmark, mars, "reidbench_numpy_plan", dtype, d.shape[0], map=r.map, threads=1)
    assert r.map == ref.map and np.array_equal(r.ap, ref.ap, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_floor(benchmark, mars, dtype):
    """One numpy pass over the same matrix (row minima): the memory-bandwidth floor."""
    benchmark.group = f"mars-{mars.kind}"  # before timing, or it is ignored
    d = mars.d64 if dtype == "float64" else mars.d32
    out = benchmark(np.min, d, axis=1)
    _tag(benchmark, mars, "numpy_floor", dtype, d.shape[0], op="distmat.min(axis=1)")
    assert out.shape == (d.shape[0],)


# --- MARS-sized: the peers -----------------------------------------------------------------------

def _check_cython(p: SimpleNamespace, cmc: np.ndarray, ap: np.ndarray, inp: np.ndarray) -> dict:
    ref = p.ref32
    lo, hi = p.ref32_bounds
    counted = ref.counted
    ap, inp, cmc = np.asarray(ap, np.float64), np.asarray(inp, np.float64), np.asarray(cmc)
    assert ap.shape == (int(counted.sum()),), "the peer skipped different queries"
    diffs = dict(map_diff=abs(float(ap.mean()) - ref.map),
                 cmc_diff=float(np.abs(cmc - ref.cmc).max()),
                 ap_diff=float(np.abs(ap - ref.ap[counted]).max()),
                 inp_diff=float(np.abs(inp - ref.inp[counted]).max()))
    assert _in_bounds(np.array(ap.mean()), lo.map, hi.map, TOL_SUMMARY), diffs
    assert _in_bounds(cmc, lo.cmc, hi.cmc, TOL_SUMMARY), diffs
    assert _in_bounds(ap, lo.ap[counted], hi.ap[counted], TOL_AP_FLOAT32), diffs
    assert _in_bounds(inp, lo.inp[counted], hi.inp[counted], TOL_SUMMARY), diffs
    assert _in_bounds(np.array(inp.mean()), lo.minp, hi.minp, TOL_SUMMARY), diffs
    return diffs


@pytest.mark.parametrize("peer", ["fastreid_cy", "torchreid_cy"])
def test_peer_cython(benchmark, mars, peer):
    benchmark.group = f"mars-{mars.kind}"  # before timing, or it is ignored
    evaluate = getattr(peers, peer)()
    if evaluate is None:
        pytest.skip(f"{peer} not built (benchmarks/setup_peers.sh; torchreid 0.2.5 ships no .pyx)")
    out = benchmark(evaluate, mars.d32, mars.qp, mars.gp, mars.qc, mars.gc, MAX_RANK)
    if peer == "fastreid_cy":
        cmc, ap, inp = out
        diffs = _check_cython(mars, cmc, ap, inp)
    else:  # torchreid: (cmc, mAP)
        cmc, m = out
        diffs = dict(map_diff=abs(float(m) - mars.ref32.map),
                     cmc_diff=float(np.abs(np.asarray(cmc) - mars.ref32.cmc).max()))
        lo, hi = mars.ref32_bounds
        assert _in_bounds(np.array(float(m)), lo.map, hi.map, TOL_SUMMARY), diffs
        assert _in_bounds(np.asarray(cmc), lo.cmc, hi.cmc, TOL_SUMMARY), diffs
    _tag(benchmark, mars, peer, "float32", mars.d32.shape[0], **diffs)


@pytest.mark.parametrize("peer", ["fastreid_py", "torchreid_py"])
def test_peer_python(benchmark, mars, peer):
    benchmark.group = f"mars-{mars.kind}"  # before timing, or it is ignored
    evaluate = getattr(peers, peer)()
    if evaluate is None:
        pytest.skip(f"{peer} not installed (benchmarks/setup_peers.sh)")
    s = mars.sub
    out = benchmark.pedantic(evaluate, args=(s.d64, s.qp, s.gp, s.qc, s.gc, MAX_RANK),
                             rounds=1, iterations=1)
    cmc, ap = np.asarray(out[0]), out[1]
    m = float(np.mean(ap)) if peer == "fastreid_py" else float(ap)
    ref = s.ref64
    diffs = dict(map_diff=abs(m - ref.map), cmc_diff=float(np.abs(cmc - ref.cmc).max()))
    if peer == "fastreid_py":
        diffs["ap_diff"] = float(np.abs(np.asarray(ap) - ref.ap[ref.counted]).max())
        diffs["inp_diff"] = float(np.abs(np.asarray(out[2]) - ref.inp[ref.counted]).max())
        assert diffs["ap_diff"] < 1e-12 and diffs["inp_diff"] < 1e-12, diffs
    # float64 AP; their CMC is cast to float32
    assert diffs["map_diff"] < 1e-12 and diffs["cmc_diff"] < TOL_SUMMARY, diffs
    _tag(benchmark, mars, peer, "float64", s.d64.shape[0], scale=SUBSET_STEP, **diffs)


def test_sklearn_loop(benchmark, mars):
    benchmark.group = f"mars-{mars.kind}"  # before timing, or it is ignored
    s = mars.sub
    ap = benchmark.pedantic(peers.sklearn_loop, args=(s.d64, s.qp, s.gp, s.qc, s.gc), rounds=1,
                            iterations=1)
    ref = s.ref64.ap_by_variant["sklearn_step"]
    ok = ~np.isnan(ap)
    assert np.array_equal(ok, s.ref64.valid)
    diff = float(np.abs(ap[ok] - ref[ok]).max())
    assert diff < 1e-12, diff
    _tag(benchmark, mars, "sklearn_loop", "float64", s.d64.shape[0], scale=SUBSET_STEP,
         ap_diff=diff, note="AP only (sklearn_step), no CMC")


# --- 10,000 x 100,000 ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Features and labels of the big problem, written once for the child processes."""
    prob = make_problem(**BIG, with_distmat=False, seed=0)
    path = tmp_path_factory.mktemp("big") / "problem.npz"
    np.savez(path, qf=prob.query_features, gf=prob.gallery_features, qp=prob.query_pids,
             gp=prob.gallery_pids, qc=prob.query_camids, gc=prob.gallery_camids)
    return SimpleNamespace(path=path, dir=path.parent, results={})


def _child(big: SimpleNamespace, job: str) -> dict:
    out = big.dir / f"{job}.npz"
    proc = subprocess.run([sys.executable, str(HERE / "bigchild.py"), job, str(big.path), str(out)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bigchild {job} failed:\n{proc.stderr[-4000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if out.exists():
        with np.load(out) as f:
            info["arrays"] = {k: f[k] for k in f.files}
    big.results[job] = info
    return info


def _run_big(benchmark: object, big: SimpleNamespace, job: str, impl: str) -> dict:
    benchmark.group = "big"
    info = benchmark.pedantic(_child, args=(big, job), rounds=1, iterations=1)
    benchmark.extra_info.update(group="big", impl=impl, n_queries=BIG["n_query"],
                                n_gallery=BIG["n_gallery"],
                                **{k: v for k, v in info.items() if k != "arrays"})
    return info


def _agree(a: dict, b: dict, tol_ap: float) -> dict:
    x, y = a["arrays"], b["arrays"]
    assert x["ap"].shape == y["ap"].shape, "different queries counted"
    diffs = dict(map_diff=abs(a["map"] - b["map"]),
                 cmc_diff=float(np.abs(x["cmc"] - y["cmc"]).max()),
                 ap_diff=float(np.abs(x["ap"] - y["ap"]).max()))
    assert diffs["map_diff"] < 1e-5 and diffs["cmc_diff"] < 1e-5, diffs
    assert diffs["ap_diff"] < tol_ap, diffs
    return diffs


def test_big_stream(benchmark, big):
    """reidbench streamed from features: total time (distances included) and peak RSS."""
    info = _run_big(benchmark, big, "stream", "reidbench_stream")
    assert 0.5 < info["map"] <= 1.0 and info["arrays"]["cmc"].shape == (MAX_RANK,)


def test_big_distances(benchmark, big):
    """The same chunked distances alone: subtract from ``stream`` to get its metric part."""
    _run_big(benchmark, big, "distances", "reidbench_distances_only")


@pytest.mark.skipif(not BIG_OPT_IN, reason="slow (~2 min, 12 GB): make bench-big")
def test_big_dense_reidbench(benchmark, big):
    """reidbench on the precomputed float32 matrix, the same distances fast-reid gets."""
    info = _run_big(benchmark, big, "dense", "reidbench_dense_float32")
    if "stream" in big.results:
        # float32 rounding of the distances reorders near-equal items (and ties 100-odd pairs), so
        # per-query AP moves by up to ~1e-4 against the float64 stream; mAP and CMC stay ~1e-8.
        diffs = _agree(info, big.results["stream"], 1e-3)
        benchmark.extra_info.update({f"vs_stream_{k}": v for k, v in diffs.items()})


@pytest.mark.skipif(not BIG_OPT_IN, reason="slow (~2 min, 12 GB): make bench-big")
def test_big_dense_reidbench_one_thread(benchmark, big):
    """The same with one thread (fast-reid uses one core)."""
    info = _run_big(benchmark, big, "dense1", "reidbench_dense_float32_1thread")
    if "dense" in big.results:  # same matrix: identical results
        assert np.array_equal(info["arrays"]["ap"], big.results["dense"]["arrays"]["ap"])


@pytest.mark.skipif(not BIG_OPT_IN, reason="slow (~2 min, 12 GB): make bench-big")
def test_big_fastreid_cy(benchmark, big):
    if peers.fastreid_cy() is None:
        pytest.skip("fast-reid Cython not built (benchmarks/setup_peers.sh)")
    info = _run_big(benchmark, big, "fastreid", "fastreid_cy")
    if "dense" in big.results:  # the same float32 matrix
        benchmark.extra_info.update(_agree(info, big.results["dense"], TOL_AP_FLOAT32))
    elif "stream" in big.results:
        benchmark.extra_info.update(_agree(info, big.results["stream"], 1e-3))
