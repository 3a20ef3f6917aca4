"""The training loop and the sweep runner on a tiny trainable adapter and a synthetic MARS copy."""

import json

import pytest
import torch
import torch.nn.functional as F

from reidbench.adapters import AdapterCard, TrainableAdapter, TrainRecipe, get_adapter
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine import AdapterSource, evaluate
from reidbench.engine.sweep import run_sweep
from reidbench.engine.train import TrainOptions, train


class TinyNet(torch.nn.Module):
    def __init__(self, num_classes, width):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 3, padding=1)
        self.fc = torch.nn.Linear(width, max(num_classes, 1))

    def forward(self, clips):
        b, t = clips.shape[:2]
        f = F.relu(self.conv(clips.flatten(0, 1))).mean(dim=(2, 3)).view(b, t, -1).mean(1)
        return {"features": f, "logits": self.fc(f)}


class TinyTrainable(TrainableAdapter):
    card = AdapterCard(name="tiny-trainable")
    recipe = TrainRecipe(P=4, K=2, seq_len=3, lr=1e-2, weight_decay=0.0, epochs=2, step_size=None)

    def __init__(self, num_classes=0, width=8):
        super().__init__(TinyNet(num_classes, width), {"num_classes": num_classes, "width": width})

    def training_loss(self, clips, pids):
        loss = F.cross_entropy(self.model(clips)["logits"], pids)
        return loss, {"ce": float(loss.detach())}


TARGET = f"{__name__}:TinyTrainable"
OPTS = TrainOptions(epochs=2, iters_per_epoch=2, input_size=(32, 16), val_fraction=0.3, seed=1)


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    cfg = SynthConfig(height=32, width=16, min_len=3, max_len=6, median_len=4.0)
    return write_dataset("mars", tmp_path_factory.mktemp("m") / "MARS", ids=20, seed=5,
                         config=cfg).root


def test_train_writes_a_checkpoint_that_evaluate_rebuilds(mars, tmp_path):
    summary = train(TARGET, mars, "mars", tmp_path / "run", model_config={"width": 6},
                    options=OPTS)
    assert summary["epochs_done"] == 2 and summary["best_val_mAP"] is not None
    assert summary["n_val_ids"] >= 2
    meta_config = summary["config"]
    assert meta_config["width"] == 6 and meta_config["num_classes"] == summary["n_train_ids"]
    # evaluate rebuilds the architecture from the checkpoint's config (width 6, not the default 8)
    res = evaluate("mars/v2v@1", mars, AdapterSource(TARGET, summary["checkpoint"]),
                   procedure={"input_size": (32, 16), "seq_len": 3}, bootstrap=0)
    assert res.record.source.adapter.checkpoint_meta["baseline"] == "tiny-trainable"
    assert res.record.source.adapter.checkpoint_sha256
    cost = res.record.source.adapter.cost  # one forward of a (1, 3, 3, 32, 16) clip
    assert cost["clip_shape"] == (1, 3, 3, 32, 16) and 0 < cost["gflops_per_clip"] < 1
    # resuming a finished run does no more epochs
    again = train(TARGET, mars, "mars", tmp_path / "run", model_config={"width": 6}, options=OPTS)
    assert again["epochs_done"] == 2 and len(again["history"]) == 2


def test_train_is_seeded(mars, tmp_path):
    a = train(TARGET, mars, "mars", tmp_path / "a", options=OPTS)
    b = train(TARGET, mars, "mars", tmp_path / "b", options=OPTS)
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]


def test_sweep_runs_every_cell_and_resumes(mars, tmp_path):
    grid = {"width": [4, 6]}
    sweep = run_sweep(TARGET, mars, "mars", "mars/v2v@1", grid, tmp_path / "sw", trials=2,
                      train_options=OPTS, procedure={"input_size": (32, 16), "seq_len": 3})
    assert len(sweep["rows"]) == 4 and sweep["resumed"] == 0
    assert {(r["axes"]["width"], r["trial"]) for r in sweep["rows"]} == {(4, 0), (4, 1), (6, 0),
                                                                         (6, 1)}
    on_disk = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert on_disk["schema"] == "reidbench.sweep/1" and len(on_disk["rows"]) == 4
    assert not any(r["stopped_early"] for r in on_disk["rows"])  # no --max-minutes budget
    assert "resumed" not in on_disk
    stamp = (tmp_path / "sw" / on_disk["rows"][0]["result"] / "results.json").stat().st_mtime
    assert run_sweep(TARGET, mars, "mars", "mars/v2v@1", grid, tmp_path / "sw", trials=2,
                     train_options=OPTS, procedure={"input_size": (32, 16), "seq_len": 3}
                     )["resumed"] == 4
    result_file = tmp_path / "sw" / on_disk["rows"][0]["result"] / "results.json"
    assert result_file.stat().st_mtime == stamp
    # a cell whose training the budget cut is marked, also when the sweep resumes it
    train_json = tmp_path / "sw" / on_disk["rows"][0]["result"] / ".." / "run" / "train.json"
    summary = json.loads(train_json.read_text())
    train_json.write_text(json.dumps({**summary, "stopped_early": True}))
    again = run_sweep(TARGET, mars, "mars", "mars/v2v@1", grid, tmp_path / "sw", trials=2,
                      train_options=OPTS, procedure={"input_size": (32, 16), "seq_len": 3})
    assert [r["stopped_early"] for r in again["rows"]] == [True, False, False, False]


