"""forward_gflops: hand-counted convolutions, state left as it was, adapters it cannot count."""

import pytest
import torch

from reidbench.adapters import Adapter, AdapterCard, ModuleAdapter
from reidbench.engine.flops import SCORER_NOTE, forward_gflops
from reidbench.protocols import Procedure


class FrameConv(ModuleAdapter):
    """Per frame: Conv2d(3 -> 4, 3x3, padding 1) with a BatchNorm and dropout; mean over all."""

    card = AdapterCard(name="frame-conv")

    def __init__(self):
        super().__init__(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1),
                                             torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.5)))

    def forward_features(self, clips):
        b, t = clips.shape[:2]
        return self.model(clips.flatten(0, 1)).view(b, t, 4, -1).mean((1, 3))


def test_a_convolution_costs_two_flops_per_multiply_add():
    # per frame: 4 output channels x (5 x 3) positions, each 3 channels x 3 x 3 multiply-adds
    per_frame = 2 * (4 * 5 * 3) * (3 * 3 * 3)
    cost = forward_gflops(FrameConv(), Procedure(seq_len=2, input_size=(5, 3)), mode="i2v")
    assert cost["gflops_per_clip"] == pytest.approx(2 * per_frame / 1e9, rel=1e-12)
    assert cost["gflops_per_image"] == pytest.approx(per_frame / 1e9, rel=1e-12)
    assert cost["clip_shape"] == [1, 2, 3, 5, 3]
    assert "note" not in cost


def test_the_count_leaves_modes_weights_statistics_and_rng_as_they_were():
    adapter = FrameConv()
    adapter.model.train()
    adapter.model[1].eval()  # e.g. a frozen BatchNorm inside a training model
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    torch.manual_seed(5)
    expected_draw = torch.rand(3)
    torch.manual_seed(5)
    assert forward_gflops(adapter, Procedure(seq_len=2, input_size=(5, 3)))["gflops_per_clip"] > 0
    assert torch.equal(torch.rand(3), expected_draw)
    assert [m.training for m in adapter.model.modules()] == [True, True, False, True]
    after = adapter.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running stats included


def test_a_pairwise_scorer_records_that_its_scorer_is_not_counted():
    class Scorer(FrameConv):
        uses_scorer = True

    cost = forward_gflops(Scorer(), Procedure(seq_len=1, input_size=(5, 3)))
    assert cost["note"] == SCORER_NOTE and cost["gflops_per_clip"] > 0


def test_an_adapter_that_is_not_a_torch_module_records_no_cost():
    class Plain(Adapter):
        card = AdapterCard(name="plain")

        def embed_clips(self, clips):
            return clips.flatten(1)

    class OddModel(Plain):
        model = object()  # a "model" without parameters(): counted as failing, not raised

    assert forward_gflops(Plain(), Procedure()) == {}
    assert forward_gflops(OddModel(), Procedure()) == {}


def test_a_clip_the_model_cannot_take_gives_no_cost():
    class Fixed(ModuleAdapter):
        card = AdapterCard(name="fixed")

        def __init__(self):
            super().__init__(torch.nn.Linear(2 * 3 * 5 * 3, 4))

        def forward_features(self, clips):
            return self.model(clips.flatten(1))  # only (1, 2, 3, 5, 3) clips fit

    assert forward_gflops(Fixed(), Procedure(seq_len=2, input_size=(5, 3)))["gflops_per_clip"] > 0
    assert forward_gflops(Fixed(), Procedure(seq_len=2, input_size=(6, 3))) == {}
