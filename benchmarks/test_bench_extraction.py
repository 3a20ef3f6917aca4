"""Feature extraction throughput: reidbench's pipeline vs a per-tracklet loop vs the model alone.

Three ways to embed the same synthetic MARS tracklets (frames written at MARS's 256 x 128) with
the same model and sampling (``all_clips``, T = 4), side by side in one run:

* ``reidbench``: :func:`reidbench.engine.extract.extract_features` as ``evaluate`` runs it
  (decoding workers ``auto``, uint8 batches normalised where the model runs, clips of many
  tracklets per batch);
* ``per_tracklet_loop``: torchreid's video test loop (one tracklet's clips per forward pass,
  frames decoded to normalised float32 inside the loop, in the main process);
* ``model_floor``: the model alone on batches already decoded and normalised in memory (the
  compute floor: what extraction would cost if decoding were free).

Cases: the small backbone at 128 x 64 (frames resized from 256 x 128, as MARS's are), and with
``REIDBENCH_BENCH_R50=1`` ResNet-50 at 256 x 128 on a few tracklets (one round). Every benchmark
records ``frames`` and ``frames_per_s``; ``python benchmarks/report.py`` prints the table with
the ratios to the loop and to the floor.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
import torch

from reidbench.adapters import AdapterCard, ModuleAdapter
from reidbench.datasets import load
from reidbench.datasets.decode import load_clip
from reidbench.datasets.sampling import sample_test_clips
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine.evalset import EvalItem
from reidbench.engine.extract import clip_plan, extract_features
from reidbench.protocols import Procedure

#: (backbone, input size, tracklets, rounds)
CASES = [("small", (128, 64), 10**9, 3)]
if os.environ.get("REIDBENCH_BENCH_R50"):
    CASES.append(("resnet50", (256, 128), 6, 1))
BATCH = 32


class FramePool(ModuleAdapter):
    """A backbone applied per frame, features averaged over space and the clip."""

    card = AdapterCard(name="bench-framepool")

    def __init__(self, backbone: str) -> None:
        from reidbench_baselines.common import build_backbone

        super().__init__(build_backbone(backbone))

    def forward_features(self, clips):
        b, t = clips.shape[:2]
        return self.model(clips.flatten(0, 1)).mean(dim=(2, 3)).view(b, t, -1).mean(dim=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A synthetic MARS copy (40 ids) with frames at MARS's own 256 x 128."""
    root = write_dataset("mars", tmp_path_factory.mktemp("b") / "MARS", ids=40, seed=0,
                         config=SynthConfig(height=256, width=128)).root
    ds = load("mars", root)
    return [EvalItem(t.id, t.pid, t.camid, t.frames) for t in ds.tracklets]


def _proc(size):
    return Procedure(sampling="all_clips", seq_len=4, input_size=size)


def _frames(items, proc):
    return sum(len(c) for c in clip_plan(items, proc)[1])


def per_tracklet_loop(adapter, items, proc):
    """torchreid's video test loop: one tracklet's clips per forward, decoded in the loop."""
    out = []
    with torch.inference_mode():
        for it in items:
            clips = sample_test_clips(proc.sampling, len(it.frames), proc.seq_len)
            batch = torch.stack([load_clip([it.frames[i] for i in c], proc.input_size)
                                 for c in clips])
            out.append(adapter.forward_features(batch).mean(dim=0).numpy())
    return np.stack(out)


def _record(benchmark, case, way, n_frames):
    benchmark.extra_info.update(group="extraction", case=case, way=way, frames=n_frames,
                                frames_per_s=n_frames / benchmark.stats.stats.median,
                                threads=torch.get_num_threads(), cores=len(os.sched_getaffinity(0)))


@pytest.mark.parametrize("backbone,size,n_items,rounds", CASES,
                         ids=[f"{c[0]}-{c[1][0]}x{c[1][1]}" for c in CASES])
def test_extraction_reidbench(benchmark, dataset, backbone, size, n_items, rounds):
    items, proc = dataset[:n_items], _proc(size)
    torch.manual_seed(0)
    adapter = FramePool(backbone).eval()
    feats = benchmark.pedantic(lambda: extract_features(adapter, items, procedure=proc,
                                                        batch_size=BATCH)[0], rounds=rounds)
    ref = per_tracklet_loop(adapter, items[:3], proc)
    np.testing.assert_allclose(feats[:3], ref, rtol=1e-4, atol=1e-5)
    _record(benchmark, f"{backbone} {size[0]}x{size[1]}", "reidbench", _frames(items, proc))


@pytest.mark.parametrize("backbone,size,n_items,rounds", CASES,
                         ids=[f"{c[0]}-{c[1][0]}x{c[1][1]}" for c in CASES])
def test_extraction_per_tracklet_loop(benchmark, dataset, backbone, size, n_items, rounds):
    items, proc = dataset[:n_items], _proc(size)
    torch.manual_seed(0)
    adapter = FramePool(backbone).eval()
    benchmark.pedantic(lambda: per_tracklet_loop(adapter, items, proc), rounds=rounds)
    _record(benchmark, f"{backbone} {size[0]}x{size[1]}", "per_tracklet_loop",
            _frames(items, proc))


@pytest.mark.parametrize("backbone,size,n_items,rounds", CASES,
                         ids=[f"{c[0]}-{c[1][0]}x{c[1][1]}" for c in CASES])
def test_extraction_model_floor(benchmark, dataset, backbone, size, n_items, rounds):
    """The same number of batches of the same shape, already decoded: forward passes only."""
    items, proc = dataset[:n_items], _proc(size)
    torch.manual_seed(0)
    adapter = FramePool(backbone).eval()
    clips = clip_plan(items, proc)[1]
    # four real full batches in memory, cycled: the floor's cost does not depend on the pixels
    pool = list(itertools.islice(itertools.cycle(clips), 4 * BATCH))
    held = [torch.stack([load_clip(c, size) for c in pool[i:i + BATCH]])
            for i in range(0, len(pool), BATCH)]
    sizes = [min(BATCH, len(clips) - i) for i in range(0, len(clips), BATCH)]

    def run():
        with torch.inference_mode():
            for b, n in zip(itertools.cycle(held), sizes, strict=False):
                adapter.forward_features(b[:n])

    benchmark.pedantic(run, rounds=rounds)
    _record(benchmark, f"{backbone} {size[0]}x{size[1]}", "model_floor", _frames(items, proc))
