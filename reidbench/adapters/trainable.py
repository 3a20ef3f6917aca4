"""Adapters that reidbench's own training loop can train.

The five baselines are trainable, and so is any model that wants ``reidbench train`` and
``reidbench sweep``.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

from reidbench.adapters.module import ModuleAdapter

__all__ = ["TrainableAdapter", "TrainRecipe"]


@dataclass(frozen=True)
class TrainRecipe:
    """A method's training defaults, each with its source in the paper or code.

    Attributes:
        P: Identities per batch.
        K: Tracklets per identity.
        seq_len: Frames per training clip.
        sampling: Training frame sampling (``"rrs"`` random per chunk, ``"consecutive"`` from a
            random start in ``[0, F-T]``, ``"consecutive_gao"`` from one in ``[0, F-T-1]`` as in
            Gao & Nevatia's code, which COSAM trains with).
        optimizer: ``"adam"`` (the five baselines all use Adam).
        lr: Learning rate.
        weight_decay: Weight decay.
        epochs: Epochs of the paper's schedule.
        step_size: StepLR step in epochs (None: constant).
        gamma: StepLR factor.
        flip: Horizontal flip probability (of the whole training clip, or of each frame).
        flip_per_frame: Flip each frame independently (Gao & Nevatia's code, COSAM).
        translate: Random2DTranslation probability per frame: enlarge by 1/8 and crop at random
            (Gao & Nevatia's code, COSAM); 0 turns it off.
        erasing: RandomErasing probability per frame (Zhong et al.; area 2-40 %, aspect 0.3-3.3,
            filled with 0 after normalisation, as STMN's code); 0 turns it off.
        erasing_per_clip: Erase one rectangle shared by every frame of the clip (drawn once, with
            probability ``erasing``) instead of one per frame (DenseIL's supplement: "randomly
            erase the same region for the whole input sequence").
        sources: Where each value comes from (``{"lr": "STMN train.sh"}``).
    """

    P: int = 8
    K: int = 4
    seq_len: int = 4
    sampling: str = "rrs"
    optimizer: str = "adam"
    lr: float = 3e-4
    weight_decay: float = 5e-4
    epochs: int = 150
    step_size: int | None = 50
    gamma: float = 0.1
    flip: float = 0.5
    flip_per_frame: bool = False
    translate: float = 0.0
    erasing: float = 0.0
    erasing_per_clip: bool = False
    sources: tuple[tuple[str, str], ...] = ()


class TrainableAdapter(ModuleAdapter):
    """A :class:`ModuleAdapter` that can be built for ``num_classes`` identities and trained.

    Subclasses take ``num_classes`` and their model options as constructor keywords, keep those
    options in :attr:`config` (they are stored in checkpoints, so ``reidbench evaluate --adapter X
    --checkpoint F`` rebuilds the same architecture), and implement :meth:`training_loss`.

    Everything the training loop (:func:`reidbench.engine.train`) reads is declared here:
    :attr:`recipe`, :attr:`config`, :attr:`model` (whose parameters it optimises),
    :meth:`prepare_training`, :meth:`training_loss`, :meth:`train` and the :class:`Adapter`
    members.
    """

    #: The method's training defaults (``reidbench train`` options override single fields).
    recipe: TrainRecipe = TrainRecipe()

    def __init__(self, model: Any, config: dict[str, Any]) -> None:
        super().__init__(model)
        self.config = dict(config)

    def prepare_training(self) -> None:
        """Get ready for the first step (e.g. load ImageNet weights); default: nothing.

        The training loop calls it once, before a resumed run's state is restored.
        """

    @abstractmethod
    def training_loss(self, clips: Any, pids: Any) -> tuple[Any, dict[str, float]]:
        """Return ``(loss, logs)`` for a batch of clips ``(B, T, 3, H, W)`` and labels ``(B,)``.

        ``pids`` are contiguous training labels in ``[0, num_classes)``.
        """

    def training_notices(self) -> list[str]:
        """One-line notices ``reidbench train`` prints before training (default: none).

        A baseline says here, e.g., that it is about to train without the ImageNet weights its
        official code starts from.
        """
        return []

    def train(self) -> TrainableAdapter:
        """Switch every ``nn.Module`` attribute (the model included) to training mode."""
        for module in self._modules():
            module.train()
        return self
