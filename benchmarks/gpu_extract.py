"""End-to-end extraction speed on a GPU: ``benchmarks/gpu_extract.sh`` runs this.

1. Writes a synthetic copy of MARS's test set in the official layout, at ``--fraction`` of its size
   (MARS, Zheng et al. ECCV 2016, official tables: 12,180 test tracklets, 681,089 frames, 1,980
   queries; docs/datasets.md): a small procedural copy is rendered, then its frames are
   hard-linked into the big copy's tracklets by every core at once (frames repeat; decoding and
   the model cost the same per frame whatever the pixels).
2. Runs ``evaluate`` end to end (``mars/v2v@1``, every frame decoded: ``all_clips`` sampling, clips
   of 4) with ResNet-50 at 256 x 128, with autocast and without.
3. Times the model alone on batches already on the device (the compute floor), both ways.
4. Prints one table (each row as soon as it is measured, so a run stopped by the time limit
   still shows what it measured), with the metric (scoring) time of each evaluate.

``--dry-run`` runs the same steps on the CPU with the small backbone at 64 x 32 and a tiny copy
(tested in CI). Without ``--dry-run`` and without a CUDA GPU it stops at once with one line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from reidbench.adapters import AdapterCard, ModuleAdapter

MARS_TEST = {"tracklets": 12_180, "frames": 681_089, "ids": 626}
PROTOCOL = "mars/v2v@1"


class FramePool(ModuleAdapter):
    """A backbone applied per frame, features averaged over space and the clip."""

    card = AdapterCard(name="gpu-bench-framepool", modes=("v2v", "i2v"), input_size=(256, 128))

    def __init__(self, backbone: str = "resnet50") -> None:
        import torch

        from reidbench_baselines.common import build_backbone

        torch.manual_seed(0)  # the same weights in every run
        super().__init__(build_backbone(backbone))
        self.config = {"backbone": backbone}

    def forward_features(self, clips):
        b, t = clips.shape[:2]
        return self.model(clips.flatten(0, 1)).mean(dim=(2, 3)).view(b, t, -1).mean(dim=1)


def _link_tracklet(job: tuple[str, list[str], list[str]]) -> int:
    folder, sources, names = job
    os.makedirs(folder, exist_ok=True)
    for src, name in zip(sources, names, strict=True):
        dst = os.path.join(folder, name)
        try:
            os.link(src, dst)
        except OSError:  # another file system: copy
            shutil.copyfile(src, dst)
    return len(names)


def write_big_copy(base_root: Path, out: Path, fraction: float, seed: int = 0) -> dict:
    """A MARS-layout copy with ``fraction`` of MARS's test tracklets and frames.

    Tracklet lengths average MARS's (681,089 / 12,180 = 55.9 frames); each big identity takes the
    frames of one base test identity, so identities stay recognisable. Returns the counts.
    """
    from reidbench.datasets import load
    from reidbench.datasets.synthetic.matfiles import write_mat_v5

    base = load("mars", base_root)
    test_ids = {t for s in base.splits for t in s.gallery}
    by_pid: dict[int, list] = {}
    for t in base.tracklets:
        if t.id in test_ids and t.pid > 0:
            by_pid.setdefault(t.pid, []).append(t)
    base_pids = sorted(by_pid)
    train = [t for t in base.tracklets if t.id not in test_ids][:4]
    rng = np.random.default_rng(seed)
    n_tracks = max(12, round(MARS_TEST["tracklets"] * fraction))
    n_frames = max(4 * n_tracks, round(MARS_TEST["frames"] * fraction))
    n_ids = max(4, min(round(MARS_TEST["ids"] * fraction), n_tracks // 2))
    lengths = rng.integers(8, 104, size=n_tracks)
    lengths = np.clip(np.round(lengths * n_frames / lengths.sum()), 2, 999).astype(int)
    # every identity in >= 2 cameras (it gives queries), then the rest at random
    pids = np.concatenate([np.repeat(np.arange(1, n_ids + 1), 2),
                           rng.integers(1, n_ids + 1, size=max(0, n_tracks - 2 * n_ids))])
    pids = np.sort(pids[:n_tracks])
    cams = np.empty(n_tracks, dtype=int)
    for p in np.unique(pids):
        rows = np.flatnonzero(pids == p)
        cams[rows] = rng.permutation(np.resize(rng.permutation(6), len(rows))) + 1
    tmp = out.parent / f".{out.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "info").mkdir(parents=True)
    jobs, names_test, table, tnum = [], [], [], {}
    start = 1
    for k in range(n_tracks):
        pid, cam, n = int(pids[k]), int(cams[k]), int(lengths[k])
        tnum[pid] = tnum.get(pid, 0) + 1  # T-numbers are unique per pid across cameras
        like = by_pid[base_pids[pid % len(base_pids)]]
        src_track = like[tnum[pid] % len(like)]
        prefix = f"{pid:04d}C{cam}T{tnum[pid]:04d}"
        names = [f"{prefix}F{f:03d}.jpg" for f in range(1, n + 1)]
        sources = [src_track.frames[f % len(src_track.frames)] for f in range(n)]
        jobs.append((str(tmp / "bbox_test" / f"{pid:04d}"), sources, names))
        names_test += names
        table.append((start, start + n - 1, pid, cam))
        start += n
    train_names, train_table, start = [], [], 1
    for t in train:
        names = [Path(f).name for f in t.frames]
        jobs.append((str(tmp / "bbox_train" / f"{t.pid:04d}"), list(t.frames), names))
        train_names += names
        train_table.append((start, start + len(names) - 1, t.pid, t.camid))
        start += len(names)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        linked = sum(pool.map(_link_tracklet, jobs, chunksize=64))
    for subset, names, rows in (("test", names_test, table), ("train", train_names, train_table)):
        (tmp / "info" / f"{subset}_name.txt").write_text("\r\n".join(names) + "\r\n")
        write_mat_v5(tmp / "info" / f"tracks_{subset}_info.mat",
                     {f"track_{subset}_info": (np.asarray(rows, np.int64), "int32")})
    groups: dict[tuple[int, int], list[int]] = {}
    for k, (_, _, pid, cam) in enumerate(table):
        groups.setdefault((pid, cam), []).append(k)
    n_cams = Counter(p for p, _ in groups)
    query = sorted(int(rng.choice(rows)) + 1 for (p, _), rows in groups.items() if n_cams[p] >= 2)
    write_mat_v5(tmp / "info" / "query_IDX.mat",
                 {"query_IDX": (np.asarray(query, np.int64)[None, :], "uint32")})
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return {"tracklets": n_tracks, "frames": int(lengths.sum()), "queries": len(query),
            "linked": linked}


def model_floor(backbone: str, size: tuple[int, int], device: str, autocast: bool,
                n_frames: int, batch_size: int) -> tuple[int, float]:
    """Frames/s of the model alone on one batch already on the device (pipeline's settings)."""
    import torch

    from reidbench.engine.pipeline import autocast_context, plan_pipeline

    pipe = plan_pipeline(device, 0, 0, None if autocast else False)
    adapter = FramePool(backbone).to(device).eval()
    if pipe.channels_last:
        adapter.model.to(memory_format=torch.channels_last)
    x = torch.randn(batch_size, 4, 3, *size, device=device)
    if pipe.channels_last:  # the layout the pipeline hands the model
        x = x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    n_batches = max(1, n_frames // (4 * batch_size))
    with torch.inference_mode():
        for _ in range(2):  # warm-up (cuDNN autotuning, allocator)
            with autocast_context(pipe):
                adapter.forward_features(x)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(n_batches):
            with autocast_context(pipe):
                adapter.forward_features(x)
        _sync(device)
    return n_batches * 4 * batch_size, time.perf_counter() - t0


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def run_evaluate(root: Path, backbone: str, size: tuple[int, int], device: str, autocast: bool,
                 batch_size: int) -> dict:
    """One ``evaluate`` end to end; returns frames, seconds and the pipeline used."""
    from reidbench.engine import AdapterSource, evaluate

    source = AdapterSource("gpu_extract:FramePool", config={"backbone": backbone}, device=device,
                           batch_size=batch_size, autocast=None if autocast else False)
    t0 = time.perf_counter()
    result = evaluate(PROTOCOL, root, source, bootstrap=0,
                      procedure={"sampling": "all_clips", "seq_len": 4, "input_size": size})
    seconds = time.perf_counter() - t0
    split = result.record.splits[0]
    ext = split.source["extraction"]["tracklets"]
    return {"frames": ext["n_frames"], "seconds": seconds,
            "extract_seconds": ext["seconds"], "pipeline": ext["pipeline"],
            "scoring_seconds": split.source.get("seconds_scoring"),
            "n_query": split.n_queries, "n_gallery": split.n_gallery,
            "mAP": result.value("mAP")}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, check the device, run the steps, print the table."""
    p = argparse.ArgumentParser(prog="benchmarks/gpu_extract.sh", description=__doc__.split(
        "\n")[0])
    p.add_argument("--fraction", type=float, default=None,
                   help="Fraction of MARS's test set to write (default 0.2; dry run 0.0005).")
    p.add_argument("--work", default=None, help="Folder for the copies (default: a temporary "
                   "folder, removed at the end).")
    p.add_argument("--batch-size", type=int, default=64, help="Clips per forward pass.")
    p.add_argument("--dry-run", action="store_true", help="CPU, small backbone, tiny copy.")
    args = p.parse_args(argv)
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print(f"error: benchmarks/gpu_extract.sh: expected a CUDA GPU, got none (torch "
              f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). Run it on a GPU "
              "machine with a CUDA build of torch, or pass --dry-run for the CPU check.",
              file=sys.stderr)
        return 2
    fraction = args.fraction or (0.0005 if args.dry_run else 0.2)
    if not 0 < fraction <= 1:
        print(f"error: --fraction in benchmarks/gpu_extract.sh: expected a fraction in (0, 1], "
              f"got {fraction}.", file=sys.stderr)
        return 2
    device = "cpu" if args.dry_run else "cuda"
    backbone, size = ("small", (64, 32)) if args.dry_run else ("resnet50", (256, 128))
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # "gpu_extract:FramePool"
    import tempfile

    from reidbench.datasets.synthetic import SynthConfig, write_dataset

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="reidbench-gpu-"))
    t0 = time.perf_counter()
    try:
        base = work / "base"
        if not base.is_dir():
            write_dataset("mars", base, ids=8 if args.dry_run else 40, seed=0,
                          config=SynthConfig(height=256, width=128))
        counts = write_big_copy(base, work / "MARS", fraction)
        name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (dry run)"
        print(f"{name}; {os.cpu_count()} cores; torch {torch.__version__}; {backbone} at "
              f"{size[0]}x{size[1]}, batches of {args.batch_size} clips x 4 frames")
        print(f"synthetic MARS test set, fraction {fraction:g}: {counts['tracklets']:,} "
              f"tracklets, {counts['frames']:,} frames, {counts['queries']:,} queries "
              f"(written in {time.perf_counter() - t0:.1f} s)")
        print()
        print("| run | frames | seconds | frames/s | notes |")
        print("|---|---|---|---|---|", flush=True)
        for autocast in (True, False):
            r = run_evaluate(work / "MARS", backbone, size, device, autocast, args.batch_size)
            pipe = r["pipeline"]
            label = (f"autocast {pipe['autocast']}" if pipe["autocast"] else
                     "float32" if not autocast else "autocast (no effect on the CPU)")
            print(f"| evaluate end to end, {label} | {r['frames']:,} | {r['seconds']:.1f} | "
                  f"{r['frames'] / r['seconds']:,.0f} | extraction {r['extract_seconds']:.1f} s "
                  f"({r['frames'] / r['extract_seconds']:,.0f} frames/s), {pipe['workers']} "
                  f"workers, channels_last {pipe['channels_last']}; metric (scoring "
                  f"{r['n_query']:,} x {r['n_gallery']:,}) {r['scoring_seconds']:.2f} s; "
                  f"mAP {r['mAP']:.4f} |", flush=True)
            n, s = model_floor(backbone, size, device, autocast, min(r["frames"], 50_000),
                               args.batch_size)
            print(f"| model alone on the device, {label} | {n:,} | {s:.1f} | {n / s:,.0f} | "
                  f"end to end = {100 * (r['frames'] / r['extract_seconds']) / (n / s):.0f} % "
                  "of this (extraction only) |", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
