"""Frames that are no regular file: a named pipe, a link to a device, a folder, a link loop.

Opening a pipe blocks forever and ``/dev/zero`` never ends, so `data verify` (headers or
``--full``) and `evaluate` check a frame's kind before reading it. A random query tracklet of a
fresh copy has every frame replaced (so whatever frames the sampling picks are hit).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from reidbench.cli import main
from reidbench.datasets import load
from reidbench.engine import build_evalset
from reidbench.protocols import get_protocol

KINDS = ["fifo", "dev_zero", "folder", "loop"]


def _replace(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(path)


@pytest.fixture()
def damaged(synth_copy, tmp_path):
    def make(kind: str, seed: int) -> Path:
        root = tmp_path / f"MARS-{kind}"
        shutil.copytree(synth_copy("mars"), root)
        ds = load("mars", root)
        proto = get_protocol("mars/v2v@1")
        query = build_evalset(ds, proto, proto.evaluation.splits[0]).query
        victim = random.Random(seed).choice(query)
        for frame in victim.frames:
            _replace(Path(frame), kind)
        return root

    return make


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", KINDS)
def test_verify_and_evaluate_refuse_frames_that_are_no_files(damaged, tmp_path, capsys, kind):
    root = damaged(kind, seed=KINDS.index(kind))
    for full in ([], ["--full"]):
        capsys.readouterr()
        rc = main(["data", "verify", "--dataset", "mars", "--data", str(root), *full])
        out = capsys.readouterr().out
        assert rc != 0 and ("not a regular file" in out or "cannot be read" in out), out
    out_dir = tmp_path / "out"
    capsys.readouterr()
    rc = main(["evaluate", "-p", "mars/v2v@1", "--data", str(root), "--out", str(out_dir),
               "--adapter", "stmn", "--config", "backbone=small", "--device", "cpu",
               "--bootstrap", "0", "--workers", "0"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
    assert rc == 2 and len(err) == 1 and "frame" in err[0], err
    assert not out_dir.exists()
