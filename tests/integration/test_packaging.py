"""An installed reidbench works outside the checkout: wheel contents, published records, API.

The wheel is built from the working tree (``pip wheel --no-deps --no-build-isolation``, about 3 s)
and must ship the published records as package data; ``leaderboard build`` and ``report
ablations`` then run from an empty folder. The public names of ``import reidbench`` are listed by
``dir()`` and resolve, and the fraction-vs-percent convention holds.
"""

from __future__ import annotations

import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

import reidbench
from reidbench.leaderboard.io import SHIPPED_PUBLISHED, published_dir

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_the_published_records(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("reidbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.name for p in SHIPPED_PUBLISHED.glob("*.json"))
    assert len(shipped) >= 10
    assert sorted(n.rsplit("/", 1)[1] for n in names
                  if n.startswith("reidbench/leaderboard/published/")) == shipped
    tops = {n.split("/", 1)[0] for n in names}
    assert "reidbench_baselines" in tops and "baselines" not in tops


def test_leaderboard_build_and_ablations_from_an_empty_folder(tmp_path):
    cli = [sys.executable, "-m", "reidbench"]
    for args in (["leaderboard", "build", "--out", "out", "--format", "md"],
                 ["report", "ablations", "--out", "out/ablations"]):
        proc = subprocess.run(cli + args, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "tables" / "denseil-table2.md").is_file()
    assert (tmp_path / "out" / "leaderboards" / "leaderboard-mars-v2v-1.md").is_file()
    assert (tmp_path / "out" / "ablations" / "stmn-memory-grid.md").is_file()


def test_published_folder_of_ones_own(tmp_path, capsys):
    from reidbench.cli import main

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "stmn-table1.json").write_bytes((SHIPPED_PUBLISHED / "stmn-table1.json").read_bytes())
    assert published_dir() == SHIPPED_PUBLISHED
    assert published_dir(tmp_path / "nowhere", mine) == mine
    assert main(["leaderboard", "build", "--out", str(tmp_path / "o"), "--format", "md",
                 "--published", str(mine), "--leaderboards", str(tmp_path / "lb")]) == 0
    assert sorted(p.name for p in (tmp_path / "o" / "tables").iterdir()) == ["stmn-table1.md"]
    assert main(["leaderboard", "build", "--out", str(tmp_path / "o"), "--published",
                 str(tmp_path / "absent")]) == 2
    assert "--published" in capsys.readouterr().err


def test_dir_lists_the_lazy_entry_points():
    names = dir(reidbench)
    for name in ("evaluate", "FeaturesSource", "AdapterSource", "read_result", "get_protocol",
                 "rank_metrics", "rank_metrics_from_features"):
        assert name in names and name in reidbench.__all__
        assert callable(getattr(reidbench, name))
    # the helpers of reidbench/__init__.py (Any, annotations, _LAZY) are not listed; subpackages
    # imported so far are
    public = [n for n in names if not n.startswith("__")
              and not isinstance(getattr(reidbench, n), types.ModuleType)]
    assert sorted(public) == sorted(n for n in reidbench.__all__ if not n.startswith("__"))
    with pytest.raises(AttributeError):
        reidbench.no_such_name  # noqa: B018


def test_library_values_are_fractions_the_cli_prints_percent(synth_copy, features_for, tmp_path):
    """The library returns fractions; the CLI prints percent (README, reidbench docstring)."""
    from reidbench.cli._common import format_summary

    root = synth_copy("mars")
    features_for(tmp_path / "f.npz", "mars/v2v@1", root)
    result = reidbench.evaluate("mars/v2v@1", root, reidbench.FeaturesSource(
        str(tmp_path / "f.npz")), bootstrap=0)
    value = result.value("mAP")
    assert 0.0 <= value <= 1.0
    assert f"{100 * value:.2f}" in format_summary(result.record)
    rng = np.random.default_rng(0)
    q_pids, g_pids = np.arange(4), np.repeat(np.arange(4), 2)
    q_cams, g_cams = np.zeros(4, int), np.ones(8, int)
    feats_q, feats_g = rng.normal(size=(4, 8)), rng.normal(size=(8, 8))
    m = reidbench.rank_metrics_from_features(feats_q, feats_g, q_pids, g_pids, q_cams, g_cams)
    assert 0.0 <= m.map <= 1.0 and 0.0 <= m.cmc[0] <= 1.0

