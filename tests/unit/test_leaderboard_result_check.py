"""One check of result records for `reidbench validate` and `reidbench leaderboard add`.

Each bad record is refused by both commands with exit 2 and one line naming the file and field
(no traceback), and `add` files nothing.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_report_fixtures import write_result

from reidbench.cli import main
from reidbench.errors import DataError
from reidbench.leaderboard.validate import validate_file
from reidbench.records import check_result


def _edit(fn):
    def apply(d: Path) -> None:
        p = d / "results.json"
        rec = json.loads(p.read_text())
        fn(rec)
        p.write_text(json.dumps(rec))
    return apply


def _garbage_npz(d: Path) -> None:
    (d / "per_query.npz").write_bytes(b"not an archive at all\n" * 4)


def _truncated_npz(d: Path) -> None:
    data = (d / "per_query.npz").read_bytes()
    (d / "per_query.npz").write_bytes(data[: len(data) // 2])


def _pickled_npz(d: Path) -> None:
    np.savez(d / "per_query.npz", **{"official/ap": np.array([{"a": 1}], dtype=object)})


def _npy_not_npz(d: Path) -> None:
    with open(d / "per_query.npz", "wb") as f:
        np.save(f, np.zeros(3))


def _other_split_arrays(d: Path) -> None:
    np.savez(d / "per_query.npz", **{"split3/ap": np.zeros(3)})


CASES = {
    "headline AP interp11": (_edit(lambda r: r.update(headline_ap="interp11")), "headline_ap"),
    "headline AP not the protocol's": (_edit(lambda r: r.update(headline_ap="noninterp")),
                                       "headline_ap"),
    "unknown AP variant key": (_edit(lambda r: r["metrics_by_variant"].update(
        interp11={"mAP": 0.7})), "metrics_by_variant.interp11"),
    "unknown metric in a variant": (_edit(lambda r: r["metrics_by_variant"]["noninterp"].update(
        mAP11=0.7)), "metrics_by_variant.noninterp.mAP11"),
    "evaluation edited, fingerprint kept": (_edit(
        lambda r: r["protocol"]["evaluation"].update(ap="foo")), "protocol.evaluation"),
    "unknown metric": (_edit(lambda r: r["metrics"].update(
        mAP_interp11={"value": 0.7, "ci": None})), "metrics.mAP_interp11"),
    "CI past 1": (_edit(lambda r: r["metrics"]["mAP"].update(ci=[0.5, 2.0])), "metrics.mAP.ci"),
    "CI not around the value": (_edit(lambda r: r["metrics"]["mAP"].update(ci=[0.8, 0.9])),
                                "metrics.mAP.ci"),
    "CI reversed": (_edit(lambda r: r["metrics"]["rank1"].update(ci=[1.0, 0.0])),
                    "metrics.rank1.ci"),
    "split metric out of range": (_edit(lambda r: r["splits"][0]["metrics"]["mAP"].update(
        value=75.0)), "splits[0].metrics.mAP.value"),
    "unknown protocol version": (_edit(lambda r: r["protocol"].update(id="mars/v2v@9")),
                                 "protocol.id"),
    "protocol id without version": (_edit(lambda r: r["protocol"].update(id="mars/v2v")),
                                    "protocol.id"),
    "fingerprint zeroed": (_edit(lambda r: r["protocol"].update(fingerprint="0" * 16)),
                           "protocol.fingerprint"),
    "split not of the protocol": (_edit(lambda r: r["splits"][0].update(split="split7")),
                                  "splits[0].split"),
    "no splits": (_edit(lambda r: r.update(splits=[])), "splits"),
    "missing per_query.npz": (lambda d: (d / "per_query.npz").unlink(), "per_query.npz"),
    "garbage per_query.npz": (_garbage_npz, "per_query.npz"),
    "truncated per_query.npz": (_truncated_npz, "per_query.npz"),
    "pickled per_query.npz": (_pickled_npz, "per_query.npz"),
    ".npy as per_query.npz": (_npy_not_npz, "per_query.npz"),
    "per_query.npz of another split": (_other_split_arrays, "per_query.npz"),
}


@pytest.fixture()
def bad(request, tmp_path):
    edit, field = CASES[request.param]
    d = write_result(tmp_path / "res")
    edit(d)
    return d, field


def test_fixture_passes_the_check(tmp_path):
    d = write_result(tmp_path / "res")
    assert check_result(json.loads((d / "results.json").read_text()), d) == []


@pytest.mark.parametrize("bad", list(CASES), indirect=True)
def test_validate_refuses_in_one_line(bad, capsys):
    d, field = bad
    report = validate_file(d)
    assert not report.ok and len(report.problems) == 1, report.problems
    assert field in report.problems[0] and "\n" not in report.problems[0]
    assert main(["validate", str(d)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and field in lines[0], err
    assert "1 problem(s)" in lines[1] and "Traceback" not in err


@pytest.mark.parametrize("bad", list(CASES), indirect=True)
def test_add_refuses_in_one_line_and_files_nothing(bad, tmp_path, capsys):
    d, field = bad
    lb = tmp_path / "lb"
    assert main(["leaderboard", "add", str(d), "--leaderboards", str(lb)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], err
    sub = lb / "submissions"
    assert not sub.exists() or not any(sub.iterdir())


def test_problems_name_the_file(tmp_path):
    d = write_result(tmp_path / "res")
    _edit(lambda r: r["protocol"].update(fingerprint="0" * 16))(d)
    (problem,) = validate_file(d).problems
    assert str(d / "results.json") in problem and "re-run the evaluation" in problem.lower()
    _garbage_npz(d)
    problems = validate_file(d).problems
    assert any(str(d / "per_query.npz") in p for p in problems)


def test_unknown_protocol_suggests_the_registered_one(tmp_path):
    d = write_result(tmp_path / "res")
    _edit(lambda r: r["protocol"].update(id="mars/v2v@9"))(d)
    (problem,) = validate_file(d).problems
    assert "Did you mean 'mars/v2v@1'" in problem


def test_add_and_validate_agree_on_the_fixture(tmp_path):
    d = write_result(tmp_path / "res")
    assert validate_file(d).ok
    assert main(["leaderboard", "add", str(d), "--leaderboards", str(tmp_path / "lb")]) == 0


def test_read_result_turns_a_corrupt_archive_into_a_data_error(tmp_path):
    from reidbench.records import read_result

    d = write_result(tmp_path / "res")
    with zipfile.ZipFile(d / "per_query.npz", "a") as z:  # a member that is no .npy
        z.writestr("official/extra.npy", b"\x93NUMPY broken")
    with pytest.raises(DataError, match=r"per_query\.npz.*expected a NumPy \.npz archive"):
        read_result(d)
