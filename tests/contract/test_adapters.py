"""Every adapter registered under the `reidbench.adapters` entry-point group honours the
contract."""

import inspect

import pytest
import torch

from reidbench.adapters import (
    Adapter,
    TrainableAdapter,
    adapter_class,
    get_adapter,
    list_adapters,
    save_checkpoint,
)
from reidbench.errors import CheckpointError, InputError
from reidbench.protocols import Procedure

NAMES = list_adapters()
SIZE = (64, 32)


def _build(name, num_classes=4):
    cls = adapter_class(name)
    params = inspect.signature(cls.__init__).parameters
    options = {"num_classes": num_classes, "backbone": "small"}
    if "input_size" in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
        try:
            return get_adapter(name, **options, input_size=SIZE)
        except InputError:  # an option the adapter does not take
            pass
    return get_adapter(name, **options)


def _clips(adapter, batch=4):
    t = getattr(adapter, "recipe", None).seq_len if hasattr(adapter, "recipe") else 4
    proc = adapter.procedure(Procedure(input_size=SIZE))
    h, w = proc.input_size if tuple(proc.input_size) != (256, 128) else SIZE
    torch.manual_seed(0)
    return torch.randn(batch, t, 3, h, w)


def test_the_five_baselines_are_registered():
    assert {"read", "stmn", "denseil", "cosam", "stan"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_card_and_procedure(name):
    a = _build(name)
    assert isinstance(a, Adapter)
    assert a.card.name == name and a.card.paper and a.card.venue
    assert set(a.card.modes) <= {"v2v", "i2v"} and a.card.modes
    assert isinstance(a.procedure(Procedure()), Procedure)
    assert a.n_parameters() > 0


@pytest.mark.parametrize("name", NAMES)
def test_embeddings_shapes_and_checkpoint_round_trip(name, tmp_path):
    a = _build(name).eval()
    clips = _clips(a)
    feats = a.embed_clips(clips)
    assert feats.ndim == 2 and feats.shape[0] == clips.shape[0] and torch.isfinite(feats).all()
    if "i2v" in a.card.modes:
        img = a.embed_images(clips[:, 0])
        assert img.shape[0] == clips.shape[0]
    if a.uses_scorer:
        scores = a.score(a.embed_images(clips[:2, 0]), feats)
        assert scores.shape == (2, clips.shape[0])
    path = tmp_path / "w.safetensors"
    save_checkpoint(path, a.model.state_dict(), {"baseline": name, "config": a.config})
    b = _build(name).eval()
    b.load_checkpoint(str(path))
    assert torch.allclose(b.embed_clips(clips), feats, atol=1e-5)
    other = next(n for n in ("stmn", "cosam") if n != name)
    save_checkpoint(tmp_path / "o.safetensors", a.model.state_dict(), {"baseline": other})
    with pytest.raises(CheckpointError, match=f"weights of '{other}'"):
        b.load_checkpoint(str(tmp_path / "o.safetensors"))


@pytest.mark.parametrize("name", [n for n in NAMES if issubclass(adapter_class(n),
                                                                  TrainableAdapter)])
def test_training_loss_is_differentiable(name):
    a = _build(name).train()
    clips = _clips(a, batch=4)
    loss, logs = a.training_loss(clips, torch.tensor([0, 0, 1, 1]))
    assert loss.ndim == 0 and torch.isfinite(loss) and logs
    loss.backward()
    grads = [p.grad for p in a.model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
