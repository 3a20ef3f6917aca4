"""`report` outputs under a file and seeds out of range: one line before anything is drawn."""

from __future__ import annotations

import random

import pytest

from reidbench.cli import main


@pytest.mark.parametrize("seed", [0, 1])
def test_report_out_under_a_file_is_one_line(tmp_path, capsys, seed):
    rng = random.Random(seed)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    deep = "/".join(rng.choice("abc") for _ in range(rng.randint(0, 3)))
    under = blocker / deep if deep else blocker
    result = tmp_path / "no_result"  # never read: --out is refused first
    for args in (["report", "cmc", str(result), "--out", str(under / "c.png")],
                 ["report", "aphist", str(result), "--out", str(under / "a.svg")],
                 ["report", "html", "--out", str(under / "site")],
                 ["report", "gallery", str(result), "--data", str(tmp_path), "--out",
                  str(under / "g")]):
        capsys.readouterr()
        rc = main(args)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and "is a file" in err[0], (args, err)


@pytest.mark.parametrize("seed", [-1, -(2**40), 2**32, 2**70])
def test_seeds_out_of_range_are_one_line(tmp_path, capsys, seed):
    for args in (["evaluate", "-p", "mars/v2v@1", "--data", str(tmp_path), "--out",
                  str(tmp_path / "o"), "--features", str(tmp_path / "f.npz"), "--seed",
                  str(seed)],
                 ["compare", str(tmp_path), str(tmp_path), "--seed", str(seed)]):
        capsys.readouterr()
        rc = main(args)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and "--seed" in err[0], (args, err)
    assert not (tmp_path / "o").exists()
