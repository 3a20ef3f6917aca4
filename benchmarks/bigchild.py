"""Child process of the 10,000 x 100,000 benchmark: one job, its time and its peak resident memory.

Run as ``python benchmarks/bigchild.py JOB INPUT.npz OUTPUT.npz``; prints one JSON line. The
parent (test_bench_metrics.py) writes the features and labels to INPUT.npz first, so that the
child's peak RSS is the job's own (plus the interpreter, numpy and the ~0.1 GB of features).

Jobs:
    stream      reidbench.rank_metrics_from_features (distances streamed, never the full matrix)
    distances   the same chunked distance computation alone (reduced by a row min, then dropped):
                the distance part of ``stream``
    fastreid    build the full float32 (Q, G) matrix (4 GB at 10k x 100k, untimed), then time
                fast-reid's Cython evaluate_cy on it
    dense       build the same float32 matrix (untimed), then time reidbench.rank_metrics on it
    dense1      the same with ``threads=1``

reidbench runs with its default thread count (``REIDBENCH_THREADS`` or the CPUs, reported as
``threads``) except in ``dense1``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

DISTANCE = "sqeuclidean"


def _rss_gib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _current_rss_gib() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / 2**30
    except OSError:
        return float("nan")


def _default_threads() -> int:
    try:
        from reidbench.metrics.rank import default_threads
    except ImportError:
        return 1
    return default_threads()


def _full_matrix(qf: np.ndarray, gf: np.ndarray) -> np.ndarray:
    from reidbench.metrics import compute_distance

    out = np.empty((qf.shape[0], gf.shape[0]), dtype=np.float32)
    step = 256
    for s in range(0, qf.shape[0], step):
        out[s:s + step] = compute_distance(qf[s:s + step], gf, DISTANCE)
    return out


def main(job: str, inp: str, outp: str) -> dict:
    """Run ``job`` on the problem in ``inp``; save per-query results to ``outp``."""
    data = np.load(inp)
    qf, gf = data["qf"], data["gf"]
    qp, gp, qc, gc = data["qp"], data["gp"], data["qc"], data["gc"]
    import reidbench.metrics as M

    info: dict = {"job": job, "shape": [int(qf.shape[0]), int(gf.shape[0])],
                  "dim": int(qf.shape[1]), "distance": DISTANCE}
    info["rss_before_gib"] = _current_rss_gib()
    save: dict = {}
    if job == "stream":
        info["threads"] = _default_threads()
        t = time.perf_counter()
        r = M.rank_metrics_from_features(qf, gf, qp, gp, qc, gc, distance=DISTANCE, junk_pids=())
        info["seconds"] = time.perf_counter() - t
        info.update(map=r.map, minp=r.minp, rank1=r.rank1, tied_pairs=r.tied_pairs)
        save = dict(cmc=r.cmc, ap=r.ap[r.counted], inp=r.inp[r.counted])
    elif job == "distances":
        from reidbench.metrics.distance import check_features, pairwise, prepare_gallery

        rows = max(1, (1 << 21) // gf.shape[0])  # rank_metrics_from_features' default chunk
        try:  # and the distance block it computes at once (one chunk in older versions)
            from reidbench.metrics.rank import distance_block_rows
            rows = distance_block_rows(qf.shape[0], gf.shape[0], rows)
        except ImportError:
            pass
        info["distance_block_rows"] = rows
        t = time.perf_counter()
        q64, g64 = check_features(qf, gf, "bigchild")
        side = prepare_gallery(g64, DISTANCE)
        acc = np.empty(qf.shape[0])
        for s in range(0, qf.shape[0], rows):
            acc[s:s + rows] = np.asarray(pairwise(q64[s:s + rows], side, DISTANCE)).min(axis=1)
        info["seconds"] = time.perf_counter() - t
    elif job in ("fastreid", "dense", "dense1"):
        t = time.perf_counter()
        d = _full_matrix(qf, gf)
        info["build_seconds"] = time.perf_counter() - t
        info["rss_before_gib"] = _current_rss_gib()
        if job == "fastreid":
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import peers

            ev = peers.fastreid_cy()
            if ev is None:
                raise SystemExit("fast-reid Cython peer not built: run benchmarks/setup_peers.sh")
            t = time.perf_counter()
            cmc, ap, inp_ = ev(d, qp, gp, qc, gc, 50)
            info["seconds"] = time.perf_counter() - t
            info.update(map=float(np.mean(ap)), minp=float(np.mean(inp_)), rank1=float(cmc[0]))
            save = dict(cmc=np.asarray(cmc), ap=np.asarray(ap), inp=np.asarray(inp_))
        else:
            kw = {"threads": 1} if job == "dense1" else {}
            info["threads"] = 1 if kw else _default_threads()
            t = time.perf_counter()
            r = M.rank_metrics(d, qp, gp, qc, gc, junk_pids=(), **kw)
            info["seconds"] = time.perf_counter() - t
            info.update(map=r.map, minp=r.minp, rank1=r.rank1, tied_pairs=r.tied_pairs)
            save = dict(cmc=r.cmc, ap=r.ap[r.counted], inp=r.inp[r.counted])
    else:
        raise SystemExit(f"unknown job {job!r}")
    info["peak_rss_gib"] = _rss_gib()
    np.savez(outp, **save)
    return info


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