PROC = {"input_size": (32, 16), "seq_len": 3}


def _sweep(mars, out, **kw):
    args = {"trials": 1, "train_options": OPTS, "procedure": PROC, **kw}
    grid = args.pop("grid", {"width": [4]})
    return run_sweep(TARGET, mars, "mars", "mars/v2v@1", grid, out, **args)


def test_sweep_refuses_to_resume_under_other_settings(mars, tmp_path):
    from dataclasses import replace

    from reidbench.errors import DataError

    out = tmp_path / "sw"
    calls = []
    first = _sweep(mars, out, progress=lambda *a: calls.append(a))
    assert calls[0] == ("sweep", 0, 1) and calls[-1] == ("sweep", 1, 1)  # the clock starts first
    assert first["settings"]["train_options"]["epochs"] == 2 and len(first["settings_hash"]) == 16
    cell = out / "cells" / "width=4_t0"
    assert json.loads((cell / "cell.json").read_text())["settings"]["axes"] == {"width": 4}
    before = (out / "sweep.json").read_bytes()
    stamp = (cell / "result" / "results.json").stat().st_mtime
    changes = [({"train_options": replace(OPTS, epochs=3)}, "train_options.epochs 2 -> 3"),
               ({"train_options": replace(OPTS, input_size=(48, 16))}, "train_options.input_size"),
               ({"procedure": {**PROC, "seq_len": 4}}, "procedure.seq_len 3 -> 4"),
               ({"model_config": {"width": 4}}, "model_config.width"),
               ({"train_options": replace(OPTS, seed=2)}, "train_options.seed 1 -> 2")]
    for change, diff in changes:
        with pytest.raises(DataError, match="fresh=true") as exc:
            _sweep(mars, out, **change)
        assert diff in str(exc.value) and "new folder" in str(exc.value)
        assert exc.value.param == "fresh"  # the CLI prints it as --fresh
    assert (out / "sweep.json").read_bytes() == before  # nothing rewritten
    # the cells are checked too when sweep.json is gone (a crashed or older sweep)
    (out / "sweep.json").unlink()
    with pytest.raises(DataError, match=r"cell\.json.*train_options\.epochs 2 -> 3"):
        _sweep(mars, out, train_options=replace(OPTS, epochs=3))
    # the same settings resume without re-running; a device change is not a setting
    again = _sweep(mars, out, train_options=replace(OPTS, device="cpu", resume=False))
    assert (cell / "result" / "results.json").stat().st_mtime == stamp
    assert again["settings_hash"] == first["settings_hash"]
    # a cell folder without cell.json (made before settings were recorded) is refused too
    (cell / "cell.json").unlink()
    (out / "sweep.json").unlink()
    with pytest.raises(DataError, match="no settings recorded"):
        _sweep(mars, out)
    # --fresh starts over
    fresh = _sweep(mars, out, train_options=replace(OPTS, epochs=1), fresh=True)
    assert fresh["settings"]["train_options"]["epochs"] == 1
    assert (cell / "result" / "results.json").stat().st_mtime != stamp


def test_sweep_checks_every_cell_before_training(mars, tmp_path):
    from dataclasses import replace

    from reidbench.errors import DataError

    out = tmp_path / "sw"
    _sweep(mars, out, grid={"width": [6]})
    (out / "sweep.json").unlink()
    with pytest.raises(DataError):  # width=4 is new, width=6 conflicts: nothing trained
        _sweep(mars, out, grid={"width": [4, 6]}, train_options=replace(OPTS, epochs=1))
    assert not (out / "cells" / "width=4_t0").exists()


def test_sweep_refuses_an_unknown_axis_before_training(mars, tmp_path):
    from reidbench.errors import InputError

    with pytest.raises(InputError, match="Did you mean 'width'"):
        _sweep(mars, tmp_path / "sw", grid={"widht": [4]})
    assert not (tmp_path / "sw").exists()


def test_untrainable_adapter_is_refused(mars, tmp_path):
    from reidbench.errors import InputError

    with pytest.raises(InputError, match="TrainableAdapter"):
        train("reidbench.adapters:Adapter", mars, "mars", tmp_path / "x", options=OPTS)
    assert isinstance(get_adapter(TARGET), TinyTrainable)
