"""Filesystem faults and crash windows (no dataset needed): one line each, recovered next run.

Tests run as root in CI (``id -u`` = 0), where ``chmod`` cannot make a file unreadable to the
test itself; unreadable files and read-only folders are then simulated with monkeypatch (the
code under test sees exactly the PermissionError / ``os.access`` answer a normal user gets), and
with real permissions otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_report_fixtures import write_result

from reidbench.cli import main
from reidbench.errors import DataError, InputError

ROOT_USER = os.geteuid() == 0


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


@pytest.mark.parametrize("shape", ["file", "read_only", "submissions_file"])
def test_leaderboard_add_into_unwritable_root_is_one_line(monkeypatch, capsys, tmp_path, shape):
    res = write_result(tmp_path / "res")
    lb = tmp_path / "lb"
    if shape == "file":
        lb.write_text("not a folder")
    elif shape == "submissions_file":
        lb.mkdir()
        (lb / "submissions").write_text("x")
    else:
        (lb / "submissions").mkdir(parents=True)
        _read_only(monkeypatch, lb / "submissions")
    assert main(["leaderboard", "add", str(res), "--leaderboards", str(lb)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--leaderboards" in err[0], err


# ----------------------------------------------------------------------------- crash windows
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("lock_text", ["dead", "garbage-old", "empty-old"])
def test_stale_add_lock_and_half_copy_recovered(tmp_path, lock_text):
    from reidbench.leaderboard.add import add_submission

    subs = tmp_path / "lb" / "submissions"
    subs.mkdir(parents=True)
    lock = subs / ".add.lock"
    lock.write_text({"dead": str(_dead_pid()), "garbage-old": "not a pid",
                     "empty-old": ""}[lock_text])
    if lock_text != "dead":
        os.utime(lock, (1, 1))  # written long ago
    half = subs / f".mars-v2v-1--x--y.abc123.pid{_dead_pid()}"
    half.mkdir()
    (half / "results.json").write_text("{")
    old_style = subs / ".mars-v2v-1--x--y.zzz"
    old_style.mkdir()
    sub = add_submission(write_result(tmp_path / "res"), tmp_path / "lb")
    assert sub.path.is_dir() and not lock.exists()
    assert sorted(p.name for p in subs.iterdir()) == [sub.name]


def test_lock_of_a_live_process_is_respected(tmp_path, monkeypatch):
    from reidbench.leaderboard import add

    subs = tmp_path / "lb" / "submissions"
    subs.mkdir(parents=True)
    (subs / ".add.lock").write_text(str(os.getpid()))
    monkeypatch.setattr(add, "LOCK_TIMEOUT_S", 0.2)
    with pytest.raises(DataError, match=f"process {os.getpid()}"):
        add.add_submission(write_result(tmp_path / "res"), tmp_path / "lb")
    assert (subs / ".add.lock").exists()


@pytest.mark.parametrize("state", ["old_and_complete_tmp", "old_only", "old_and_partial_tmp",
                                   "complete_tmp_only"])
def test_result_writer_killed_between_renames_is_recovered(tmp_path, state):
    from reidbench.engine.results import check_out_dir, read_result

    out = tmp_path / "res"
    write_result(out, map_value=0.6)
    if state != "complete_tmp_only":
        os.rename(out, tmp_path / ".res.k1l2.old")
    else:
        shutil.rmtree(out)
    if state in ("old_and_complete_tmp", "complete_tmp_only"):
        write_result(tmp_path / ".res.n3w4.tmp", map_value=0.9)
    elif state == "old_and_partial_tmp":
        (tmp_path / ".res.p5r6.tmp").mkdir()
        (tmp_path / ".res.p5r6.tmp" / "per_query.npz").write_bytes(b"half")
    check_out_dir(out)  # what the next `evaluate --out res` runs first
    want = 0.9 if "complete" in state else 0.6
    assert read_result(out).value("mAP") == pytest.approx(want)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_checkpoints_follow_the_umask(tmp_path, umask):
    torch = pytest.importorskip("torch")
    from reidbench.adapters import save_checkpoint

    old = os.umask(umask)
    try:
        save_checkpoint(tmp_path / "run" / "model.safetensors", {"w": torch.ones(2)}, {})
    finally:
        os.umask(old)
    assert (tmp_path / "run" / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_results_and_tables_follow_the_umask(tmp_path, umask):
    from reidbench.engine.results import EvalResult, read_result
    from reidbench.fileio import write_texts_atomic

    res = read_result(write_result(tmp_path / "src"))
    old = os.umask(umask)
    try:
        out = EvalResult(res.record, res.per_query).write(tmp_path / "res")
        (table,) = write_texts_atomic([(tmp_path / "t" / "x.md", "| a |\n")])
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    for f in (out / "results.json", out / "per_query.npz", table):
        assert f.stat().st_mode & 0o777 == 0o666 & ~umask, f


def test_failed_build_writes_nothing(tmp_path, monkeypatch):
    from reidbench.report import site
    from reidbench.report.site import build_tables

    lb = tmp_path / "lb"
    (lb / "published").mkdir(parents=True)
    from reidbench.leaderboard.io import SHIPPED_PUBLISHED

    for f in sorted(SHIPPED_PUBLISHED.glob("*.json"))[:4]:
        shutil.copy(f, lb / "published")
    calls = {"n": 0}
    real = site.render_table

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(site, "render_table", flaky)
    with pytest.raises(OSError):
        build_tables(lb, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.*"))


# ----------------------------------------------------------------------------- small ones
@pytest.mark.parametrize("length", [10_000, 1_000_000])
def test_huge_id_is_shortened_in_the_error(tmp_path, length):
    from reidbench.adapters import load_features_file

    p = tmp_path / "f.npz"
    np.savez(p, ids=np.array(["a", "b" * length]), features=np.ones((2, 2)))
    ff = load_features_file(p)
    with pytest.raises(DataError) as exc:
        ff.check_ids(["a", "c"], "mars/v2v@1")
    assert len(str(exc.value)) < 1000 and f"{length + 2:,} characters" in str(exc.value)


def test_cache_shard_one_dimension_short_is_not_used(tmp_path):
    from reidbench.engine.extract import FeatureCache

    cache = FeatureCache(tmp_path / "k")
    cache.add(["a", "b"], np.ones((2, 4), np.float32))
    cache.add(["c"], np.ones((1, 4), np.float32))
    assert set(cache.lookup({"a", "b", "c"})) == {"a", "b", "c"}
    shard = next(p for p in sorted((tmp_path / "k").glob("*.npz"))
                 if "c" in np.load(p)["keys"].tolist())
    with np.load(shard) as z:
        np.savez(shard.with_suffix(".tmp.npz"), keys=z["keys"], features=z["features"][:, :3],
                 digest=z["digest"])
    os.replace(shard.with_suffix(".tmp.npz"), shard)
    assert set(cache.lookup({"a", "b", "c"})) == {"a", "b"}
    # a shard rewritten consistently at another width: only one width is ever returned
    cache.add(["d"], np.ones((1, 3), np.float32))
    rows = cache.lookup({"a", "b", "d"})
    assert {r.shape[0] for r in rows.values()} == {4} and set(rows) == {"a", "b"}
    assert json.dumps(sorted(rows))  # plain keys


def test_texts_written_all_or_nothing_when_a_write_fails(tmp_path, monkeypatch):
    import pathlib

    from reidbench.fileio import write_texts_atomic

    (tmp_path / "a.md").write_text("old a\n")
    files = [(tmp_path / f"{k}.md", f"new {k}\n") for k in "abcdef"]
    real = pathlib.Path.write_text
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", flaky)
    with pytest.raises(OSError):
        write_texts_atomic(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]
    assert (tmp_path / "a.md").read_text() == "old a\n"


def test_existing_result_in_a_read_only_parent_refused_first(tmp_path, monkeypatch):
    from reidbench.records.files import check_out_dir

    parent = tmp_path / "runs"
    out = write_result(parent / "res")
    _read_only(monkeypatch, parent)
    with pytest.raises(InputError, match="read-only"):
        check_out_dir(out)
