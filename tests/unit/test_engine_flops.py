"""FLOPs of one forward pass, recorded in result records and plotted against mAP."""

from dataclasses import replace

import pytest
import torch
from test_report_fixtures import record_dict

from reidbench.adapters import AdapterCard, ModuleAdapter
from reidbench.engine.flops import forward_gflops
from reidbench.protocols import Procedure
from reidbench.records import EvalResult, ResultRecord, SourceRecord
from reidbench.report.curves import cost_points


class FrameLinear(ModuleAdapter):
    """Per frame: flatten (3 x 4 x 2 = 24 values) -> Linear(24, 5); mean over frames."""

    card = AdapterCard(name="frame-linear")

    def __init__(self):
        super().__init__(torch.nn.Linear(24, 5))

    def forward_features(self, clips):
        b, t = clips.shape[:2]
        return self.model(clips.flatten(2)).view(b, t, -1).mean(1)


def test_a_linear_layer_costs_two_flops_per_multiply_add():
    proc = Procedure(seq_len=3, input_size=(4, 2))
    adapter = FrameLinear()
    adapter.model.train()
    cost = forward_gflops(adapter, proc, mode="i2v")
    assert cost["gflops_per_clip"] == pytest.approx(2 * 3 * 24 * 5 / 1e9)  # 3 frames
    assert cost["gflops_per_image"] == pytest.approx(2 * 24 * 5 / 1e9)
    assert cost["clip_shape"] == [1, 3, 3, 4, 2] and "FlopCounterMode" in cost["flops_counter"]
    assert adapter.model.training  # the count leaves the model's mode as it was


def test_v2v_has_no_image_cost_and_an_adapter_without_a_model_has_none():
    assert "gflops_per_image" not in forward_gflops(FrameLinear(), Procedure(input_size=(4, 2)))

    class NoModel:
        pass

    assert forward_gflops(NoModel(), Procedure()) == {}


def test_a_failing_count_is_left_out_not_raised():
    class Broken(FrameLinear):
        def forward_features(self, clips):
            raise RuntimeError("boom")

    assert forward_gflops(Broken(), Procedure(input_size=(4, 2))) == {}


def _result(source, map_value):
    rec = ResultRecord.from_json(record_dict(map_value=map_value))
    return EvalResult(replace(rec, source=SourceRecord.from_json(source)), {})


def test_cost_points_use_the_recorded_gflops():
    adapter = {"name": "m", "cost": {"gflops_per_clip": 4.2}}
    with_cost = _result({"kind": "adapter", "adapter": adapter}, 0.5)
    without = _result({"kind": "adapter", "adapter": {**adapter, "cost": {}}}, 0.6)
    features = _result({"kind": "features", "adapter": None}, 0.7)
    pts = cost_points([("a", with_cost), ("b", without), ("c", features)], "flops")
    assert pts == [{"label": "a", "mAP": 50.0, "cost": 4.2}]
