"""READ's reciprocal attention discriminator (Shim, Ho, Kim, Wee, ECCV 2020).

A query image is a key map ``k_I`` (``Ck x P``) and a value map ``v_I`` (``Cv x P``) over its ``P``
positions; a gallery video is ``k_V`` (``T x Ck x P``) and ``v_V`` (``T x Cv x P``). Every image
position reads every video location::

    A(p; t, p') = softmax_{t,p'} <k_I(p), k_V(t, p')>          plain dot product, no scaling
    r(p)        = sum_{t,p'} A(p; t, p') v_V(t, p')             (Cv per position)
    z           = [v_I ; r]  flattened                           (2 Cv P)
    logits      = Linear(1024 -> n_out)(ReLU(Linear(2 Cv P -> 1024)(z)))

The first Linear is applied as ``W_I vec(v_I) + W_R vec(r) + b`` (its two column blocks), which is
the same function; ``W_I vec(v_I)`` is then computed once per query image, not once per pair.
Class 1 (or the single logit when ``n_out = 1``) means "same identity".

Memory layout (``memory_layout``). The official reader (``model/NonLocalBlock.py`` of
github.com/minostauros/READ, lines 31 and 39-40) views the gallery memory ``(T, C, H, W)`` as
``(C, T H W)`` without first moving ``T`` next to ``H W``, so memory slot ``j`` of channel ``c``
holds element ``c T H W + j`` of the flattened ``(T, C, H, W)`` map: for ``T > 1`` each slot mixes
the channels of several frames and positions (``"code"``, the default, which the released weights
were trained with). ``"frames"`` is the paper's reading: slot ``(t, p)`` is frame ``t``'s feature at
position ``p``. The two agree for ``T = 1``. The query side is not affected (the code keeps its
frame axis).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MEMORY_LAYOUTS", "ReciprocalAttentionDiscriminator", "attend", "code_memory_slots"]

MEMORY_LAYOUTS = ("code", "frames")


def code_memory_slots(x: torch.Tensor, positions: int) -> torch.Tensor:
    """Frame-major memory tokens ``(G, T P, C)`` -> the official reader's slots ``(G, T P, C)``.

    Rebuilds the ``(T, C, P)`` map, reads it as ``(C, T P)`` (a view, as the code does) and
    returns the ``T P`` slots of ``C`` channels each.
    """
    g, m, c = x.shape
    t = m // positions
    return x.reshape(g, t, positions, c).transpose(2, 3).reshape(g, c, m).transpose(1, 2)


def attend(k_img: torch.Tensor, k_vid: torch.Tensor, v_vid: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Read every video (memory) for every image query.

    Args:
        k_img: ``(Q, P, Ck)`` image keys per position.
        k_vid: ``(G, M, Ck)`` video keys over its ``M = T P`` locations.
        v_vid: ``(G, M, Cv)`` video values.

    Returns:
        ``(readout (Q, G, P, Cv), attention (Q, G, P, M))``.
    """
    sim = torch.einsum("qpc,gmc->qgpm", k_img, k_vid)
    att = sim.softmax(dim=-1)
    return torch.einsum("qgpm,gmc->qgpc", att, v_vid), att


class ReciprocalAttentionDiscriminator(nn.Module):
    """The attention block and the pair classifier.

    Args:
        value_dim: ``Cv`` (512 in READ).
        positions: ``P`` positions of the image/frame maps (128 = 16 x 8 for 256 x 128 input).
        hidden: Hidden width of the classifier (1024 in READ).
        out_size: 2 (two-way softmax, READ's default) or 1 (one BCE logit).
        memory_layout: ``"code"`` (the official reader's slots) or ``"frames"`` (module docstring).
    """

    def __init__(self, value_dim: int, positions: int, hidden: int = 1024,
                 out_size: int = 2, memory_layout: str = "code") -> None:
        super().__init__()
        self.value_dim = value_dim
        self.positions = positions
        self.memory_layout = memory_layout
        self.fc1 = nn.Linear(2 * value_dim * positions, hidden)
        self.fc2 = nn.Linear(hidden, out_size)
        self.relu = nn.ReLU()

    def memory(self, k_vid: torch.Tensor, v_vid: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """The memory slots the attention reads: frame-major tokens in :attr:`memory_layout`."""
        if self.memory_layout == "frames":
            return k_vid, v_vid
        return (code_memory_slots(k_vid, self.positions),
                code_memory_slots(v_vid, self.positions))

    def image_term(self, v_img: torch.Tensor) -> torch.Tensor:
        """``W_I vec(v_I) + b`` for image values ``(Q, P, Cv)`` -> ``(Q, hidden)``."""
        n_img = self.value_dim * self.positions
        w_img = self.fc1.weight[:, :n_img]
        return _vec(v_img) @ w_img.t() + self.fc1.bias

    def readout_term(self, readout: torch.Tensor) -> torch.Tensor:
        """``W_R vec(r)`` for read-outs ``(..., P, Cv)`` -> ``(..., hidden)``."""
        n_img = self.value_dim * self.positions
        w_read = self.fc1.weight[:, n_img:]
        return _vec(readout) @ w_read.t()

    def forward(self, k_img: torch.Tensor, v_img: torch.Tensor, k_vid: torch.Tensor,
                v_vid: torch.Tensor) -> dict[str, torch.Tensor]:
        """Score every (image, video) pair.

        Args:
            k_img: Image keys ``(Q, P, Ck)``.
            v_img: Image values ``(Q, P, Cv)``.
            k_vid: Video keys ``(G, M, Ck)`` with ``M = T P``, frame-major.
            v_vid: Video values ``(G, M, Cv)``, frame-major.

        Returns:
            ``{"logits": (Q, G, out_size), "readout": (Q, G, P, Cv), "hidden": (Q, G, hidden)}``;
            ``hidden`` is the post-ReLU feature the released code's network returns with the logits.
        """
        readout, _ = attend(k_img, *self.memory(k_vid, v_vid))
        hidden = self.relu(self.image_term(v_img)[:, None, :] + self.readout_term(readout))
        return {"logits": self.fc2(hidden), "readout": readout, "hidden": hidden}

    def same_logit(self, logits: torch.Tensor) -> torch.Tensor:
        """The "same identity" logit of ``(..., out_size)`` logits."""
        return logits[..., -1]


def _vec(x: torch.Tensor) -> torch.Tensor:
    """Flatten ``(..., P, Cv)`` channel-major (``Cv`` then ``P``), as ``z`` is a ``Cv x P`` map."""
    return x.transpose(-1, -2).flatten(-2)
