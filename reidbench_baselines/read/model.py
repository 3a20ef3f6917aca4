"""READ: Reciprocal Attention Discriminator for image-to-video re-ID (Shim et al., ECCV 2020).

* **Image embedding network** ``E_I``: ResNet-50 up to layer3 (standard stem with ReLU), every
  BatchNorm's affine parameters frozen (their running statistics still update), then a 1x1 key head
  (``C3 -> 128``) and value head (``C3 -> 512``), both without bias.
* **Video embedding network** ``E_V``: a second ResNet-50 up to layer3 with non-local blocks
  (2 after the last two blocks of layer2, 3 after the last three of layer3; joint attention over
  ``T x H x W``), then its own key and value heads, applied per frame.
  ``non_local=False`` is the supplement's tracking-friendly variant (Table S1): no dedicated video
  network, every video frame goes through ``E_I`` and its heads independently, so image features
  can be appended to a track's history.
* **Discriminator** (:mod:`reidbench_baselines.read.discriminator`): each query-image position
  attends over every ``(frame, position)`` of the video; ``[v_I ; readout]`` -> MLP -> "same
  identity" logit.

Representations handed to the engine (``embed_images`` / ``embed_clips``) are the flattened key and
value maps: an image is ``P (Ck + Cv)`` numbers, a ``T``-frame video ``T P (Ck + Cv)``. With
ResNet-50 at 256 x 128 (``P = 128``, ``Ck = 128``, ``Cv = 512``, ``T = 4``) that is 81,920 floats
(320 KiB) per query image and 327,680 floats (1.25 MiB) per gallery tracklet: 14.8 GB for MARS's
11,310 gallery tracklets, held in host memory; ``READAdapter.score`` moves one gallery chunk at a
time to the device.

Choices left open (also on the adapter card):

* Stem ReLU in ``E_V``: the released code omits it; we keep it (``video_stem_relu=True``) for
  our own training; ``False`` is the code-faithful form for released weights (which also expect
  BGR input).
* Memory layout (``memory_layout``): the released reader flattens the gallery memory without
  permuting frames and channels, so each memory slot mixes frames (``"code"``, default; see
  :mod:`reidbench_baselines.read.discriminator`); ``"frames"`` gives per-frame slots.
* Colour order: frames are RGB (``bgr_input=False``); the released code feeds OpenCV's BGR
  frames normalised with the RGB statistics (``bgr_input=True``, which ``import-weights`` sets).
* Initialisation of ``E_V`` [D]: ``video_init="image"`` copies ``E_I``'s initial trunk and heads
  into ``E_V`` (the non-local blocks start as identities), so both networks start as the same
  function, as they do in the paper, where both trunks start from the same ImageNet weights;
  ``"independent"`` draws ``E_V`` on its own. ``pretrained`` then loads ImageNet into both trunks.
* RATL (supplement S2): a batch-hard triplet on the attention-block features ``F(I, V)`` (the
  read-out ``r``, ``ratl_feature="readout"``; ``"concat"`` uses ``[v_I ; r]``; ``"hidden"`` the
  post-ReLU 1024-d feature that the released code's network returns next to its logits), computed
  with every gallery video of the batch in turn as the basis. The seed gives no distance, margin or
  weight [D]: Euclidean distance between **L2-normalised** ``F(I, V)`` (``ratl_normalize``),
  margin 0.3, weight 1. ``ratl_variant="logit"`` is a logit-space alternative of ours (margin 1.0
  in logit units, weight 1); ``"none"`` disables RATL. ``ratl_margin=None`` means the variant's
  default (:data:`RATL_MARGINS`); the config stores the resolved value.
* Why normalised: the read-outs are not normalised, so a margin has no scale. On the synthetic
  MARS copy (small backbone, 64 x 32) the raw triplet starts at 11-14 against a pair loss of
  0.65-0.72 (median read-out distance 27.4), and with a hard margin it is lowered fastest by
  shrinking every read-out together (audit: ~0.2 apart after 30 iterations at lr 1e-3, held-out
  pair AUC 0.505); the soft margin instead rewards growing them. On unit vectors the distance lies
  in [0, 2], the triplet starts at ~0.6 and the pair loss trains as without RATL (40 iterations,
  lr 3e-4, 3 seeds: pair loss 0.272-0.278 normalised, 0.264-0.274 without RATL, 0.295-0.304 raw
  with margin 0.3, 0.295-0.305 raw with the soft margin). Held-out mAP did not separate the four
  within seed noise (means 0.150, 0.146, 0.155, 0.164 against 0.068 untrained).
* Training pairs: every query frame of every clip against every other clip of the batch
  (``train_query_frames`` frames per clip; a clip never serves as its own memory,
  ``self_pairs=False``); the pair loss is 2-way CE (BCE with ``out_size=1``).
* A ``bidirectional`` reading of "reciprocal" (video -> image attention as well) is not implemented.

Short runs from scratch (synthetic MARS copy, small backbone, 64 x 32, one query frame per clip,
held-out ``mars/i2v@1`` mAP):

* With ``video_init="independent"`` the image and video keys/values come from unrelated random
  networks: attention ``<k_I, k_V>`` is an arbitrary bilinear form and ``r`` lives in another
  space than ``v_I``, and the pair loss stays at the class prior (CE ~0.32 for 3 positives in 31):
  50 iterations at lr 3e-4 end at pair loss 0.31 and mAP 0.100 -> 0.116 and 0.109 -> 0.105 (two
  seeds). Starting ``E_V`` as a copy of ``E_I`` makes attention a similarity and ``r`` comparable
  with ``v_I`` from the start, as in the Table S1 variant: 0.055 -> 0.179 and 0.072 -> 0.167.
* Learning rate: Adam's first step moves every weight of the discriminator's first Linear by about
  the learning rate; its ``2 Cv P`` inputs (8,192 here, 131,072 at 256 x 128) share a large common
  offset (bias-free value heads on post-ReLU features), so the hidden units move together: one step
  at lr 1e-3 widens their pre-activation spread from 0.31 to 2.3, the "same" logit gap moves from
  -0.13 to -28 and the pair loss jumps from 0.65 to 2.4-2.9, back at the class prior only after
  ~15 iterations. At 1e-3 the default reaches 0.107 and 0.109 (50 iterations, two seeds) against
  0.13-0.19 at 5e-4 and 3e-4. The recipe's 1e-4 [D] is safe; above ~5e-4 expect the spike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from reidbench.errors import InputError, describe
from reidbench_baselines.common import build_backbone
from reidbench_baselines.read.discriminator import (
    MEMORY_LAYOUTS,
    ReciprocalAttentionDiscriminator,
)

__all__ = ["RATL_MARGINS", "READConfig", "READ"]

# Default RATL margin per variant [D], used when ``ratl_margin`` is not given: the feature variant
# on L2-normalised F(I, V) (distances in [0, 2]), the logit variant in logit units.
RATL_MARGINS: dict[str, float | None] = {"feature": 0.3, "logit": 1.0, "none": None}


@dataclass(frozen=True)
class READConfig:
    """READ hyper-parameters (sources inline; [D] = our choice where the sources are silent).

    ``ratl_margin=None`` is resolved to the variant's default (:data:`RATL_MARGINS`) when the
    config is built, so :meth:`to_dict` (what checkpoints store) holds the margin actually used.
    """

    backbone: str = "resnet50"  # code: torchvision ResNet-50 up to layer3; "small" for CPU
    input_size: tuple[int, int] = (256, 128)  # code: 256 x 128 (fixes the MLP input size)
    seq_len: int = 4  # T, gallery frames (code max_sample_length = 4)
    non_local: bool = True  # code: non-local video network; False = supplement Table S1 variant
    nl_blocks: tuple[int, int] = (2, 3)  # code non_layers = [0, 2, 3, 0] (layer2, layer3)
    video_stem_relu: bool = True  # [D]; code: False (STE-NVAN stem)
    video_init: str = "image"  # [D] E_V starts as a copy of E_I ("independent": own draw)
    key_dim: int = 128  # code
    value_dim: int = 512  # code
    hidden: int = 1024  # code
    out_size: int = 2  # code classifier_out_size = 2 (1 = BCE)
    freeze_image_bn: bool = True  # code: BN affine frozen in E_I
    train_query_frames: int = 4  # [D]: query frames per training clip (test: 1)
    self_pairs: bool = False  # [D] a clip is never its own memory
    ratl_variant: str = "feature"  # supplement S2 ("logit", "none": alternatives)
    ratl_feature: str = "readout"  # [D] which attention-block feature (readout/concat/hidden)
    ratl_margin: float | None = None  # [D] None: the variant's default (RATL_MARGINS)
    ratl_normalize: bool = True  # [D] feature RATL on L2-normalised F(I, V)
    ratl_weight: float = 1.0  # [D]
    memory_layout: str = "code"  # code NonLocalBlock.py ("frames": per-frame slots, paper)
    bgr_input: bool = False  # [D] RGB; True = the released code's cv2 BGR frames
    pretrained: str | None = None  # torchvision ResNet-50 file for both networks

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        object.__setattr__(self, "nl_blocks", tuple(int(v) for v in self.nl_blocks))
        checks = (("ratl_variant", self.ratl_variant, ("feature", "logit", "none")),
                  ("video_init", self.video_init, ("image", "independent")),
                  ("ratl_feature", self.ratl_feature, ("readout", "concat", "hidden")),
                  ("out_size", self.out_size, (1, 2)),
                  ("memory_layout", self.memory_layout, MEMORY_LAYOUTS))
        for name, value, allowed in checks:
            if value not in allowed:
                raise InputError(describe(name, "READ config", f"one of {allowed}", repr(value),
                                          ""))
        if self.ratl_margin is None:
            object.__setattr__(self, "ratl_margin", RATL_MARGINS[self.ratl_variant])

    def to_dict(self) -> dict:
        """Plain dict of the options."""
        return asdict(self)


class _Encoder(nn.Module):
    """ResNet stem + layer1..layer3, optional non-local blocks, 1x1 key and value heads."""

    def __init__(self, cfg: READConfig, stem_relu: bool, non_local: tuple[int, int]) -> None:
        super().__init__()
        from reidbench_baselines.common import NonLocalBlock

        self.trunk = build_backbone(cfg.backbone, last_stride=1, stem_relu=stem_relu)
        del self.trunk.layer4
        channels = self.trunk.stage_channels
        self.nl2 = nn.ModuleDict({str(i): NonLocalBlock(channels[2])
                                  for i in _last(len(self.trunk.layer2), non_local[0])})
        self.nl3 = nn.ModuleDict({str(i): NonLocalBlock(channels[3])
                                  for i in _last(len(self.trunk.layer3), non_local[1])})
        self.key = nn.Conv2d(channels[3], cfg.key_dim, 1, bias=False)
        self.value = nn.Conv2d(channels[3], cfg.value_dim, 1, bias=False)

    def forward(self, frames: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B*T, 3, H, W)`` -> keys ``(B, T*P, Ck)`` and values ``(B, T*P, Cv)``."""
        x = self.trunk.layer1(self.trunk.stem(frames))
        x = _run(self.trunk.layer2, self.nl2, x, t)
        x = _run(self.trunk.layer3, self.nl3, x, t)
        k, v = self.key(x), self.value(x)
        return _tokens(k, t), _tokens(v, t)


