"""The same network through PyTorch (eager, CPU) and through onnxruntime (CPU), side by side.

A frame model as ``reidbench evaluate --model`` runs it: the ``small`` ResNet backbone of the
baselines with global average pooling and a BNNeck, at 256x128, batches of 32 frames. Only the
forward pass is timed (decoding is the same for both); the figure is frames/s. The ONNX file is
exported once with ``torch.onnx.export(dynamo=False)``, as ``reidbench export`` does, and the two
outputs are checked to agree (max abs difference <= 1e-4) before timing.
Set REIDBENCH_BENCH_R50=1 to add ResNet-50.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

SIZE = (256, 128)
BATCH = 32
BACKBONES = ["small"] + (["resnet50"] if os.environ.get("REIDBENCH_BENCH_R50") else [])


class FrameNet(torch.nn.Module):
    """Backbone, global average pooling, BNNeck: an image re-ID network."""

    def __init__(self, backbone: str) -> None:
        from reidbench_baselines.common import build_backbone

        super().__init__()
        self.trunk = build_backbone(backbone)
        dim = self.trunk(torch.zeros(1, 3, 64, 32)).shape[1]
        self.neck = torch.nn.BatchNorm1d(dim)

    def forward(self, x):
        return self.neck(self.trunk(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module", params=BACKBONES)
def nets(request, tmp_path_factory):
    import onnxruntime as ort

    torch.manual_seed(0)
    net = FrameNet(request.param).eval()
    path = tmp_path_factory.mktemp("onnx") / "net.onnx"
    x = torch.randn(BATCH, 3, *SIZE)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["input"],
                          output_names=["features"], opset_version=17,
                          dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}})
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()  # the same threads for both runtimes
    sess = ort.InferenceSession(str(path), sess_options=opts,
                                providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        want = net(x).numpy()
    got = sess.run(None, {"input": x.numpy()})[0]
    assert np.abs(want - got).max() <= 1e-4
    return request.param, net, sess, x


def test_pytorch_frames_per_second(benchmark, nets):
    name, net, _, x = nets
    benchmark.group = f"model file forward, {name} {SIZE[0]}x{SIZE[1]}, {BATCH} frames"

    def run():
        with torch.inference_mode():
            return net(x)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    benchmark.extra_info.update(runtime=f"torch {torch.__version__} eager",
                                threads=torch.get_num_threads(),
                                frames_per_second=BATCH / benchmark.stats.stats.median)


def test_onnxruntime_frames_per_second(benchmark, nets):
    import onnxruntime as ort

    name, _, sess, x = nets
    benchmark.group = f"model file forward, {name} {SIZE[0]}x{SIZE[1]}, {BATCH} frames"
    arr = x.numpy()
    benchmark.pedantic(lambda: sess.run(None, {"input": arr}), rounds=5, warmup_rounds=1)
    benchmark.extra_info.update(runtime=f"onnxruntime {ort.__version__} CPU",
                                threads=torch.get_num_threads(),
                                frames_per_second=BATCH / benchmark.stats.stats.median)
