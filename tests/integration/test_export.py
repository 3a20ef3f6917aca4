"""`reidbench export`: a baseline's file gives the adapter's features and the same metrics."""

import numpy as np
import pytest
import torch

from reidbench.adapters import AdapterCard, ModuleAdapter, save_checkpoint
from reidbench.adapters.build import build_adapter
from reidbench.adapters.modelfile import open_model_file
from reidbench.cli import main
from reidbench.datasets import load
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine import AdapterSource, build_evalset, evaluate
from reidbench.engine.extract import extract_features
from reidbench.engine.modelfile import ModelFileSource
from reidbench.protocols import get_protocol

TINY = SynthConfig(height=32, width=16, min_len=3, max_len=6, median_len=4.0)
SIZE = [64, 32]


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    return write_dataset("mars", tmp_path_factory.mktemp("m") / "MARS", ids=6, seed=7,
                         config=TINY).root


def _checkpoint(name, path):
    torch.manual_seed(0)
    config = {"num_classes": 4, "backbone": "small"}
    if name == "cosam":  # COSAM's frame size is a model option (its procedure uses it)
        config["input_size"] = SIZE
    a = build_adapter(name, None, config)
    save_checkpoint(path, a.model.state_dict(), {"baseline": name, "config": a.config,
                                                 "input_size": SIZE, "train_dataset": "mars"})
    return path


