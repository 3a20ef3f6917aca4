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
    assert res.record["source"]["adapter"]["checkpoint_meta"]["baseline"] == "tiny-trainable"
    assert res.record["source"]["adapter"]["checkpoint_sha256"]
    cost = res.record["source"]["adapter"]["cost"]  # one forward of a (1, 3, 3, 32, 16) clip
    assert cost["clip_shape"] == [1, 3, 3, 32, 16] and 0 < cost["gflops_per_clip"] < 1
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
    assert len(sweep["rows"]) == 4
    assert {(r["axes"]["width"], r["trial"]) for r in sweep["rows"]} == {(4, 0), (4, 1), (6, 0),
                                                                         (6, 1)}
    on_disk = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert on_disk["schema"] == "reidbench.sweep/1" and len(on_disk["rows"]) == 4
    stamp = (tmp_path / "sw" / on_disk["rows"][0]["result"] / "results.json").stat().st_mtime
    run_sweep(TARGET, mars, "mars", "mars/v2v@1", grid, tmp_path / "sw", trials=2,
              train_options=OPTS, procedure={"input_size": (32, 16), "seq_len": 3})
    result_file = tmp_path / "sw" / on_disk["rows"][0]["result"] / "results.json"
    assert result_file.stat().st_mtime == stamp


def test_untrainable_adapter_is_refused(mars, tmp_path):
    from reidbench.errors import InputError

    with pytest.raises(InputError, match="TrainableAdapter"):
        train("reidbench.adapters:Adapter", mars, "mars", tmp_path / "x", options=OPTS)
    assert isinstance(get_adapter(TARGET), TinyTrainable)
