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


class _Mixed(torch.nn.Module):
    """Every counted ONNX operator: Conv (grouped), ConvTranspose, MatMul (3-D linear and
    batched products), Einsum, Gemm; plus pooling and element-wise ops that are not counted."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.group = torch.nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.up = torch.nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.q = torch.nn.Linear(4, 6)
        self.mix = torch.nn.Parameter(torch.randn(6, 5))
        self.fc = torch.nn.Linear(5, 7)

    def forward(self, x):
        h = self.up(torch.relu(self.group(self.conv(x))))
        tok = self.q(torch.nn.functional.max_pool2d(h, 2).flatten(2).transpose(1, 2))
        att = torch.softmax(tok @ tok.transpose(1, 2), dim=-1) @ tok
        return self.fc(torch.einsum("bsd,de->be", att, self.mix))


def _onnx(net, shape):
    import io
    import warnings

    import onnx

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(*shape),), buf, dynamo=False, opset_version=17,
                          input_names=["x"], dynamic_axes={"x": {0: "n"}})
    return onnx.load_from_string(buf.getvalue())


def test_an_onnx_graph_counts_what_torch_counts_for_the_same_network():
    from torch.utils.flop_counter import FlopCounterMode

    from reidbench.engine.onnx_flops import onnx_graph_flops

    torch.manual_seed(0)
    net = _Mixed().eval()
    model = _onnx(net, (2, 3, 16, 8))
    assert {"Conv", "ConvTranspose", "MatMul", "Einsum", "Gemm"} <= {
        n.op_type for n in model.graph.node}
    for n in (1, 3):
        with FlopCounterMode(display=False) as counter:
            net(torch.zeros(n, 3, 16, 8))
        assert onnx_graph_flops(model, (n, 3, 16, 8)) == counter.get_total_flops() > 0
    # the 1x1 convolution by hand: 2 FLOPs per multiply-add, per output position
    conv = _onnx(torch.nn.Conv2d(3, 5, 1, bias=False), (1, 3, 4, 2))
    assert onnx_graph_flops(conv, (2, 3, 4, 2)) == 2 * 2 * 5 * 3 * 4 * 2


class _ThreeWay(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(4, 3))
        self.b = torch.nn.Parameter(torch.randn(3, 2))

    def forward(self, x):
        return torch.einsum("ni,ij,jk->nk", x, self.a, self.b)


def test_an_onnx_graph_the_count_cannot_see_through_is_not_counted():
    from reidbench.engine.onnx_flops import onnx_graph_flops

    model = _onnx(_ThreeWay(), (2, 4))
    assert onnx_graph_flops(model, (2, 4)) is None  # three operands: the path is torch's choice
    assert onnx_graph_flops(model, (2, 4, 1)) is None  # not the input's rank
