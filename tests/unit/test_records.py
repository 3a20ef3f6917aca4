"""The typed result record: from_json validates (every problem), to_json writes it back, frozen."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle

import pytest
from test_report_fixtures import record_dict

from reidbench.records import (
    FrozenDict,
    MetricCell,
    RecordError,
    ResultRecord,
)
from reidbench.records.schema_doc import DOC_PATH, render_schema_doc


def test_the_committed_schema_doc_is_the_generated_one():
    assert DOC_PATH.read_text(encoding="utf-8") == render_schema_doc(), (
        "docs/results-schema.md is stale: run `python -m reidbench.records.schema_doc`")


def test_every_field_of_every_record_type_is_documented():
    from reidbench.records import RECORD_TYPES

    for cls in RECORD_TYPES:
        for f in dataclasses.fields(cls):
            assert f.metadata.get("doc"), f"{cls.__name__}.{f.name} has no doc (use spec())"


def _within(small, big):
    """Every key of ``small`` is in ``big`` with the same value (recursing into objects)."""
    if isinstance(small, dict):
        return all(k in big and _within(v, big[k]) for k, v in small.items())
    if isinstance(small, list):
        return len(small) == len(big) and all(map(_within, small, big))
    return small == big and type(small) is type(big)


def test_round_trip_keeps_every_field_and_fills_defaults():
    data = record_dict()
    rec = ResultRecord.from_json(data)
    out = rec.to_json()
    assert _within(data, out)
    assert out["warnings"] == [] and out["config"] == {}
    assert out["source"]["train_dataset"] is None
    assert ResultRecord.from_json(out) == rec
    names = [f.name for f in dataclasses.fields(ResultRecord)]
    assert list(out) == [n for n in names if n in out]  # declaration order
    assert set(names) - set(out) == {"limit", "bootstrap", "per_query_sha256", "submission"}


def test_from_json_lists_every_problem_naming_each_field():
    data = json.loads(json.dumps(record_dict()))  # splits[0].metrics is its own object
    data["metrics"]["mAP"]["value"] = 75.0
    data["splits"][0]["n_gallery"] = "six"
    data["protocol"]["version"] = "1"
    del data["dataset"]["name"]
    data["colour"] = "blue"
    data["environment"]["python"] = float("nan")
    with pytest.raises(RecordError) as err:
        ResultRecord.from_json(data, "x/results.json", hint="run `reidbench validate x`")
    problems = err.value.problems
    for field in ("field metrics.mAP.value", "splits[0].n_gallery", "protocol.version",
                  "dataset.name", "field colour", "environment.python"):
        assert sum(field in p for p in problems) == 1, (field, problems)
    assert len(problems) == 6 and all("x/results.json" in p and "\n" not in p for p in problems)
    assert str(err.value).endswith("(5 more problem(s); run `reidbench validate x`)")
    assert "expected an integer, got 'six'" in next(p for p in problems if "n_gallery" in p)
    _, listed = ResultRecord.validate(data, "x/results.json")
    assert listed == list(problems)


def test_a_registered_protocol_is_required_and_its_splits():
    data = record_dict()
    data["protocol"]["id"] = "mars/v2v@9"
    data["splits"].append(dict(data["splits"][0]))
    _, problems = ResultRecord.validate(data)
    assert any("protocol.id" in p for p in problems)
    assert any("splits[1].split" in p and "each split once" in p for p in problems)


def test_the_multi_split_fields_are_written_only_when_set():
    assert MetricCell(value=0.5).to_json() == {"value": 0.5, "ci": None}
    cell = MetricCell(value=0.5, std=0.1, per_split=[0.4, 0.6])
    assert json.dumps(cell.to_json()) == \
        '{"value": 0.5, "std": 0.1, "ci": null, "per_split": [0.4, 0.6]}'


def test_records_are_frozen_all_the_way_down():
    rec = ResultRecord.from_json(record_dict())
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.seed = 1  # type: ignore[misc]
    assert isinstance(rec.procedure, FrozenDict) and isinstance(rec.splits, tuple)
    with pytest.raises(TypeError):
        rec.protocol.evaluation["ap"] = "noninterp"  # type: ignore[index]
    with pytest.raises(TypeError):
        rec.splits[0].source.update(x=1)  # type: ignore[attr-defined]
    assert isinstance(rec.metrics["mAP"].ci, tuple)
    assert pickle.loads(pickle.dumps(rec)) == rec and copy.deepcopy(rec) == rec
    changed = dataclasses.replace(rec, seed=7)
    assert changed.seed == 7 and rec.seed == 0