@pytest.mark.parametrize("name, fmt", [("stmn", "onnx"), ("cosam", "torchscript")])
def test_exported_baseline_matches_the_adapter(name, fmt, mars, tmp_path, capsys):
    ckpt = _checkpoint(name, tmp_path / "w.safetensors")
    out = tmp_path / f"{name}.{fmt}"
    rc = main(["export", name, "--checkpoint", str(ckpt), "--format", fmt, "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    file = open_model_file(out)
    assert file.format == fmt
    assert file.meta.raw["reidbench.input_size"] == "64,32"
    assert file.meta.raw["reidbench.train_dataset"] == "mars"

    proto = get_protocol("mars/v2v@1")
    adapter = build_adapter(name, str(ckpt))
    proc = adapter.procedure(proto.procedure.override(input_size=tuple(SIZE)))
    items = list(build_evalset(load("mars", mars), proto, "official").gallery[:4])
    want, _ = extract_features(adapter, items, procedure=proc)
    got, _ = extract_features(file.adapter("cpu"), items, procedure=proc)
    assert np.abs(want - got).max() <= 1e-4

    by_adapter = evaluate(proto, mars, AdapterSource(name, str(ckpt)), bootstrap=0)
    # the file carries frame size and clip length; the paper's sampling and flip are passed
    fields = {k: getattr(proc, k) for k in ("sampling", "flip", "pooling", "distance")}
    by_file = evaluate(proto, mars, ModelFileSource(str(out)), procedure=fields, bootstrap=0)
    a, f = by_adapter.record.to_json(), by_file.record.to_json()
    for key, cell in a["metrics"].items():
        assert f["metrics"][key]["value"] == pytest.approx(cell["value"], abs=1e-6)
    assert f["procedure"] == a["procedure"]
    assert f["source"]["model"]["format"] == fmt


def test_a_pairwise_scorer_is_refused_with_the_reason(tmp_path, capsys):
    rc = main(["export", "read", "--config", '{"backbone": "small", "num_classes": 2}',
               "--format", "onnx", "--out", str(tmp_path / "r.onnx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "pairwise scorer" in err[0]
    assert not (tmp_path / "r.onnx").exists()


def test_another_models_checkpoint_names_the_adapter_it_belongs_to(tmp_path, capsys):
    # export takes the adapter as its first argument: the hint must not name an --adapter flag
    ckpt = _checkpoint("stmn", tmp_path / "w.safetensors")
    rc = main(["export", "cosam", "--checkpoint", str(ckpt), "--format", "onnx",
               "--out", str(tmp_path / "c.onnx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "weights of 'stmn'" in err[0] and "adapter stmn" in err[0]
    assert "--adapter" not in err[0]
    assert not (tmp_path / "c.onnx").exists()


class Unexportable(ModuleAdapter):
    """Adaptive pooling behind a reshape of the batch axis: torch's ONNX exporter cannot see its
    input height and refuses (after printing its whole graph to file descriptor 1)."""

    card = AdapterCard(name="unexportable", modes=("v2v",), input_size=(32, 16))

    def __init__(self):
        super().__init__(torch.nn.Conv2d(3, 4, 3, padding=1))

    def forward_features(self, clips):
        b, t = clips.shape[:2]
        y = torch.nn.functional.adaptive_avg_pool2d(self.model(clips.flatten(0, 1)), (2, 1))
        return y.flatten(1).view(b, t, -1).mean(dim=1)

    def procedure(self, default):
        return default.override(seq_len=2)


def test_a_network_the_onnx_exporter_refuses_is_one_line_and_nothing_else(tmp_path, capfd):
    out = tmp_path / "u.onnx"
    capfd.readouterr()
    rc = main(["export", f"{__name__}:Unexportable", "--format", "onnx", "--out", str(out)])
    cap = capfd.readouterr()
    err = cap.err.strip().splitlines()
    assert rc != 0 and cap.out == "", cap.out[:300]
    assert len(err) == 1 and err[0].startswith(f"error: ONNX export in {out}: ")
    assert "adaptive_avg_pool2d" in err[0] and "--format torchscript" in err[0]
    assert list(tmp_path.iterdir()) == []
    # the other format writes it
    assert main(["export", f"{__name__}:Unexportable", "--format", "torchscript", "--out",
                 str(tmp_path / "u.pt")]) == 0


@pytest.mark.parametrize("where", ["under_a_file", "a_folder", "read_only"])
def test_an_out_that_cannot_be_written_is_one_line_before_any_export(where, tmp_path, capsys):
    import os

    blocker = tmp_path / "blocker"
    if where == "under_a_file":
        blocker.write_text("x")
        out = blocker / "m.onnx"
    elif where == "a_folder":
        blocker.mkdir()
        out = blocker
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        blocker.mkdir()
        blocker.chmod(0o500)
        out = blocker / "m.onnx"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    try:
        rc = main(["export", f"{__name__}:Unexportable", "--format", "torchscript", "--out",
                   str(out)])
    finally:
        blocker.chmod(0o700) if blocker.is_dir() else None
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--out" in err[0], err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


class Untraceable(Unexportable):
    """Features returned in a dict: the tracer refuses a container output in strict mode."""

    card = AdapterCard(name="untraceable", modes=("v2v",), input_size=(32, 16))

    def forward_features(self, clips):
        return {"features": super().forward_features(clips)}


def test_a_network_the_tracer_refuses_is_one_line_and_nothing_else(tmp_path, capfd):
    out = tmp_path / "u.pt"
    capfd.readouterr()
    rc = main(["export", f"{__name__}:Untraceable", "--format", "torchscript", "--out", str(out)])
    err = capfd.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: TorchScript export in {out}: ") and "dict" in err[0]
    assert "--format onnx" in err[0]
    assert list(tmp_path.iterdir()) == []


class ThreeAxes(Unexportable):
    """Features of shape (B, D, 1): the model-file checks refuse an output that is not (N, D)."""

    card = AdapterCard(name="threeaxes", modes=("v2v",), input_size=(32, 16))

    def forward_features(self, clips):
        return super().forward_features(clips).unsqueeze(-1)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_an_export_the_model_file_checks_refuse_names_out(fmt, tmp_path, capsys):
    out = tmp_path / f"t.{'onnx' if fmt == 'onnx' else 'pt'}"
    rc = main(["export", f"{__name__}:ThreeAxes", "--format", fmt, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert str(out) in err[0] and ".tmp" not in err[0], err[0]
    assert list(tmp_path.iterdir()) == []
