"""READ (Shim et al. ECCV 2020): discriminator equations, batching, scoring, losses, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reidbench.adapters import get_adapter, load_checkpoint, save_checkpoint
from reidbench.errors import InputError
from reidbench_baselines.common import NonLocalBlock, batch_hard_triplet
from reidbench_baselines.read import (
    RATL_MARGINS,
    READAdapter,
    READConfig,
    ReciprocalAttentionDiscriminator,
    attend,
    pair_loss,
    ratl_feature,
    ratl_logit,
)

TINY = dict(input_size=(64, 32), key_dim=8, value_dim=16, hidden=32)


def test_attend_equals_a_direct_loop() -> None:
    torch.manual_seed(0)
    k_img, k_vid, v_vid = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    readout, att = attend(k_img, k_vid, v_vid)
    for q in range(2):
        for g in range(2):
            for p in range(3):
                s = np.array([float(k_img[q, p] @ k_vid[g, m]) for m in range(5)])
                a = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
                np.testing.assert_allclose(att[q, g, p].numpy(), a, rtol=1e-5)
                r = sum(a[m] * v_vid[g, m].numpy() for m in range(5))
                np.testing.assert_allclose(readout[q, g, p].numpy(), r, rtol=1e-5, atol=1e-6)


def test_discriminator_equals_mlp_on_flattened_concat() -> None:
    torch.manual_seed(0)
    disc = ReciprocalAttentionDiscriminator(value_dim=3, positions=2, hidden=5, out_size=2)
    k_i, v_i = torch.randn(1, 2, 4), torch.randn(1, 2, 3)
    k_v, v_v = torch.randn(1, 6, 4), torch.randn(1, 6, 3)
    out = disc(k_i, v_i, k_v, v_v)
    r = out["readout"][0, 0]  # (P, Cv)
    z = torch.cat([v_i[0].t(), r.t()], dim=0).flatten()  # [v_I ; r] as a (2 Cv) x P map
    expected = disc.fc2(torch.relu(disc.fc1(z)))
    torch.testing.assert_close(out["logits"][0, 0], expected)
    torch.testing.assert_close(out["hidden"][0, 0], torch.relu(disc.fc1(z)))


def test_pair_score_equals_scoring_the_pair_alone() -> None:
    torch.manual_seed(0)
    disc = ReciprocalAttentionDiscriminator(value_dim=3, positions=2, hidden=5).eval()
    k_i, v_i = torch.randn(4, 2, 4), torch.randn(4, 2, 3)
    k_v, v_v = torch.randn(5, 6, 4), torch.randn(5, 6, 3)
    batch = disc(k_i, v_i, k_v, v_v)["logits"]
    alone = disc(k_i[2:3], v_i[2:3], k_v[3:4], v_v[3:4])["logits"]
    torch.testing.assert_close(batch[2, 3], alone[0, 0])


@pytest.fixture(scope="module")
def small() -> READAdapter:
    torch.manual_seed(0)
    return READAdapter(num_classes=4, backbone="small", **TINY).eval()


def test_small_backbone_shapes_and_scoring(small: READAdapter) -> None:
    clips = torch.randn(3, 4, 3, 64, 32)
    gallery = small.embed_clips(clips)
    query = small.embed_images(clips[:, 0])
    p = 4 * 2  # 64 x 32 at stride 16
    assert small.model.positions == p
    assert query.shape == (3, p * (8 + 16)) and gallery.shape == (3, 4 * p * (8 + 16))
    scores = small.score(query, gallery)
    assert scores.shape == (3, 3) and torch.isfinite(scores).all()
    # one pair scored alone equals the same pair inside the batch
    torch.testing.assert_close(small.score(query[1:2], gallery[2:3])[0, 0], scores[1, 2])
    # gallery chunking (tiny budget: one gallery item per chunk) changes nothing
    chunked = READAdapter(num_classes=4, backbone="small", score_budget=1, **TINY)
    chunked.model.load_state_dict(small.model.state_dict())
    torch.testing.assert_close(chunked.eval().score(query, gallery), scores)
    # the engine's score equals the discriminator's "same" logit on the unpacked maps
    k_q, v_q = small.model.unpack(query, "q")
    k_g, v_g = small.model.unpack(gallery, "g")
    with torch.inference_mode():
        direct = small.model.discriminator(k_q, v_q, k_g, v_g)["logits"][..., 1]
    torch.testing.assert_close(scores, direct)


def test_multi_frame_query_averages_its_frames(small: READAdapter) -> None:
    clips = torch.randn(2, 4, 3, 64, 32)
    gallery = small.embed_clips(clips)
    frames = torch.stack([small.embed_images(clips[0, t:t + 1])[0] for t in range(2)])
    per_frame = small.score(frames, gallery)
    k, v = small.model.unpack(frames, "q")
    two_frame = small.model.pack(k.reshape(1, -1, 8), v.reshape(1, -1, 16))
    torch.testing.assert_close(small.score(two_frame, gallery)[0], per_frame.mean(0))


def test_bad_representation_and_input_size(small: READAdapter) -> None:
    with pytest.raises(InputError, match="query_repr"):
        small.score(torch.zeros(1, 7), torch.zeros(1, 4 * 8 * 24))
    with pytest.raises(InputError, match="64 x 32"):
        small.embed_clips(torch.randn(1, 4, 3, 32, 32))


def test_tracking_variant_embeds_each_frame_with_the_image_network() -> None:
    torch.manual_seed(0)
    ad = READAdapter(num_classes=2, backbone="small", non_local=False, **TINY).eval()
    assert ad.model.video_net is None
    clip = torch.randn(1, 3, 3, 64, 32)
    k_v, v_v = ad.model.unpack(ad.embed_clips(clip), "g")
    for t in range(3):
        k_i, v_i = ad.model.unpack(ad.embed_images(clip[:, t]), "q")
        torch.testing.assert_close(k_v[:, 8 * t:8 * (t + 1)], k_i)
        torch.testing.assert_close(v_v[:, 8 * t:8 * (t + 1)], v_i)


def test_video_network_starts_as_the_image_network() -> None:
    clip = torch.randn(2, 3, 3, 64, 32)
    for init, equal in (("image", True), ("independent", False)):
        torch.manual_seed(0)
        ad = READAdapter(num_classes=2, backbone="small", video_init=init, **TINY).eval()
        with torch.inference_mode():
            k_v, v_v = ad.model.encode_videos(clip)
            k_i, v_i = ad.model.image_net(clip.flatten(0, 1), 3)  # per frame, no non-local
        assert torch.allclose(k_v, k_i) == equal and torch.allclose(v_v, v_i) == equal
    assert ad.model.video_net.nl3  # the non-local blocks are there, identities at init


def test_procedure_input_size_follows_the_config() -> None:
    from reidbench.protocols import get_protocol

    default = get_protocol("mars/i2v@1").procedure
    assert tuple(default.input_size) == (256, 128)
    ad = READAdapter(num_classes=2, backbone="small", **TINY)
    proc = ad.procedure(default)
    assert tuple(proc.input_size) == (64, 32)
    assert proc.sampling == "rrs" and proc.seq_len == 4


class _MoveSpy(torch.Tensor):
    """A tensor that records how many rows each ``.to`` call moves."""

    rows: list[int] = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.to:
            cls.rows.append(args[0].shape[0])
        return super().__torch_function__(func, types, args, kwargs or {})


def test_score_moves_the_gallery_one_chunk_at_a_time(small: READAdapter) -> None:
    clips = torch.randn(5, 4, 3, 64, 32)
    gallery, query = small.embed_clips(clips), small.embed_images(clips[:, 0])
    full = small.score(query, gallery)
    tiny = READAdapter(num_classes=4, backbone="small", score_budget=1, **TINY)
    tiny.model.load_state_dict(small.model.state_dict())
    tiny.eval()
    assert tiny.gallery_chunk(5, 32) == 1
    _MoveSpy.rows = []
    chunked = tiny.score(query, gallery.as_subclass(_MoveSpy))
    torch.testing.assert_close(chunked.as_subclass(torch.Tensor), full)
    # keys and values of each one-item chunk are moved separately; never the whole gallery
    assert _MoveSpy.rows == [1] * 10


def test_image_network_batchnorm_affine_is_frozen(small: READAdapter) -> None:
    bns = [m for m in small.model.image_net.trunk.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(not m.weight.requires_grad and not m.bias.requires_grad for m in bns)
    assert small.model.image_net.key.weight.requires_grad


def test_pair_loss_by_hand() -> None:
    logits = torch.tensor([[[0.0, 1.0], [2.0, 0.0]]])  # one image, two videos
    same = torch.tensor([[True, False]])
    valid = torch.tensor([[True, True]])
    expected = (-math.log(math.e / (1 + math.e)) - math.log(math.exp(2) / (math.exp(2) + 1))) / 2
    assert pair_loss(logits, same, valid).item() == pytest.approx(expected, rel=1e-6)
    only_first = torch.tensor([[True, False]])
    assert pair_loss(logits, same, only_first).item() == pytest.approx(
        -math.log(math.e / (1 + math.e)), rel=1e-6)


def test_ratl_feature_by_hand() -> None:
    # one basis; images 0, 1 (id 0) at 0 and 1, image 2 (id 1) at 3
    feats = torch.tensor([[[0.0]], [[1.0]], [[3.0]]])  # (Q=3, G=1, D=1)
    labels = torch.tensor([0, 0, 1])
    valid = torch.ones(3, 1, dtype=torch.bool)
    # anchor 0: d_ap 1, d_an 3 -> 0; anchor 1: d_ap 1, d_an 2 -> 0.5; image 2: no positive
    loss = ratl_feature(feats, labels, valid, margin=1.5, normalize=False)
    expected = (max(1.5 + 1 - 3, 0) + max(1.5 + 1 - 2, 0)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # image 2 not allowed to read this basis: no anchor has a negative, the loss is zero
    valid2 = torch.tensor([[True], [True], [False]])
    assert ratl_feature(feats, labels, valid2, margin=1.5, normalize=False).item() == \
        pytest.approx(0.0, abs=1e-6)


def test_ratl_feature_normalised_by_hand_and_scale_free() -> None:
    # one basis, 2-D features: images 0, 1 (id 0) along x and at 90 degrees, image 2 (id 1) at -x
    feats = torch.tensor([[[3.0, 0.0]], [[0.0, 0.5]], [[-7.0, 0.0]]])
    labels = torch.tensor([0, 0, 1])
    valid = torch.ones(3, 1, dtype=torch.bool)
    # unit vectors: d(0,1) = sqrt(2), d(0,2) = 2, d(1,2) = sqrt(2)
    expected = (max(0.3 + math.sqrt(2) - 2, 0) + max(0.3 + math.sqrt(2) - math.sqrt(2), 0)) / 2
    loss = ratl_feature(feats, labels, valid, margin=0.3)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert ratl_feature(100 * feats, labels, valid, margin=0.3).item() == pytest.approx(
        expected, rel=1e-5)


def test_ratl_feature_equals_the_shared_triplet_per_basis() -> None:
    torch.manual_seed(0)
    feats, labels = torch.randn(12, 5, 7), torch.randint(0, 3, (12,))
    valid = torch.rand(12, 5) > 0.3
    for margin in (0.3, None):
        for normalize in (False, True):
            f = torch.nn.functional.normalize(feats, dim=-1) if normalize else feats
            loop = torch.stack([batch_hard_triplet(f[valid[:, g], g], labels[valid[:, g]], margin)
                                for g in range(5)]).mean()
            torch.testing.assert_close(ratl_feature(feats, labels, valid, margin, normalize), loop)


def test_ratl_margin_defaults_per_variant_and_is_recorded() -> None:
    assert READConfig().ratl_margin == RATL_MARGINS["feature"] == 0.3
    assert READConfig(ratl_variant="logit").ratl_margin == RATL_MARGINS["logit"] == 1.0
    assert READConfig(ratl_variant="logit", ratl_margin=2.5).ratl_margin == 2.5
    torch.manual_seed(0)
    ad = READAdapter(num_classes=2, backbone="small", ratl_variant="logit", **TINY).train()
    assert ad.config["ratl_margin"] == 1.0  # what checkpoints store
    clips, pids = torch.randn(4, 2, 3, 64, 32), torch.tensor([0, 0, 1, 1])
    _, logs = ad.training_loss(clips, pids)
    # the same forward by hand (train-mode BN uses batch statistics: deterministic)
    k_i, v_i = ad.model.encode_images(clips[:, :2].flatten(0, 1))
    out = ad.model.discriminator(k_i, v_i, *ad.model.encode_videos(clips))
    labels = pids.repeat_interleave(2)
    same = labels[:, None] == pids[None, :]
    valid = torch.arange(4).repeat_interleave(2)[:, None] != torch.arange(4)[None, :]
    s = out["logits"][..., -1]
    assert logs["ratl"] == pytest.approx(ratl_logit(s, same, valid, 1.0).item(), rel=1e-5)
    assert logs["ratl"] != pytest.approx(ratl_logit(s, same, valid, 0.3).item(), rel=1e-3)


def test_ratl_logit_by_hand() -> None:
    s = torch.tensor([[2.0, 0.5], [0.0, 1.0]])  # images x videos
    same = torch.tensor([[True, False], [False, True]])
    valid = torch.ones(2, 2, dtype=torch.bool)
    image_side = (max(1 - 2 + 0.5, 0) + max(1 - 1 + 0, 0)) / 2
    video_side = (max(1 - 2 + 0, 0) + max(1 - 1 + 0.5, 0)) / 2
    assert ratl_logit(s, same, valid, margin=1.0).item() == pytest.approx(
        (image_side + video_side) / 2)


@pytest.mark.parametrize("variant,feature", [("feature", "readout"), ("feature", "concat"),
                                             ("feature", "hidden"), ("logit", "readout")])
def test_training_loss_is_differentiable(variant: str, feature: str) -> None:
    torch.manual_seed(0)
    ad = READAdapter(num_classes=2, backbone="small", ratl_variant=variant, ratl_feature=feature,
                     **TINY).train()
    loss, logs = ad.training_loss(torch.randn(4, 4, 3, 64, 32), torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert set(logs) == {"pair", "ratl"} and math.isfinite(loss.item())
    for net in (ad.model.image_net, ad.model.video_net):
        assert net.key.weight.grad is not None and net.key.weight.grad.abs().sum() > 0
        assert torch.isfinite(net.trunk.conv1.weight.grad).all()


def test_full_backbone_paper_input() -> None:
    torch.manual_seed(0)
    ad = READAdapter(num_classes=0).eval()
    video = ad.model.video_net
    assert len(video.nl2) == 2 and len(video.nl3) == 3
    assert all(isinstance(m, NonLocalBlock) for m in [*video.nl2.values(), *video.nl3.values()])
    assert sorted(video.nl3) == ["3", "4", "5"]  # after blocks 4, 5 and 6 of layer3
    assert ad.model.discriminator.fc1.in_features == 2 * 512 * 128
    clip = torch.randn(1, 4, 3, 256, 128)
    gallery = ad.embed_clips(clip)
    query = ad.embed_images(clip[:, 0])
    assert gallery.shape == (1, 4 * 128 * 640) and query.shape == (1, 128 * 640)
    assert ad.score(query, gallery).shape == (1, 1)


def test_checkpoint_round_trip(tmp_path, small: READAdapter) -> None:
    clips = torch.randn(2, 4, 3, 64, 32)
    gallery, query = small.embed_clips(clips), small.embed_images(clips[:, 1])
    before = small.score(query, gallery)
    path = tmp_path / "read.safetensors"
    save_checkpoint(path, small.model.state_dict(), {"baseline": "read", "config": small.config})
    again = get_adapter("read", **load_checkpoint(path).meta["config"])
    again.load_checkpoint(str(path))
    again.eval()
    torch.testing.assert_close(again.score(again.embed_images(clips[:, 1]),
                                           again.embed_clips(clips)), before)
    assert again.uses_scorer and again.card.modes == ("i2v",)
