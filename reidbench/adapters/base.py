"""The interface between the suite and any model.

An adapter declares what it can do. ``embed_clips`` maps a batch of clips ``(B, T, 3, H, W)`` to
features ``(B, D)`` (V2V, and the gallery side of I2V); ``embed_images`` maps ``(B, 3, H, W)`` to
``(B, D)`` (the query side of I2V). A method that ranks with a learned pairwise scorer (READ)
also implements ``score(query_repr, gallery_repr) -> (Q, G)`` similarities (higher = more similar);
the engine then ranks every gallery item by it instead of by a distance.

The five baselines and any third-party model implement this same class and register under the
``reidbench.adapters`` entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from reidbench.errors import InputError, describe
from reidbench.protocols import Procedure

if TYPE_CHECKING:
    import torch

__all__ = ["Adapter", "AdapterCard"]


@dataclass(frozen=True)
class AdapterCard:
    """What an adapter is and where its defaults come from (shown in results and leaderboards).

    Attributes:
        name: Registry name, e.g. ``"stmn"``.
        modes: Supported modes, subset of ``("v2v", "i2v")``.
        input_size: Expected ``(height, width)`` of frames.
        paper: Paper title and authors, or ``""`` for an unpublished model.
        venue: Venue and year, e.g. ``"ICCV 2021"``.
        license: Licence of the method's code or weights, in words.
        defaults: Default hyper-parameters with their sources (``{"M": "10 (supp. Table 1)"}``).
        notes: Every choice the paper leaves open and what this implementation does.
    """

    name: str
    modes: tuple[str, ...] = ("v2v",)
    input_size: tuple[int, int] = (256, 128)
    paper: str = ""
    venue: str = ""
    license: str = "unknown"
    defaults: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the card as a JSON-ready dict."""
        d = asdict(self)
        d["modes"] = list(self.modes)
        d["input_size"] = list(self.input_size)
        return d


