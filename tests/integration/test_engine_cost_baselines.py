"""Result records of small baselines carry their forward cost, and the cost scatter reads it."""

import math

import pytest

from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine import AdapterSource, evaluate
from reidbench.report.curves import cost_points

SIZE = (64, 32)


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    return write_dataset("mars", tmp_path_factory.mktemp("cost") / "MARS", ids=6, seed=11,
                         config=SynthConfig(height=SIZE[0], width=SIZE[1], min_len=3, max_len=8,
                                            median_len=5.0)).root


def test_a_small_video_baseline_records_gflops_per_clip(mars):
    res = evaluate("mars/v2v@1", mars, AdapterSource("stan", None, {"backbone": "small",
                                                                    "num_classes": 4}),
                   procedure={"input_size": SIZE}, bootstrap=0)
    cost = res.record.source.adapter.cost
    seq_len = res.record.procedure["seq_len"]
    assert cost["clip_shape"] == (1, seq_len, 3, *SIZE)
    assert math.isfinite(cost["gflops_per_clip"]) and cost["gflops_per_clip"] > 0
    assert "gflops_per_image" not in cost and "note" not in cost
    [point] = cost_points([("stan", res)], "flops")
    assert point["cost"] == cost["gflops_per_clip"]


def test_read_records_its_embedding_cost_and_says_the_scorer_is_left_out(mars):
    # Table S1 variant: gallery frames go through the image network, so a T-frame clip costs
    # exactly T query images.
    config = {"backbone": "small", "input_size": SIZE, "non_local": False, "num_classes": 4}
    res = evaluate("mars/i2v@1", mars, AdapterSource("read", None, config),
                   procedure={"input_size": SIZE}, bootstrap=0)
    cost = res.record.source.adapter.cost
    seq_len = res.record.procedure["seq_len"]
    assert cost["gflops_per_image"] > 0
    assert cost["gflops_per_clip"] == pytest.approx(seq_len * cost["gflops_per_image"], rel=1e-9)
    assert "scorer" in cost["note"]
