"""Every adapter registered under the `reidbench.adapters` entry-point group honours the
contract: the five baselines and a plain third-party `Adapter` plug-in (tests/contract/conftest.py
installs it as its own package with its own entry point)."""

import inspect

import numpy as np
import pytest
import torch
from PIL import Image

from reidbench.adapters import (
    Adapter,
    TrainableAdapter,
    adapter_class,
    get_adapter,
    list_adapters,
    save_checkpoint,
)
from reidbench.cli import main
from reidbench.engine.evalset import EvalItem
from reidbench.engine.extract import extract_features, score_pairs
from reidbench.errors import CheckpointError, InputError
from reidbench.protocols import Procedure

NAMES = list_adapters()
PLUGIN, PLUGIN_NAME = "reidbench_plainplug", "plainplug"  # installed by conftest.py
SIZE = (64, 32)


def _build(name, num_classes=4):
    cls = adapter_class(name)
    if not issubclass(cls, TrainableAdapter):
        return get_adapter(name)
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


def test_the_five_baselines_and_the_plugin_are_registered():
    assert {"read", "stmn", "denseil", "cosam", "stan", PLUGIN_NAME} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_card_and_procedure(name):
    a = _build(name)
    assert isinstance(a, Adapter)
    assert a.card.name == name and a.card.paper and a.card.venue
    assert set(a.card.modes) <= {"v2v", "i2v"} and a.card.modes
    assert isinstance(a.procedure(Procedure()), Procedure)
    if isinstance(a, TrainableAdapter):
        assert a.n_parameters() > 0 and isinstance(a.config, dict) and a.recipe.seq_len > 0
    else:  # what the engine reads has a default on the base class
        assert a.n_parameters() is None and a.model is None and dict(a.config) == {}
    assert a.checkpoint_sha256 is None and a.device == "cpu"


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
    if a.model is None:  # a plain adapter without weights has no checkpoint to round-trip
        with pytest.raises(InputError, match=f"{name} has none"):
            a.load_state({}, {}, "w.safetensors")
        return
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


def _items(tmp_path, size):
    """Two 3-frame tracklets and one image, as PNG frames on disk."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        p = tmp_path / f"f{i}.png"
        Image.fromarray(rng.integers(0, 255, (size[0], size[1], 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    videos = [EvalItem(f"t{k}", k, 1, tuple(paths[3 * k:3 * k + 3])) for k in range(2)]
    return videos, [EvalItem("q0", 0, 2, (paths[0],), "image")]


@pytest.mark.parametrize("name", NAMES)
def test_the_engine_owns_inference(name, tmp_path):
    """Every embed/score call the engine makes runs under inference mode with all modules in
    eval mode, even for an adapter left in training mode that never asks for either."""
    a = _build(name)
    if isinstance(a, TrainableAdapter):
        a.train()
    seen = []

    def spy(fn):
        def call(*args):
            modules = [m for m in a._modules() for m in m.modules()]
            seen.append((fn.__name__, torch.is_inference_mode_enabled(),
                         any(m.training for m in modules)))
            return fn(*args)
        return call

    a.embed_clips, a.embed_images = spy(a.embed_clips), spy(a.embed_images)
    if a.uses_scorer:
        a.score = spy(a.score)
    t = getattr(a, "recipe", None).seq_len if isinstance(a, TrainableAdapter) else 2
    proc = a.procedure(Procedure(input_size=SIZE, seq_len=t, sampling="rrs"))
    videos, images = _items(tmp_path, tuple(proc.input_size))
    gallery, _ = extract_features(a, videos, procedure=proc)
    assert gallery.shape[0] == 2 and np.isfinite(gallery).all()
    if "i2v" in a.card.modes:
        query, _ = extract_features(a, images, procedure=proc)
        if a.uses_scorer:
            assert score_pairs(a, query, gallery).shape == (1, 2)
    assert seen and all(inference and not training for _, inference, training in seen), seen


@pytest.fixture(scope="module")
def tiny_mars(tmp_path_factory):
    from reidbench.datasets.synthetic import SynthConfig, write_dataset

    tiny = SynthConfig(height=32, width=16, min_len=3, max_len=6, median_len=4.0)
    return write_dataset("mars", tmp_path_factory.mktemp("m") / "MARS", ids=6, seed=2,
                         config=tiny).root


@pytest.mark.parametrize("target", [PLUGIN_NAME, f"{PLUGIN}:PlainAdapter"])
def test_the_plain_plugin_evaluates_through_the_cli(target, tiny_mars, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["evaluate", "-p", "mars/v2v@1", "--data", str(tiny_mars), "--adapter", target,
               "--out", str(out), "--bootstrap", "0", "--device", "cpu", "--height", "32",
               "--width", "16", "--seq-len", "2"])
    assert rc == 0, capsys.readouterr().err
    assert (out / "results.json").is_file()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", NAMES)
def test_every_module_adapter_exports_to_both_formats(name, fmt, tmp_path):
    """`reidbench export` writes every ModuleAdapter in either format, read back as a clip model
    whose features are the adapter's; a pairwise scorer or a plain Adapter is refused."""
    from reidbench.adapters import ModuleAdapter
    from reidbench.adapters.export import TOLERANCE, export_adapter
    from reidbench.adapters.modelfile import open_model_file

    a = _build(name).eval()
    out = tmp_path / f"m.{fmt}"
    if a.uses_scorer or not isinstance(a, ModuleAdapter):
        match = "pairwise scorer" if a.uses_scorer else "a ModuleAdapter"
        with pytest.raises(InputError, match=match):
            export_adapter(a, fmt, out, input_size=SIZE)
        assert not out.exists()
        return
    summary = export_adapter(a, fmt, out, input_size=SIZE)
    assert summary["max_abs_diff"] <= TOLERANCE
    file = open_model_file(out)
    proc = a.procedure(Procedure(input_size=SIZE))
    assert (file.format, file.meta.input, file.meta.seq_len) == (fmt, "clip", proc.seq_len)
    assert file.meta.input_size == tuple(proc.input_size)
    clips = torch.randn(3, proc.seq_len, 3, *proc.input_size, generator=torch.Generator()
                        .manual_seed(5))
    with torch.inference_mode():
        want, got = a.embed_clips(clips), file.adapter("cpu").embed_clips(clips)
    assert (want - got).abs().max() <= TOLERANCE
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left
