"""`reidbench metrics parity` and `reidbench demo`, end to end on small problems."""

import json

import numpy as np
import pytest

from reidbench.cli import main
from reidbench.cli.metrics import format_parity_table
from reidbench.metrics.parity import ParityReport, ParityRow
from reidbench.metrics.stats import Interval
from reidbench.metrics.synthetic import make_problem

SMALL = ["--queries", "40", "--gallery", "260", "--boot", "200"]


def _run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _iv(x, hw=0.01):
    return Interval(x, x - hw, x + hw, 0.95, hw / 2, 10, 100)


def test_format_parity_table_shows_every_row_delta_and_ci():
    def row(group, label, m):
        metrics = {k: _iv(m) for k in ("mAP", "rank1", "rank5", "rank10", "rank20", "mINP")}
        return ParityRow(group, label, {}, metrics, 10, 2, 0.0123, "")

    report = ParityReport(
        rows=(row("variant", "noninterp / stable", 0.8), row("variant", "trapezoid / stable", 0.78),
              row("preset", "torchreid", 0.8)),
        problem={"source": "test", "n_query": 12, "n_gallery": 50, "seed": 3},
        n_boot=100, level=0.95, seconds=0.5, notes=("a note",))
    text = format_parity_table(report)
    lines = text.splitlines()
    assert "12 queries x 50 gallery, seed 3" in lines[0]
    assert "95% bootstrap CI" in text and "(100 resamples)" in text
    tr = next(line for line in lines if "trapezoid / stable" in line)
    assert "78.00 ±1.00" in tr and "-2.00" in tr and "12ms" in tr
    assert "AP variant / tie policy" in text and "Presets (codebases)" in text
    assert "* a note" in text and "Total time 0.50 s" in text
    assert "Row times are warm" in text


def test_parity_synthetic_table(capsys):
    rc, out, err = _run(["metrics", "parity", *SMALL, "--ties", "25"], capsys)
    assert rc == 0, err
    for label in ("noninterp / stable", "trapezoid / pessimistic", "sklearn_legacy / optimistic",
                  "torchreid", "mars_official", "gallery without queries"):
        assert label in out
    assert "40 queries x 260 gallery" in out and "Total time" in out


def test_parity_json_is_consistent_with_library(capsys):
    rc, out, err = _run(["metrics", "parity", *SMALL, "--seed", "2", "--json"], capsys)
    assert rc == 0, err
    data = json.loads(out)
    rows = {r["label"]: r for r in data["rows"]}
    assert data["n_boot"] == 200 and data["problem"]["n_query"] == 40
    variants = {r["options"]["ap"] for r in data["rows"] if r["group"] == "variant"}
    assert variants == {"noninterp", "trapezoid", "sklearn_step", "sklearn_legacy"}
    assert {r["options"]["ties"] for r in data["rows"] if r["group"] == "variant"} == {
        "stable", "optimistic", "pessimistic"}
    # the numbers are those of the metric core on the same problem
    from reidbench.metrics import rank_metrics

    p = make_problem(n_query=40, n_gallery=260, seed=2)
    want = rank_metrics(*p.metric_args(), ap="trapezoid", ties="stable")
    got = rows["trapezoid / stable"]["metrics"]
    assert got["mAP"]["estimate"] == pytest.approx(want.map)
    assert got["rank1"]["estimate"] == pytest.approx(want.cmc[0])
    assert got["mINP"]["estimate"] == pytest.approx(want.minp)
    assert got["mAP"]["low"] <= got["mAP"]["estimate"] <= got["mAP"]["high"]
    # no ties in model-like float distances: the tie policies agree, noninterp >= trapezoid
    assert rows["noninterp / optimistic"]["metrics"]["mAP"]["estimate"] == pytest.approx(
        rows["noninterp / pessimistic"]["metrics"]["mAP"]["estimate"])
    assert (rows["noninterp / stable"]["metrics"]["mAP"]["estimate"]
            > got["mAP"]["estimate"])


def test_parity_from_npz_file(tmp_path, capsys):
    p = make_problem(n_query=30, n_gallery=200, seed=1)
    path = tmp_path / "problem.npz"
    np.savez(path, distmat=p.distmat, query_pids=p.query_pids, gallery_pids=p.gallery_pids,
             query_camids=p.query_camids, gallery_camids=p.gallery_camids)
    rc, out, err = _run(["metrics", "parity", "--distmat", str(path), "--boot", "100", "--json"],
                        capsys)
    assert rc == 0, err
    data = json.loads(out)
    assert data["problem"]["n_query"] == 30 and data["problem"]["n_gallery"] == 200
    assert not any(r["group"] == "gallery" for r in data["rows"])  # query positions unknown


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "no file at"),
        ("notzip", "an .npz archive"),
        ({"distmat": np.zeros((2, 3))}, "missing"),
        ({"distmat": np.zeros((2, 3)), "query_pids": np.zeros(2, int),
          "gallery_pids": np.zeros(4, int), "query_camids": np.zeros(2, int),
          "gallery_camids": np.zeros(3, int)}, "gallery_pids.*shape \\(3,\\)"),
        ({"distmat": np.zeros((2, 3)), "query_pids": np.zeros(2),
          "gallery_pids": np.zeros(3, int), "query_camids": np.zeros(2, int),
          "gallery_camids": np.zeros(3, int)}, "query_pids.*integer"),
    ],
)
def test_bad_npz_gives_one_clear_error(tmp_path, capsys, content, match):
    path = tmp_path / "bad.npz"
    if content == "notzip":
        path.write_text("hello")
    elif content is not None:
        np.savez(path, **content)
    rc, out, err = _run(["metrics", "parity", "--distmat", str(path)], capsys)
    assert rc != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
    import re

    assert re.search(match, err), err


def test_root_demo_command_is_registered(capsys):
    rc, out, err = _run(["--help"], capsys)
    assert rc == 0 and "demo" in out


@pytest.mark.parametrize(
    "extra, flag",
    [
        (["--boot", "0"], "--boot"),
        (["--queries", "0"], "--queries"),
        (["--queries", "1"], "--queries"),
        (["--gallery", "10"], "--gallery"),
        (["--ties", "1"], "--ties"),
        (["--kind", "uniform"], "--kind"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_options_name_the_flag(capsys, extra, flag):
    rc, out, err = _run(["metrics", "parity", "--queries", "40", "--gallery", "300", *extra],
                        capsys)
    assert rc != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {flag} in metrics parity: expected"), err
    for internal in ("n_boot", "n_query", "n_gallery", "make_problem", "bootstrap_means"):
        assert internal not in err