def _copy_shared(src: nn.Module, dst: nn.Module) -> None:
    """Give ``dst`` every tensor it shares with ``src`` (trunk and heads; not the non-local blocks).

    The non-local blocks start as identities (BN zero-initialised), so the video network then
    computes exactly the image network's keys and values per frame until training separates them.
    """
    dst.load_state_dict(src.state_dict(), strict=False)


def _last(n_blocks: int, count: int) -> list[int]:
    return list(range(max(n_blocks - count, 0), n_blocks))


def _run(stage: nn.Sequential, blocks: nn.ModuleDict, x: torch.Tensor, t: int) -> torch.Tensor:
    for i, block in enumerate(stage):
        x = block(x)
        if str(i) in blocks:
            bt, c, h, w = x.shape
            y = x.view(bt // t, t, c, h, w).transpose(1, 2)  # (B, C, T, H, W)
            x = blocks[str(i)](y).transpose(1, 2).reshape(bt, c, h, w)
    return x


def _tokens(x: torch.Tensor, t: int) -> torch.Tensor:
    """``(B*T, C, H, W)`` -> ``(B, T*H*W, C)`` (frame-major, then row-major positions)."""
    bt, c = x.shape[:2]
    return x.flatten(2).transpose(1, 2).reshape(bt // t, -1, c)


class READ(nn.Module):
    """Image and video embedding networks plus the reciprocal attention discriminator.

    Args:
        cfg: Hyper-parameters.
    """

    def __init__(self, cfg: READConfig = READConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.image_net = _Encoder(cfg, stem_relu=True, non_local=(0, 0))
        if cfg.freeze_image_bn:
            for m in self.image_net.trunk.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.requires_grad_(False)
                    m.bias.requires_grad_(False)
        self.video_net = (_Encoder(cfg, cfg.video_stem_relu, cfg.nl_blocks) if cfg.non_local
                          else None)
        if self.video_net is not None and cfg.video_init == "image":
            _copy_shared(self.image_net, self.video_net)
        h, w = self.image_net.trunk.feature_hw(*cfg.input_size)[3]
        self.positions = h * w
        self.discriminator = ReciprocalAttentionDiscriminator(cfg.value_dim, self.positions,
                                                              cfg.hidden, cfg.out_size,
                                                              cfg.memory_layout)

    @property
    def image_dim(self) -> int:
        """Numbers per image representation: ``P (Ck + Cv)``."""
        return self.positions * (self.cfg.key_dim + self.cfg.value_dim)

    def _check(self, frames: torch.Tensor, what: str) -> None:
        want = tuple(self.cfg.input_size)
        if tuple(frames.shape[-2:]) != want or frames.shape[-3] != 3:
            raise InputError(describe(what, "READ", f"frames of 3 x {want[0]} x {want[1]} (the "
                                      "discriminator's MLP is sized for it)",
                                      tuple(frames.shape), "resize frames to input_size, or build "
                                      "READ with input_size=(H, W)"))

    def _input(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames as the network expects them (``bgr_input``: the released code's colour order).

        reidbench hands RGB frames normalised with the ImageNet mean and std; the released code
        decodes frames with OpenCV (BGR) and normalises those channels with the same RGB
        statistics, so channel ``c`` holds ``(bgr[c] - mean[c]) / std[c]``.
        """
        if not self.cfg.bgr_input:
            return frames
        mean = frames.new_tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
        std = frames.new_tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
        rgb = frames * std + mean
        return (rgb.flip(-3) - mean) / std

    def encode_images(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, 3, H, W)`` -> image keys ``(N, P, Ck)`` and values ``(N, P, Cv)``."""
        self._check(images, "images")
        return self.image_net(self._input(images), 1)

    def encode_videos(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, 3, H, W)`` -> memory keys ``(B, T*P, Ck)`` and values ``(B, T*P, Cv)``."""
        if clips.ndim != 5:
            raise InputError(describe("clips", "READ", "(B, T, 3, H, W)", tuple(clips.shape), ""))
        self._check(clips, "clips")
        net = self.video_net if self.video_net is not None else self.image_net
        return net(self._input(clips.flatten(0, 1)), clips.shape[1])

    def pack(self, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Flatten keys and values ``(N, M, C)`` into one representation row per item."""
        return torch.cat([keys.flatten(1), values.flatten(1)], dim=1)

    def unpack(self, rep: torch.Tensor, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Inverse of :meth:`pack`; the number of frames follows from the row length."""
        per_frame = self.image_dim
        if rep.ndim != 2 or rep.shape[1] % per_frame:
            raise InputError(describe(what, "READ.score", f"rows of a multiple of {per_frame} "
                                      "numbers (READ key/value maps)", tuple(rep.shape),
                                      "pass representations from READ's embed_images / "
                                      "embed_clips built with the same config"))
        m = rep.shape[1] // (self.cfg.key_dim + self.cfg.value_dim)
        split = m * self.cfg.key_dim
        keys = rep[:, :split].reshape(rep.shape[0], m, self.cfg.key_dim)
        values = rep[:, split:].reshape(rep.shape[0], m, self.cfg.value_dim)
        return keys, values

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gallery representation of clips (what ``embed_clips`` returns)."""
        return {"features": self.pack(*self.encode_videos(clips))}
