"""CPU time per decoded frame, by decoder and output: the decode side of PROFILE.md.

    python benchmarks/decode_cpu.py [--frames 1000] [--root MARS_COPY]

Times, per frame and in this thread's CPU time (``time.thread_time``, so a loaded machine
distorts it less than wall time), rounds interleaved: Pillow to uint8 (reidbench's Pillow path),
Pillow to normalised float32 (what the engine did before: conversion and normalisation per frame
on the host), and simplejpeg to uint8 (reidbench's default for JPEGs), at 256 x 128 (MARS's own
size: no resize) and 128 x 64 (decode, then Pillow's bilinear resize). Frames: a synthetic MARS
copy (written here when ``--root`` is not given). Also checks that the two decoders give the same
pixels.
"""

from __future__ import annotations

import argparse
import glob
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    """Write or find frames, time each way, print a table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=1000)
    p.add_argument("--root", default=None)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    from reidbench.datasets import decode
    from reidbench.datasets.synthetic import SynthConfig, write_dataset

    root = args.root
    if root is None:
        root = tempfile.mkdtemp() + "/MARS"
        write_dataset("mars", root, ids=30, seed=0, config=SynthConfig(height=256, width=128))
    files = sorted(glob.glob(f"{root}/bbox_*/*/*.jpg"))[:args.frames]
    fast = decode._simplejpeg

    def pillow_uint8(path: str, size: tuple[int, int]) -> np.ndarray:
        decode._simplejpeg = lambda: None
        try:
            return decode.read_frame(path, size)
        finally:
            decode._simplejpeg = fast

    def pillow_float(path: str, size: tuple[int, int]) -> np.ndarray:
        x = pillow_uint8(path, size).astype(np.float32) / 255.0
        return (x - decode.IMAGENET_MEAN) / decode.IMAGENET_STD

    ways = {"Pillow, uint8": pillow_uint8,
            "Pillow, float32 normalised (the old path)": pillow_float,
            f"{decode.jpeg_decoder()}, uint8 (reidbench)": decode.read_frame}
    sizes = [(256, 128), (128, 64)]
    cpu: dict[tuple[str, tuple[int, int]], list[float]] = {(w, s): [] for w in ways for s in sizes}
    for _ in range(args.rounds):
        for size in sizes:
            for name, fn in ways.items():
                t = time.thread_time()
                for f in files:
                    fn(f, size)
                cpu[(name, size)].append(time.thread_time() - t)
    print(f"{len(files)} synthetic MARS frames (256 x 128 JPEG), median of {args.rounds} rounds")
    print("| output size | decoder | CPU us / frame | frames/s per core |")
    print("|---|---|---|---|")
    for (name, size), v in cpu.items():
        m = statistics.median(v) / len(files)
        print(f"| {size[0]} x {size[1]} | {name} | {1e6 * m:.0f} | {1 / m:,.0f} |")
    same = sum(np.array_equal(pillow_uint8(f, (256, 128)), decode.read_frame(f, (256, 128)))
               for f in files)
    print(f"identical pixels, Pillow vs {decode.jpeg_decoder()}: {same} of {len(files)} frames")


if __name__ == "__main__":
    main()
