"""READ's memory layout: the official reader's flattening, checked against its equations."""

from __future__ import annotations

import pytest
import torch

from reidbench_baselines.read.discriminator import (
    ReciprocalAttentionDiscriminator,
    attend,
    code_memory_slots,
)


def _official_reader(q_key, q_value, m_key, m_value):
    """The official NonLocalBlock.forward (minostauros/READ model/NonLocalBlock.py), in words.

    Query maps keep their frame axis and are read per position; the memory maps
    ``(Bm, Tm, C, H, W)`` are viewed as ``(Bm, 1, C, Tm H W)`` without a permute. Returns the
    read-out ``(Bq, Bm, Tq, Cv, H, W)``.
    """
    bq, tq, ck, h, w = q_key.shape
    bm, cv = m_key.shape[0], m_value.shape[2]
    q = q_key.reshape(bq, tq, ck, -1).transpose(2, 3).unsqueeze(1)  # Bq x 1 x Tq x HW x Ck
    att = (q @ m_key.reshape(bm, 1, ck, -1)).softmax(dim=-1)  # Bq x Bm x Tq x HW x TmHW
    mv = m_value.reshape(bm, 1, cv, -1).transpose(2, 3)  # Bm x 1 x TmHW x Cv
    return (att @ mv).transpose(3, 4).reshape(bq, bm, tq, cv, h, w)


def _tokens(maps):
    """``(B, T, C, H, W)`` maps -> frame-major tokens ``(B, T H W, C)`` (reidbench's layout)."""
    b, t, c = maps.shape[:3]
    return maps.permute(0, 1, 3, 4, 2).reshape(b, -1, c)


@pytest.mark.parametrize("t", [1, 3])
def test_code_layout_equals_the_official_reader(t):
    torch.manual_seed(0)
    h, w, ck, cv = 2, 3, 4, 5
    qk, qv = torch.randn(2, 1, ck, h, w), torch.randn(2, 1, cv, h, w)
    mk, mv = torch.randn(3, t, ck, h, w), torch.randn(3, t, cv, h, w)
    want = _official_reader(qk, qv, mk, mv)[:, :, 0]  # (Bq, Bm, Cv, H, W)
    disc = ReciprocalAttentionDiscriminator(cv, h * w, hidden=4, memory_layout="code")
    k_img = _tokens(qk)
    readout, _ = attend(k_img, *disc.memory(_tokens(mk), _tokens(mv)))  # (Bq, Bm, P, Cv)
    got = readout.transpose(-1, -2).reshape(want.shape)
    assert torch.allclose(got, want, atol=1e-5)
    frames = ReciprocalAttentionDiscriminator(cv, h * w, hidden=4, memory_layout="frames")
    per_frame, _ = attend(k_img, *frames.memory(_tokens(mk), _tokens(mv)))
    assert torch.allclose(per_frame, readout, atol=1e-6) == (t == 1)  # same only for one frame


def test_code_slots_by_hand():
    # T = 2 frames, P = 2 positions, C = 2 channels: frame-major tokens [t][p][c] = 100t+10p+c
    x = torch.tensor([[[0.0, 1.0], [10.0, 11.0], [100.0, 101.0], [110.0, 111.0]]])
    # the (T, C, P) map flattened: 0 10 1 11 100 110 101 111, read as (C=2, TP=4):
    # channel 0 = [0 10 1 11], channel 1 = [100 110 101 111]; slot j = (ch0[j], ch1[j])
    want = torch.tensor([[[0.0, 100.0], [10.0, 110.0], [1.0, 101.0], [11.0, 111.0]]])
    assert torch.equal(code_memory_slots(x, positions=2), want)


def test_checkpoints_written_before_memory_layout_keep_per_frame_slots():
    from reidbench_baselines.read import READAdapter

    assert READAdapter.checkpoint_config({"seq_len": 4})["memory_layout"] == "frames"
    assert READAdapter.checkpoint_config({"memory_layout": "code"}) == {"memory_layout": "code"}
    assert READAdapter(backbone="small", input_size=(64, 32)).cfg.memory_layout == "code"


def test_bgr_input_is_the_released_code_normalisation():
    """MARSLoader.py: OpenCV BGR frames normalised with the RGB ImageNet mean and std."""
    from reidbench_baselines.read import READAdapter

    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    rgb = torch.rand(2, 3, 64, 32)
    ours = (rgb - mean[:, None, None]) / std[:, None, None]  # what reidbench feeds
    bgr = rgb.flip(1)
    want = (bgr - mean[:, None, None]) / std[:, None, None]
    model = READAdapter(backbone="small", input_size=(64, 32), bgr_input=True).model
    assert torch.allclose(model._input(ours), want, atol=1e-6)
    plain = READAdapter(backbone="small", input_size=(64, 32)).model
    assert plain._input(ours) is ours
