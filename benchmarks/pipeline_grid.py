"""Measure extraction frames/s over decoding workers x torch threads x OpenMP wait policy.

    python benchmarks/pipeline_grid.py --root /tmp/MARS --backbone small --height 128 --width 64

Each configuration runs in a fresh process (the OpenMP wait policy and torch's thread count are
fixed when torch starts), configurations are interleaved and repeated (``--repeats``), and the
median is printed, with the load average before each run, since this is meant for a shared
machine. ``--decoder pillow,simplejpeg`` compares Pillow with reidbench's default JPEG decoder
(simplejpeg, then Pillow's resize). The numbers behind ``resolve_workers``' ``auto``
and the decoder decision in PROFILE.md come from this script.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time


def run_one(args: argparse.Namespace) -> None:
    """Child: one extraction with the given configuration; prints a JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    from reidbench.datasets import load
    from reidbench.engine.evalset import EvalItem
    from reidbench.engine.extract import extract_features
    from reidbench.protocols import Procedure

    if args.decoder == "pillow":
        _use_pillow_only()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from test_bench_extraction import FramePool

    ds = load("mars", args.root)
    items = [EvalItem(t.id, t.pid, t.camid, t.frames) for t in ds.tracklets[:args.tracklets]]
    proc = Procedure(sampling="all_clips", seq_len=4, input_size=(args.height, args.width))
    torch.manual_seed(0)
    adapter = FramePool(args.backbone).eval()
    t0 = time.perf_counter()
    _, info = extract_features(adapter, items, procedure=proc, batch_size=args.batch_size,
                               num_workers=args.workers)
    seconds = time.perf_counter() - t0
    print(json.dumps({"frames": info["n_frames"], "seconds": seconds,
                      "fps": info["n_frames"] / seconds}))


def _use_pillow_only() -> None:
    """Decode every frame with Pillow (reidbench decodes YCbCr JPEGs with simplejpeg)."""
    from reidbench.datasets import decode

    decode._simplejpeg = lambda: None


def _wait_for_load(max_load: float | None, patience: float = 600.0) -> None:
    """Sleep until the 1-minute load average is below ``max_load`` (or ``patience`` passed)."""
    t0 = time.monotonic()
    while max_load is not None and os.getloadavg()[0] >= max_load:
        if time.monotonic() - t0 > patience:
            return
        time.sleep(10)


def main() -> None:
    """Parent: run the grid and print a table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True)
    p.add_argument("--backbone", default="small")
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--tracklets", type=int, default=10**9)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--omp", default="PASSIVE,default")
    p.add_argument("--decoder", default="simplejpeg", help="simplejpeg (reidbench's default for "
                   "JPEGs) or pillow (Pillow for every frame); a comma list compares them")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-load", type=float, default=None,
                   help="Before each run, wait (up to 10 min) for the 1-minute load average to "
                        "drop below this.")
    p.add_argument("--child", action="store_true")
    args = p.parse_args()
    if args.child:
        args.workers = int(args.workers)
        args.threads = int(args.threads)
        run_one(args)
        return
    grid = list(itertools.product(args.omp.split(","), args.threads.split(","),
                                  args.workers.split(","), args.decoder.split(",")))
    results: dict[tuple, list[float]] = {g: [] for g in grid}
    loads: list[float] = []
    for _ in range(args.repeats):
        for omp, threads, workers, decoder in grid:
            env = dict(os.environ)
            env.pop("OMP_WAIT_POLICY", None)
            if omp != "default":
                env["OMP_WAIT_POLICY"] = omp
            _wait_for_load(args.max_load)
            loads.append(os.getloadavg()[0])
            cmd = [sys.executable, __file__, "--child", "--root", args.root, "--backbone",
                   args.backbone, "--height", str(args.height), "--width", str(args.width),
                   "--tracklets", str(args.tracklets), "--batch-size", str(args.batch_size),
                   "--workers", workers, "--threads", threads, "--decoder", decoder]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            results[(omp, threads, workers, decoder)].append(
                json.loads(out.stdout.strip().splitlines()[-1])["fps"])
    print(f"{args.backbone} at {args.height}x{args.width}, {args.root}; load average during "
          f"the runs {min(loads):.1f}-{max(loads):.1f}")
    print("| OMP_WAIT_POLICY | torch threads | workers | decoder | frames/s (median) | runs |")
    print("|---|---|---|---|---|---|")
    for (omp, threads, workers, decoder), fps in results.items():
        print(f"| {omp} | {threads} | {workers} | {decoder} | {statistics.median(fps):.0f} | "
              f"{', '.join(f'{v:.0f}' for v in fps)} |")


if __name__ == "__main__":
    main()
