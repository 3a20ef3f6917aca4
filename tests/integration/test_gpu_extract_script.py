"""``benchmarks/gpu_extract.sh``: its CPU dry run end to end, and a clear stop without a GPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_extract.sh"


def _run(*args, timeout=180):
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_dry_run_prints_the_table(tmp_path):
    r = _run("--dry-run", "--work", str(tmp_path / "w"))
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| run | frames | seconds | frames/s")
    assert sum("evaluate end to end" in line for line in rows) == 2
    assert sum("model alone on the device" in line for line in rows) == 2
    assert "metric (scoring" in r.stdout and "synthetic MARS test set" in r.stdout
    fps = [float(line.split("|")[4].replace(",", "")) for line in rows[2:]]
    assert all(v > 0 for v in fps)
    # the copy is in the official layout: the real parser read it, and both runs scored it alike
    maps = {line.split("mAP ")[1].split()[0] for line in rows if "mAP " in line}
    assert len(maps) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there: the script would run")
def test_without_a_gpu_it_stops_at_once_with_one_line(tmp_path):
    r = _run("--work", str(tmp_path / "w"), timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: benchmarks/gpu_extract.sh: expected a "
                                                   "CUDA GPU, got none")
    assert not (tmp_path / "w").exists()


def test_a_bad_fraction_is_one_line(tmp_path):
    r = _run("--dry-run", "--fraction", "3", "--work", str(tmp_path / "w"), timeout=60)
    assert r.returncode == 2 and "--fraction" in r.stderr and len(r.stderr.splitlines()) == 1