class Adapter(ABC):
    """Base class of every model adapter.

    Subclasses set :attr:`card` and implement :meth:`embed_clips` (and :meth:`embed_images` for
    I2V); they may override :meth:`procedure` (their paper's test-time recipe), :meth:`score`
    (pairwise scorers), :meth:`load_state`, :meth:`to` and :meth:`eval`.

    The engine owns inference: every ``embed_clips``, ``embed_images`` and ``score`` call it makes
    runs under ``torch.inference_mode()`` after :meth:`eval`, so an adapter needs no gradient or
    mode handling of its own. Everything else the engine reads is declared here with a default:
    :attr:`config`, :attr:`model`, :attr:`device`, :attr:`uses_scorer`, :attr:`checkpoint_sha256`,
    :attr:`checkpoint_meta`. A subclass that never calls ``super().__init__()`` still works: the
    defaults live on the class.
    """

    card: AdapterCard = AdapterCard(name="unnamed")
    #: Whether ranking uses :meth:`score` instead of a feature distance.
    uses_scorer: bool = False
    #: The torch module computing the features, when there is one (FLOPs count, cache key,
    #: ``reidbench export``); None for an adapter without a single module.
    model: Any = None
    #: Where :meth:`to` put the model; the engine moves input batches there.
    device: str = "cpu"
    #: sha256 of the checkpoint loaded (None: none), part of the feature cache key and the record.
    checkpoint_sha256: str | None = None
    #: Metadata of the checkpoint loaded.
    checkpoint_meta: Mapping[str, Any] = MappingProxyType({})
    #: Constructor options, recorded in results and checkpoints so the same model is rebuilt.
    config: Mapping[str, Any] = MappingProxyType({})
    #: Options a stored checkpoint config lacks because it predates them, with the value that
    #: keeps its trained behaviour (see :meth:`checkpoint_config`).
    legacy_options: Mapping[str, Any] = MappingProxyType({})
    #: Module whose ``import_official(obj, where)`` maps the official code's checkpoints (see
    #: :meth:`import_official`); None: no importer.
    official_importer: str | None = None

    def __init__(self) -> None:
        self.checkpoint_sha256 = None
        self.checkpoint_meta = {}
        self.device = "cpu"

    @abstractmethod
    def embed_clips(self, clips: torch.Tensor) -> torch.Tensor:
        """Embed clips ``(B, T, 3, H, W)`` into features ``(B, D)``."""

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """Embed images ``(B, 3, H, W)`` into ``(B, D)``.

        The default treats each image as a one-frame clip.
        """
        return self.embed_clips(images.unsqueeze(1))

    def score(self, query_repr: torch.Tensor, gallery_repr: torch.Tensor) -> torch.Tensor:
        """Return ``(Q, G)`` similarity scores; only for adapters with ``uses_scorer = True``."""
        raise NotImplementedError(f"{type(self).__name__} has no pairwise scorer")

    @classmethod
    def checkpoint_config(cls, stored: dict[str, Any]) -> dict[str, Any]:
        """Constructor options that rebuild the model a checkpoint's stored config describes.

        The engine calls this with ``meta["config"]`` before it builds the adapter. A checkpoint
        written before an option existed lacks it in its stored config; it gets the value in
        :attr:`legacy_options` (the behaviour it was trained with), not today's default.
        """
        if not stored:
            return dict(stored)
        return {**{k: v for k, v in cls.legacy_options.items() if k not in stored}, **stored}

    @classmethod
    def import_official(cls, obj: Any, where: str) -> Any:
        """Map a checkpoint saved by the method's official code to this adapter's model.

        ``reidbench import-weights`` calls this with the file's content, read with
        ``torch.load(weights_only=True)`` and ``module.`` prefixes stripped, and expects a
        :class:`reidbench.adapters.imported.ImportedWeights` (renamed tensors and the derived
        constructor options). The default calls the ``import_official(obj, where)`` function of
        the module :attr:`official_importer` names (imported only then); adapters without one
        refuse.

        Raises:
            InputError: This adapter has no importer.
        """
        if cls.official_importer is None:
            raise InputError(describe(
                f"adapter {cls.card.name!r}", "reidbench import-weights",
                "an adapter with an importer for its official checkpoints", "none",
                "pass one of the baselines that have one (stmn, cosam, read), or convert the "
                "weights yourself and save_checkpoint"))
        from importlib import import_module

        return import_module(cls.official_importer).import_official(obj, where)

    def procedure(self, default: Procedure) -> Procedure:
        """Return the test-time procedure this model was designed for (default: the protocol's)."""
        return default

    def load_checkpoint(self, path: str) -> None:
        """Load weights safely from ``path`` (see :func:`reidbench.adapters.load_checkpoint`)."""
        from reidbench.adapters.checkpoint import load_checkpoint

        self.apply_checkpoint(load_checkpoint(path))

    def apply_checkpoint(self, ckpt: Any) -> None:
        """Apply an already-read :class:`~reidbench.adapters.Checkpoint` and record its sha256."""
        self.load_state(ckpt.state_dict, ckpt.meta, ckpt.path)
        self.checkpoint_sha256 = ckpt.sha256
        self.checkpoint_meta = ckpt.meta

    def load_state(self, state_dict: dict[str, Any], meta: dict[str, Any], path: str) -> None:
        """Apply a state dict; models override this. The base class has no weights."""
        raise InputError(describe("checkpoint", path, f"an adapter with weights ({self.card.name} "
                                  "has none)", "a checkpoint", "drop --checkpoint"))

    def to(self, device: str) -> Adapter:
        """Move the adapter's torch modules (every ``nn.Module`` attribute) to ``device``."""
        for module in self._modules():
            module.to(device)
        self.device = device
        return self

    def eval(self) -> Adapter:
        """Put every ``nn.Module`` attribute in eval mode (the engine calls it before inference)."""
        for module in self._modules():
            module.eval()
        return self

    def _modules(self) -> list[Any]:
        """The ``torch.nn.Module`` instances among the adapter's attributes (none without torch)."""
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is a dependency
            return []
        found = [v for v in vars(self).values() if isinstance(v, torch.nn.Module)]
        if isinstance(self.model, torch.nn.Module) and not any(m is self.model for m in found):
            found.append(self.model)
        return found

    def describe(self) -> dict[str, Any]:
        """Return provenance: card, checkpoint sha256 and metadata, parameter count."""
        return {
            "name": self.card.name,
            "card": self.card.to_dict(),
            "checkpoint_sha256": self.checkpoint_sha256,
            "checkpoint_meta": dict(self.checkpoint_meta),
            "n_parameters": self.n_parameters(),
        }

    def n_parameters(self) -> int | None:
        """Number of parameters of :attr:`model` (None when the adapter has no torch model)."""
        params = getattr(self.model, "parameters", None)
        if not callable(params):
            return None
        return int(sum(p.numel() for p in params()))
