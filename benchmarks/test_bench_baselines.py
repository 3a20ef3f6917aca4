"""Training steps/s and inference clips/s of every registered baseline (small backbone, CPU).

One training step = forward + loss + backward + Adam step on a P x K = 4 x 4 batch of clips;
inference = ``embed_clips`` on a batch of 16 clips; READ's pairwise scorer is also timed as scored
pairs/s.
128 x 64 frames. Set REIDBENCH_BENCH_R50=1 for the paper's ResNet-50 at 256 x 128 (slow on CPU;
meant for a GPU machine, ``REIDBENCH_BENCH_DEVICE=cuda``).
"""

from __future__ import annotations

import inspect
import os

import pytest
import torch

from reidbench.adapters import TrainableAdapter, adapter_class, get_adapter, list_adapters

DEVICE = os.environ.get("REIDBENCH_BENCH_DEVICE", "cpu")
CONFIGS = [("small", (128, 64))]
if os.environ.get("REIDBENCH_BENCH_R50"):
    CONFIGS.append(("resnet50", (256, 128)))
CASES = [(n, b, s) for n in list_adapters() for b, s in CONFIGS]


def _build(name: str, backbone: str, size: tuple[int, int]):
    params = inspect.signature(adapter_class(name).__init__).parameters
    opts = {"num_classes": 8, "backbone": backbone}
    if name in ("cosam", "read") or "input_size" in params:
        opts["input_size"] = size
    return get_adapter(name, **opts).to(DEVICE)


def _clips(adapter, batch: int, size: tuple[int, int]) -> torch.Tensor:
    t = adapter.recipe.seq_len if isinstance(adapter, TrainableAdapter) else 4
    return torch.randn(batch, t, 3, *size, device=DEVICE)


@pytest.mark.parametrize(("name", "backbone", "size"), CASES)
def test_training_steps(benchmark, name, backbone, size):
    a = _build(name, backbone, size).train()
    if hasattr(a, "prepare_training"):
        a.prepare_training()
    opt = torch.optim.Adam([p for p in a.model.parameters() if p.requires_grad], lr=1e-4)
    clips = _clips(a, 16, size)
    pids = torch.arange(4, device=DEVICE).repeat_interleave(4)

    def step():
        loss, _ = a.training_loss(clips, pids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    benchmark.pedantic(step, rounds=3, warmup_rounds=1)
    benchmark.extra_info["steps_per_s"] = 1.0 / benchmark.stats.stats.median


@pytest.mark.parametrize(("name", "backbone", "size"), CASES)
def test_inference_clips(benchmark, name, backbone, size):
    a = _build(name, backbone, size).eval()
    clips = _clips(a, 16, size)
    benchmark.pedantic(lambda: a.embed_clips(clips), rounds=3, warmup_rounds=1)
    benchmark.extra_info["clips_per_s"] = 16 / benchmark.stats.stats.median


@pytest.mark.parametrize(("backbone", "size"), CONFIGS)
def test_read_scored_pairs(benchmark, backbone, size):
    if "read" not in list_adapters():
        pytest.skip("READ is not installed")
    a = _build("read", backbone, size).eval()
    clips = _clips(a, 16, size)
    with torch.inference_mode():
        gallery = a.embed_clips(clips)
        queries = a.embed_images(clips[:8, 0])
    benchmark.pedantic(lambda: a.score(queries, gallery), rounds=3, warmup_rounds=1)
    benchmark.extra_info["pairs_per_s"] = 8 * 16 / benchmark.stats.stats.median
