"""Feature extraction throughput: reidbench's batched extraction vs a per-tracklet loop.

The per-tracklet loop is how torchreid's video test loop works (one tracklet's clips per forward
pass, frames decoded inside the loop). Both run the same model on the same synthetic MARS copy with
the same sampling; the reported figure is frames/s. Set REIDBENCH_BENCH_R50=1 to add ResNet-50.
"""

from __future__ import annotations

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
from reidbench.engine.extract import extract_features
from reidbench.protocols import Procedure

SIZE = (128, 64)
PROC = Procedure(sampling="all_clips", seq_len=4, input_size=SIZE)
BACKBONES = ["small"] + (["resnet50"] if os.environ.get("REIDBENCH_BENCH_R50") else [])


class FramePool(ModuleAdapter):
    """A backbone applied per frame, features averaged over the clip."""

    card = AdapterCard(name="bench-framepool")

    def __init__(self, backbone: str) -> None:
        from reidbench_baselines.common import build_backbone

        super().__init__(build_backbone(backbone))

    def forward_features(self, clips):
        b, t = clips.shape[:2]
        return self.model(clips.flatten(0, 1)).mean(dim=(2, 3)).view(b, t, -1).mean(dim=1)


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    root = write_dataset("mars", tmp_path_factory.mktemp("b") / "MARS", ids=24, seed=0,
                         config=SynthConfig(height=SIZE[0], width=SIZE[1])).root
    ds = load("mars", root)
    return [EvalItem(t.id, t.pid, t.camid, t.frames) for t in ds.tracklets[:120]]


def _frames(items):
    return sum(len(c) * PROC.seq_len for it in items
               for c in sample_test_clips(PROC.sampling, len(it.frames), PROC.seq_len))


def per_tracklet_loop(adapter, items):
    out = []
    with torch.inference_mode():
        for it in items:
            clips = sample_test_clips(PROC.sampling, len(it.frames), PROC.seq_len)
            batch = torch.stack([load_clip([it.frames[i] for i in c], SIZE) for c in clips])
            out.append(adapter.forward_features(batch).mean(dim=0).numpy())
    return np.stack(out)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_extraction_batched(benchmark, items, backbone):
    torch.manual_seed(0)
    adapter = FramePool(backbone).eval()
    feats = benchmark.pedantic(lambda: extract_features(adapter, items, procedure=PROC,
                                                        batch_size=32)[0], rounds=3)
    ref = per_tracklet_loop(adapter, items[:5])
    np.testing.assert_allclose(feats[:5], ref, rtol=1e-3, atol=1e-4)
    benchmark.extra_info["frames"] = _frames(items)
    benchmark.extra_info["frames_per_s"] = _frames(items) / benchmark.stats.stats.median


@pytest.mark.parametrize("backbone", BACKBONES)
def test_extraction_per_tracklet_loop(benchmark, items, backbone):
    torch.manual_seed(0)
    adapter = FramePool(backbone).eval()
    benchmark.pedantic(lambda: per_tracklet_loop(adapter, items), rounds=3)
    benchmark.extra_info["frames"] = _frames(items)
    benchmark.extra_info["frames_per_s"] = _frames(items) / benchmark.stats.stats.median
