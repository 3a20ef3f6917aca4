"""EvalResult.write: all or nothing, never a mix of two runs, strict JSON only."""

import json
import os
from dataclasses import replace

import numpy as np
import pytest
from test_report_fixtures import record_dict

from reidbench.engine.results import EvalResult, check_out_dir, read_result
from reidbench.errors import InputError
from reidbench.fileio import json_problem
from reidbench.records import MetricCell, ResultRecord


def _result(map_value=0.5, n=3):
    rec = ResultRecord.from_json(record_dict())
    rec = replace(rec, metrics={**rec.metrics, "mAP": MetricCell(value=map_value)})
    return EvalResult(rec, {"official/ap": np.full(n, 0.5)})


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("bad, where", [
    (float("nan"), "nan at record.metrics.mAP.value"),
    (np.float32(1.0), "float32 at record.metrics.mAP.value"),
    (np.ones(2), "ndarray at record.metrics.mAP.value"),
])
def test_a_record_that_is_not_strict_json_is_refused_before_any_write(tmp_path, bad, where):
    with pytest.raises(InputError, match=where):
        _result(map_value=bad).write(tmp_path / "out")
    assert _names(tmp_path) == []  # no result folder, no temporary folder


def test_rewriting_a_result_replaces_both_files(tmp_path):
    out = tmp_path / "out"
    _result(0.5, n=3).write(out)
    _result(0.25, n=5).write(out)
    back = read_result(out)
    assert back.value("mAP") == 0.25 and back.split_arrays()["ap"].shape == (5,)
    assert _names(out) == ["per_query.npz", "results.json"]
    assert _names(tmp_path) == ["out"]


def test_a_failed_rename_leaves_the_previous_result_whole(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _result(0.5).write(out)
    real = os.rename

    def failing(src, dst):
        if str(src).endswith(".tmp"):
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(OSError):
        _result(0.25).write(out)
    assert read_result(out).value("mAP") == 0.5
    assert _names(tmp_path) == ["out"]


def test_out_must_be_a_new_or_empty_folder_or_a_previous_result(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="an existing file"):
        _result().write(tmp_path / "file")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="notes.txt"):
        check_out_dir(other)
    assert _names(other) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    _result().write(empty)
    assert _names(empty) == ["per_query.npz", "results.json"]
    nested = tmp_path / "a" / "b"
    _result().write(nested)
    assert json.loads((nested / "results.json").read_text())["metrics"]["mAP"]["value"] == 0.5


def test_json_problem_names_the_first_bad_value():
    assert json_problem({"a": [1, 2.5, "x", None, True], "b": {"c": {}}}) is None
    assert json_problem({"a": [1, float("inf")]}, "meta") == "inf at meta.a[1]"
    assert json_problem({1: "x"}) == "the non-string key 1 at the top level"
    assert json_problem({"t": object()}) == "a value of type object at t"
