"""DenseIL (He et al. ICCV 2021): PPool, STEP-Emb, dense attention over every scale, training
stages, shapes and checkpoint round trip."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from reidbench.adapters import get_adapter, load_checkpoint, save_checkpoint
from reidbench.errors import CheckpointError, InputError
from reidbench.protocols import Procedure
from reidbench_baselines.denseil import DenseILAdapter, DIDecoder, STEPEmb, pyramid_pool
from reidbench_baselines.denseil.adapter import random_frozen_encoder
from reidbench_baselines.denseil.decoder import MultiHeadAttention
from reidbench_baselines.denseil.model import DenseILConfig

TINY = dict(dim=16, heads=2)


def test_pyramid_pool_by_hand() -> None:
    fmap = torch.arange(8.0).view(1, 1, 4, 2)  # rows (0,1) (2,3) (4,5) (6,7)
    tokens = pyramid_pool(fmap, (1, 2, 4))
    expected = [3.5, 1.5, 5.5, 0.5, 2.5, 4.5, 6.5]
    assert tokens.shape == (1, 7, 1)
    torch.testing.assert_close(tokens[0, :, 0], torch.tensor(expected))


def test_step_emb_is_frame_plus_strip() -> None:
    emb = STEPEmb(dim=3, num_scales=2, tokens_per_frame=4, max_frames=5)
    out = emb(scale=1, frames=3)
    assert out.shape == (12, 3)
    torch.testing.assert_close(out[2 * 4 + 1], emb.temporal[2] + emb.spatial[1, 1])
    with pytest.raises(InputError, match="at most 5 frames"):
        emb(scale=0, frames=6)


def test_attention_weights_match_a_direct_computation() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(dim=4, heads=2).eval()
    q, k = torch.randn(1, 3, 4), torch.randn(1, 5, 4)
    out, w = mha(q, k, k)
    qh = mha.q(q).view(1, 3, 2, 2).transpose(1, 2)
    kh = mha.k(k).view(1, 5, 2, 2).transpose(1, 2)
    vh = mha.v(k).view(1, 5, 2, 2).transpose(1, 2)
    direct_w = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(2), dim=-1)
    torch.testing.assert_close(w, direct_w)
    torch.testing.assert_close(out, mha.out((direct_w @ vh).transpose(1, 2).reshape(1, 3, 4)))


@pytest.mark.parametrize("step_mode", ["input", "qk"])
def test_decoder_attends_to_every_scale_it_is_given(step_mode: str) -> None:
    torch.manual_seed(0)
    dec = DIDecoder([12, 6, 4], dim=8, heads=2, layers=3, granularities=(1, 2),
                    max_frames=2, dropout=0.0, step_mode=step_mode).eval()
    maps = [torch.randn(4, 12, 2, 1), torch.randn(4, 6, 4, 2), torch.randn(4, 4, 8, 4)]
    out = dec(maps, frames=2)  # B = 2 clips of 2 frames, 3 tokens per frame and scale
    assert out["tokens"].shape == (2, 6, 8)
    for layer, (weights, sources) in enumerate(zip(out["attention"], out["memory_sources"],
                                                   strict=True)):
        names = [name for name, _ in sources]
        assert names == [f"X{i}" for i in range(layer + 1)] + ["scale1", "scale2"]
        assert weights.shape[-1] == sum(n for _, n in sources) == 6 * (layer + 3)
        torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)))
        start = 0
        for _, n in sources:  # every source receives attention mass
            assert weights[..., start:start + n].sum() > 0
            start += n
    # and every scale changes the output
    for s in range(3):
        changed = [m.clone() for m in maps]
        changed[s] = changed[s] + 1.0
        assert not torch.allclose(dec(changed, frames=2)["tokens"], out["tokens"])


def test_decoder_needs_one_map_per_scale() -> None:
    dec = DIDecoder([4, 4], dim=8, heads=2, layers=1, granularities=(1,), max_frames=2)
    with pytest.raises(InputError, match="2 scales"):
        dec([torch.randn(2, 4, 2, 2)], frames=2)


@pytest.fixture(scope="module")
def small() -> DenseILAdapter:
    torch.manual_seed(0)
    return DenseILAdapter(num_classes=4, backbone="small", **TINY).eval()


def test_small_backbone_shapes(small: DenseILAdapter) -> None:
    out = small.model(torch.randn(2, 8, 3, 64, 32))
    assert out["features"].shape == (2, 16) and out["logits"].shape == (2, 4)
    assert out["attention"][0].shape == (2, 2, 8 * 15, 3 * 8 * 15)


def test_frozen_encoder_stage_two() -> None:
    torch.manual_seed(0)
    ad = DenseILAdapter(num_classes=3, backbone="small", **TINY).train()
    assert not ad.model.encoder.training and ad.model.decoder.training
    with pytest.warns(UserWarning, match="random"):
        loss, logs = ad.training_loss(torch.randn(4, 8, 3, 64, 32), torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert set(logs) == {"ce", "triplet"}
    assert all(p.grad is None for p in ad.model.encoder.parameters())
    decoder_grads = [p.grad for p in ad.model.decoder.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in decoder_grads)
    assert ad.model.decoder.step.temporal.grad.abs().sum() > 0


def test_training_on_a_random_frozen_encoder_warns_once() -> None:
    ad = DenseILAdapter(num_classes=3, backbone="small", **TINY)
    with pytest.warns(UserWarning, match="frozen, randomly initialised") as caught:
        ad.prepare_training()  # what reidbench train calls before the first step
        ad.prepare_training()
    assert len(caught) == 1
    assert "stage" in str(caught[0].message) and "encoder_init" in str(caught[0].message)


@pytest.mark.parametrize("options", [{"stage": "encoder"}, {"freeze_encoder": False},
                                     {"pretrained": "weights.pth"},
                                     {"encoder_init": "stage1.safetensors"}])
def test_no_warning_when_the_encoder_is_trained_or_initialised(options: dict) -> None:
    cfg = DenseILConfig(backbone="small", **options)
    assert not random_frozen_encoder(cfg)
    assert random_frozen_encoder(DenseILConfig(backbone="small"))


def test_no_warning_with_a_stage_one_checkpoint(tmp_path) -> None:
    stage1 = DenseILAdapter(num_classes=3, backbone="small", stage="encoder", **TINY)
    path = tmp_path / "stage1.safetensors"
    save_checkpoint(path, stage1.model.state_dict(), {"baseline": "denseil",
                                                      "config": stage1.config})
    stage2 = DenseILAdapter(num_classes=3, backbone="small", encoder_init=str(path), **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stage2.prepare_training()
        stage1.prepare_training()


def test_two_stage_training_hands_the_encoder_over(tmp_path) -> None:
    torch.manual_seed(0)
    stage1 = DenseILAdapter(num_classes=3, backbone="small", stage="encoder", **TINY).train()
    loss, _ = stage1.training_loss(torch.randn(4, 8, 3, 64, 32), torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert stage1.model.encoder.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in stage1.model.decoder.parameters())
    with torch.no_grad():
        stage1.model.encoder.conv1.weight.add_(1.0)
    path = tmp_path / "stage1.safetensors"
    save_checkpoint(path, stage1.model.state_dict(), {"baseline": "denseil",
                                                      "config": stage1.config})
    stage2 = DenseILAdapter(num_classes=3, backbone="small", encoder_init=str(path), **TINY)
    assert not torch.equal(stage2.model.encoder.conv1.weight, stage1.model.encoder.conv1.weight)
    stage2.train().training_loss(torch.randn(4, 8, 3, 64, 32), torch.tensor([0, 0, 1, 1]))
    torch.testing.assert_close(stage2.model.encoder.conv1.weight,
                               stage1.model.encoder.conv1.weight)
    wrong = DenseILAdapter(num_classes=3, backbone="resnet18", encoder_init=str(path), **TINY)
    with pytest.raises(CheckpointError, match="encoder_init"):
        wrong.prepare_training()


def test_full_backbone_paper_input() -> None:
    torch.manual_seed(0)
    ad = DenseILAdapter(num_classes=0).eval()
    with torch.inference_mode():
        out = ad.model(torch.randn(1, 8, 3, 256, 128))
    assert out["features"].shape == (1, 2048)
    # 8 frames x 15 strips per scale; block 2 reads X0, X1, conv4_x and conv3_x tokens
    assert out["attention"][1].shape == (1, 8, 120, 4 * 120)


def test_checkpoint_round_trip(tmp_path, small: DenseILAdapter) -> None:
    clips = torch.randn(2, 8, 3, 64, 32)
    before = small.embed_clips(clips)
    path = tmp_path / "denseil.safetensors"
    save_checkpoint(path, small.model.state_dict(), {"baseline": "denseil",
                                                     "config": small.config})
    again = get_adapter("denseil", **load_checkpoint(path).meta["config"])
    again.load_checkpoint(str(path))
    torch.testing.assert_close(again.eval().embed_clips(clips), before)
    proc = again.procedure(Procedure(sampling="all_clips", seq_len=4))
    assert (proc.sampling, proc.seq_len, proc.distance) == ("rrs", 8, "cosine")
