"""Filesystem faults and crash windows: one line each, found before computing, recovered next run.

Tests run as root in CI (``id -u`` = 0), where ``chmod`` cannot make a file unreadable to the
test itself; unreadable files and read-only folders are then simulated with monkeypatch (the
code under test sees exactly the PermissionError / ``os.access`` answer a normal user gets), and
with real permissions otherwise.
"""

from __future__ import annotations

import os
import pathlib
import random
from pathlib import Path

import numpy as np
import pytest

from reidbench.cli import main
from reidbench.errors import DataError, InputError

ROOT_USER = os.geteuid() == 0


def _unreadable(monkeypatch, target: Path) -> None:
    """Make ``target`` unreadable (really, or simulated when running as root)."""
    if not ROOT_USER:
        target.chmod(0)
        return
    real_read_bytes, real_read_text, real_open = (pathlib.Path.read_bytes,
                                                  pathlib.Path.read_text, open)
    target = target.resolve()

    def read_bytes(self):
        if self.resolve() == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    def read_text(self, *args, **kwargs):
        if self.resolve() == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    def fake_open(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and Path(file).resolve() == target:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)
    monkeypatch.setattr(pathlib.Path, "read_text", read_text)
    monkeypatch.setattr("builtins.open", fake_open)


def _read_only(monkeypatch, folder: Path) -> None:
    """Make ``folder`` read-only (really, or simulated through os.access as root)."""
    if not ROOT_USER:
        folder.chmod(0o555)
        return
    real_access = os.access
    folder = folder.resolve()

    def access(path, mode, *a, **k):
        if Path(path).resolve() == folder and mode & os.W_OK:
            return False
        return real_access(path, mode, *a, **k)

    monkeypatch.setattr(os, "access", access)


# ----------------------------------------------------------------------------- unreadable files
TEXT_METADATA = {"mars": "info/*.txt", "lsvid": "list_sequence/*.txt",
                 "prid2011": "*.json", "dukev": None, "ilidsvid": None}


@pytest.mark.parametrize("layout", ["mars", "lsvid", "prid2011"])
def test_unreadable_metadata_is_one_line_in_verify_and_evaluate(synth_copy, monkeypatch, capsys,
                                                               tmp_path, layout):
    root = Path(synth_copy(layout))
    files = sorted(f for f in root.glob(TEXT_METADATA[layout]) if not f.name.startswith("_"))
    target = random.Random(layout).choice(files)
    _unreadable(monkeypatch, target)
    assert main(["data", "verify", layout, str(root)]) == 1
    out = capsys.readouterr().out
    assert "Permission" in out and target.name in out
    proto = {"mars": "mars/v2v@1", "lsvid": "lsvid/v2v@1", "prid2011": "prid2011/v2v@1"}[layout]
    feats = tmp_path / "f.npz"
    np.savez(feats, ids=np.array(["x"]), features=np.ones((1, 2)))
    template = str(feats) if layout != "prid2011" else str(tmp_path / "{split}.npz")
    code = main(["evaluate", "--protocol", proto, "--data", str(root), "--features", template,
                 "--out", str(tmp_path / "res")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Permission" in err[0], err


def test_unreadable_folder_is_one_line(synth_copy, monkeypatch):
    from reidbench.datasets import load

    root = Path(synth_copy("dukev"))
    folder = sorted(p for p in (root / "gallery").iterdir() if p.is_dir())[0]
    real = pathlib.Path.iterdir

    def iterdir(self):
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(pathlib.Path, "iterdir", iterdir)
    with pytest.raises(DataError, match="Permission denied"):
        load("dukev", root)


def test_verify_without_full_says_it_did_not_decode(synth_copy, capsys):
    root = synth_copy("mars")
    assert main(["data", "verify", "mars", str(root)]) == 0
    out = capsys.readouterr().out
    assert "headers only" in out and "--full" in out
    assert main(["data", "verify", "mars", str(root), "--full"]) == 0
    assert "note:" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- unwritable outputs
@pytest.mark.parametrize("shape", ["under_file", "read_only", "is_file"])
def test_evaluate_out_unwritable_refused_before_computing(synth_copy, monkeypatch, capsys,
                                                          tmp_path, shape):
    import reidbench.datasets as datasets

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    out = {"under_file": blocker / "deeper" / "res", "read_only": ro / "res",
           "is_file": blocker}[shape]
    if shape == "read_only":
        _read_only(monkeypatch, ro)

    def no_loading(*a, **k):
        raise AssertionError("the dataset was loaded before --out was checked")

    monkeypatch.setattr(datasets, "load", no_loading)
    code = main(["evaluate", "--protocol", "mars/v2v@1", "--data", str(synth_copy("mars")),
                 "--features", str(tmp_path / "f.npz"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--out" in err[0], err


@pytest.mark.parametrize("shape", ["under_file", "read_only"])
def test_train_out_unwritable_refused_before_training(monkeypatch, tmp_path, shape):
    import reidbench.datasets as datasets
    from reidbench.engine.train import TrainOptions, train

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    out = blocker / "run" if shape == "under_file" else ro / "run"
    if shape == "read_only":
        _read_only(monkeypatch, ro)
    monkeypatch.setattr(datasets, "load", lambda *a, **k: pytest.fail("loaded"))
    with pytest.raises(InputError, match="out_dir"):
        train("stmn", tmp_path, "mars", out, options=TrainOptions(epochs=1))


