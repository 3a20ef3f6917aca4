"""The training loop's run handling: exact resume, refused foreign resumes, input sizes, notices,
split names and the progress total under a time budget (tiny adapters, a synthetic copy)."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from reidbench.adapters import AdapterCard, TrainableAdapter, TrainRecipe, load_checkpoint
from reidbench.cli import main
from reidbench.cli._common import split_name
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine.train import TrainOptions, _shown_total, train
from reidbench.errors import InputError


class TinyNet(torch.nn.Module):
    def __init__(self, num_classes, width):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 3, padding=1)
        self.drop = torch.nn.Dropout(0.5)  # draws from torch's generator in training
        self.fc = torch.nn.Linear(width, max(num_classes, 1))

    def forward(self, clips):
        b, t = clips.shape[:2]
        f = F.relu(self.conv(clips.flatten(0, 1))).mean(dim=(2, 3)).view(b, t, -1).mean(1)
        return {"features": f, "logits": self.fc(self.drop(f))}


class Tiny(TrainableAdapter):
    card = AdapterCard(name="tiny")
    # every random source of the loop: P x K sampler, RRS frames, flips, erasing, dropout
    recipe = TrainRecipe(P=4, K=2, seq_len=3, lr=1e-2, weight_decay=0.0, epochs=3, step_size=2,
                         erasing=0.5)

    def __init__(self, num_classes=0, width=8):
        super().__init__(TinyNet(num_classes, width), {"num_classes": num_classes, "width": width})

    def training_loss(self, clips, pids):
        loss = F.cross_entropy(self.model(clips)["logits"], pids)
        return loss, {"ce": float(loss.detach())}


class OtherTiny(Tiny):
    card = AdapterCard(name="other-tiny")


class SizedTiny(Tiny):
    """A model whose config fixes the frame size (like COSAM): refuses other sizes."""

    card = AdapterCard(name="sized-tiny")

    def __init__(self, num_classes=0, width=8, input_size=(256, 128)):
        super().__init__(num_classes, width)
        self.config["input_size"] = list(input_size)

    def training_loss(self, clips, pids):
        assert list(clips.shape[-2:]) == self.config["input_size"], clips.shape
        return super().training_loss(clips, pids)


class BrokenTiny(Tiny):
    card = AdapterCard(name="broken-tiny")

    def training_loss(self, clips, pids):
        raise InputError("frame size in BrokenTiny: expected nothing, got a batch.")


TINY, OTHER, SIZED, BROKEN = (f"{__name__}:{c}" for c in ("Tiny", "OtherTiny", "SizedTiny",
                                                          "BrokenTiny"))
OPTS = TrainOptions(iters_per_epoch=3, input_size=(32, 16), val_fraction=0.3, seed=3)


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    cfg = SynthConfig(height=32, width=16, min_len=3, max_len=6, median_len=4.0)
    return write_dataset("mars", tmp_path_factory.mktemp("m") / "MARS", ids=20, seed=5,
                         config=cfg).root


def _final_weights(run):
    return torch.load(str(run / "last.pt"), weights_only=True)["model"]


def test_resumed_run_equals_the_uninterrupted_one(mars, tmp_path):
    whole = train(TINY, mars, "mars", tmp_path / "whole", options=OPTS)
    first = train(TINY, mars, "mars", tmp_path / "cut", options=replace(OPTS, epochs=1))
    assert first["epochs_done"] == 1
    resumed = train(TINY, mars, "mars", tmp_path / "cut", options=OPTS)
    assert resumed["epochs_done"] == 3 and whole["epochs_done"] == 3
    for key in ("loss", "val_mAP"):
        assert [h[key] for h in resumed["history"]] == [h[key] for h in whole["history"]], key
    a, b = _final_weights(tmp_path / "whole"), _final_weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_another_baseline_or_config(mars, tmp_path):
    run = tmp_path / "run"
    train(TINY, mars, "mars", run, model_config={"width": 6}, options=replace(OPTS, epochs=1))
    with pytest.raises(InputError, match=r"config\.width 6 -> 8.*resume=false"):
        train(TINY, mars, "mars", run, options=OPTS)
    with pytest.raises(InputError, match=r"baseline 'tiny' -> 'other-tiny'.*resume=false"):
        train(OTHER, mars, "mars", run, model_config={"width": 6}, options=OPTS)
    with pytest.raises(InputError, match=r"seed 3 -> 4"):  # another validation split
        train(TINY, mars, "mars", run, model_config={"width": 6}, options=replace(OPTS, seed=4))
    # a resume state without the run record (older reidbench) that does not fit: one line too
    state = torch.load(str(run / "last.pt"), weights_only=True)
    del state["run"]
    torch.save(state, str(run / "last.pt"))
    with pytest.raises(InputError, match=r"train \(resume\).*resume=false"):
        train(TINY, mars, "mars", run, options=OPTS)
    fresh = train(TINY, mars, "mars", run, options=replace(OPTS, epochs=1, resume=False))
    assert fresh["config"]["width"] == 8


def test_checkpoint_meta_carries_the_input_size(mars, tmp_path):
    summary = train(TINY, mars, "mars", tmp_path / "r", options=replace(OPTS, epochs=1))
    assert load_checkpoint(summary["checkpoint"]).meta["input_size"] == [32, 16]
    assert summary["input_size"] == [32, 16]


def test_frame_size_reaches_models_that_take_one(mars, tmp_path):
    opts = replace(OPTS, epochs=1, input_size=(24, 16))
    summary = train(SIZED, mars, "mars", tmp_path / "r", options=opts)
    assert summary["config"]["input_size"] == [24, 16]
    assert load_checkpoint(summary["checkpoint"]).meta["input_size"] == [24, 16]
    with pytest.raises(InputError, match="input_size") as err:
        train(SIZED, mars, "mars", tmp_path / "bad", model_config={"input_size": [32, 16]},
              options=opts)
    assert err.value.param == "input_size"  # the CLI prints it as --height/--width
    assert not (tmp_path / "bad").exists()  # a failed run leaves no empty folder
    (tmp_path / "mine").mkdir()
    with pytest.raises(InputError):
        train(SIZED, mars, "mars", tmp_path / "mine", model_config={"input_size": [32, 16]},
              options=opts)
    assert (tmp_path / "mine").is_dir()  # a folder the user made stays
    with pytest.raises(InputError, match="BrokenTiny"):  # fails in the first step
        train(BROKEN, mars, "mars", tmp_path / "broken", options=opts)
    assert not (tmp_path / "broken").exists()


def test_validation_off_is_announced(mars, tmp_path):
    lines = []
    train(TINY, mars, "mars", tmp_path / "a", options=replace(OPTS, epochs=1, val_fraction=0.05),
          notify=lines.append)
    assert len(lines) == 1 and "validation is off" in lines[0] and "val_fraction" in lines[0]
    lines.clear()
    train(TINY, mars, "mars", tmp_path / "b", options=replace(OPTS, epochs=1), notify=lines.append)
    # a handful of held-out identities is announced too: their mAP is easily 100.00
    assert len(lines) == 1 and "only 3 held-out identities" in lines[0]


def test_progress_total_follows_the_time_budget():
    assert _shown_total(13, 4000, 13.0, 60.0) == 13 + 47  # 1 s per iteration, 47 s left
    assert _shown_total(13, 20, 13.0, 60.0) == 20
    assert _shown_total(13, 4000, 13.0, None) == 4000
    assert _shown_total(0, 4000, 0.0, 60.0) == 4000
    assert _shown_total(13, 4000, 70.0, 60.0) == 13


def test_split_numbers_name_splits():
    assert split_name("3") == "split3" and split_name(" 07") == "split7"
    assert split_name("split3") == "split3" and split_name("official") == "official"
    assert split_name(None) is None


def test_cli_split_number_and_notices(tmp_path, capsys, monkeypatch):
    root = write_dataset("ilidsvid", tmp_path / "iLIDS", ids=16, seed=2,
                         config=SynthConfig(height=32, width=16, min_len=3, max_len=5,
                                            median_len=4.0)).root
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    args = ["train", TINY, "--data", str(root), "--dataset", "ilidsvid", "--out",
            str(tmp_path / "run"), "--split", "3", "--height", "32", "--width", "16",
            "--iters-per-epoch", "1"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "ilidsvid split3" in out
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"  # idle OpenMP threads sleep (calm_openmp)
    assert "validation is off" in err  # 8 training identities
    assert "paper's full recipe" not in err  # --iters-per-epoch given
    train_json = json.loads((tmp_path / "run" / "train.json").read_text())
    assert train_json["split"] == "split3"
    assert main(args[:-2] + ["--no-resume"]) == 0
    err = capsys.readouterr().err
    assert "no GPU found" in err and "3 epochs" in err and "--config" in err


def test_cli_trains_cosam_at_another_frame_size(mars, tmp_path, capsys):
    out = tmp_path / "cosam"
    args = ["train", "cosam", "--data", str(mars), "--dataset", "mars", "--out", str(out),
            "--config", '{"backbone": "small", "width": 8}', "--height", "32", "--width", "32",
            "--epochs", "1", "--iters-per-epoch", "1", "--val-fraction", "0"]
    assert main(args) == 0, capsys.readouterr().err
    meta = load_checkpoint(out / "model.safetensors").meta
    assert meta["config"]["input_size"] == [32, 32] and meta["input_size"] == [32, 32]
    bad = tmp_path / "bad"
    args = [a if a != str(out) else str(bad) for a in args]
    args[args.index("--config") + 1] = '{"backbone": "small", "input_size": [64, 32]}'
    assert main(args) == 2
    assert "--height/--width" in capsys.readouterr().err
    assert not bad.exists()


def test_calm_openmp_keeps_the_users_setting(monkeypatch):
    from reidbench.cli._common import calm_openmp

    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    calm_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


class NoticeTiny(Tiny):
    def training_notices(self):
        return ["warning: notice from the adapter"]


def test_adapter_training_notices_reach_notify(mars, tmp_path):
    lines = []
    train(f"{__name__}:NoticeTiny", mars, "mars", tmp_path / "n",
          options=replace(OPTS, epochs=1, val_fraction=0.05), notify=lines.append)
    assert "warning: notice from the adapter" in lines


def test_the_validation_pass_shows_progress(mars, tmp_path):
    stages = []
    train(TINY, mars, "mars", tmp_path / "v", options=replace(OPTS, epochs=1),
          progress=lambda stage, done, total: stages.append(stage))
    assert stages[0].startswith("train") and any(s.startswith("extract validation")
                                                 for s in stages)
