"""`train` and `sweep` refuse every bad option in one line, before anything is read or written."""

import random

import pytest
import torch

from reidbench.cli import main


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    root = tmp_path_factory.mktemp("m") / "MARS"
    assert main(["data", "synth", "--dataset", "mars", "--out", str(root), "--ids", "6"]) == 0
    return str(root)


def _bad_options(seed):
    """(extra args, the flag the error must name): fixed cases plus generated variants."""
    rng = random.Random(seed)
    huge = str(10 ** rng.randint(19, 40))
    cases = [
        (["--config", "[1,2]"], "--config"), (["--config", '{"bogus": 1}'], "--config"),
        (["--config", '{"M": "x"}'], "--config"), (["--config", "M=x"], "--config"),
        (["--config", '{"backbone": "small"'], "--config"),
        (["--device", "tpu"], "--device"), (["--device", "cuda:99"], "--device"),
        (["--iters-per-epoch", str(-rng.randint(1, 99))], "--iters-per-epoch"),
        (["--iters-per-epoch", huge], "--iters-per-epoch"),
        (["--epochs", rng.choice(["0", "-3", huge])], "--epochs"),
        (["--seq-len", rng.choice(["0", "-1", huge])], "--seq-len"),
        (["--lr", rng.choice(["-1", "0", "nan", "inf", "1e9"])], "--lr"),
        (["--val-fraction", rng.choice(["5", "1", "-0.1", "nan"])], "--val-fraction"),
        (["--max-minutes", rng.choice(["-1", "0", "nan", "inf"])], "--max-minutes"),
        (["--height", rng.choice(["0", "-4", "5000"])], "--height"),
        (["--width", rng.choice(["0", "-4", "5000"])], "--width"),
        (["--seed", rng.choice(["-1", str(2**40)])], "--seed"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda"], "--device"))
    return cases


@pytest.mark.parametrize("seed", [0, 1])
def test_train_refuses_bad_options_in_one_line(mars, tmp_path, capsys, seed):
    base = ["train", "stmn", "--data", mars, "--dataset", "mars", "--epochs", "1",
            "--iters-per-epoch", "1", "--height", "32", "--width", "16"]
    for k, (extra, flag) in enumerate(_bad_options(seed)):
        if "--config" not in extra:
            extra = [*extra, "--config", "backbone=small"]
        out = tmp_path / f"run{k}"
        assert main([*base, "--out", str(out), *extra]) == 2, extra
        err = [line for line in capsys.readouterr().err.splitlines()
               if line.startswith("error:")]
        assert len(err) == 1 and err[0].startswith(f"error: {flag} "), (extra, err)
        assert "Traceback" not in err[0]
        assert not out.exists(), extra  # nothing left behind


def test_sweep_refuses_bad_options_before_training(mars, tmp_path, capsys):
    base = ["sweep", "stmn", "--grid", "M=5", "--data", mars, "--epochs", "1",
            "--iters-per-epoch", "1", "--height", "32", "--width", "16"]
    cases = [c for c in _bad_options(2) if c[1] != "--val-fraction"]  # a sweep does not validate
    cases += [(["--trials", "0"], "--trials"),
             (["-p", "mars/i2v@1"], "--protocol")]
    for k, (extra, flag) in enumerate(cases):
        out = tmp_path / f"sweep{k}"
        assert main([*base, "--out", str(out), *extra]) == 2, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert err and err[-1].startswith(f"error: {flag} "), (extra, err)
        assert not (out / "cells").exists(), extra


def test_a_run_stopped_by_its_budget_says_so():
    from reidbench.cli.train import train_line

    summary = {"baseline": "stmn", "epochs_done": 1, "best_val_mAP": 1.0, "n_val_ids": 2,
               "split": "official", "checkpoint": "r/model.safetensors", "stopped_early": True,
               "recipe": {"epochs": 200}}
    line = train_line(summary, "mars")
    assert "stopped by the --max-minutes budget; 200 planned" in line
    assert "on 2 held-out identities" in line
    assert "stopped" not in train_line({**summary, "stopped_early": False}, "mars")
