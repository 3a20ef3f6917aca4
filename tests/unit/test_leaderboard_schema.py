"""The leaderboard validator: bad records are rejected with the file and the field named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from reidbench.errors import DataError
from reidbench.leaderboard import (
    SCHEMA_ID,
    check_leaderboard,
    decimals,
    load_leaderboards,
    validate_leaderboard,
)

ROOT = Path(__file__).resolve().parents[2]
WHERE = "lb/test.json"


def _record(**over):
    rec = {
        "id": "x-t1:method-a:mars", "row": 0, "method": "A", "label": "A [1]", "dataset": "mars",
        "backbone": "Res50", "setting": "test split", "axes": {"M": 10},
        "protocol": {"dataset": "mars", "mode": "v2v", "gallery": "with_query",
                     "suite_protocol": "mars/v2v@1", "basis": "stated in the paper"},
        "ap_variant": "trapezoid", "ap_basis": "official code", "units": "percent",
        "metrics": {"mAP": {"value": 80.0, "printed": "80.0"},
                    "rank1": {"value": 79.61, "printed": "79.61"}},
        "not_reported": {"rank5": "-"}, "source": "published",
    }
    rec.update(over)
    return rec


def _file(*records, **over):
    obj = {
        "schema": SCHEMA_ID, "kind": "published_results",
        "paper": {"key": "x", "title": "A paper", "authors": "Doe et al.", "venue": "ICCV",
                  "year": 2021, "document": "supplementary material"},
        "table": {"number": "1", "caption": "Results.", "columns": [
            {"dataset": "mars", "metric": "mAP", "header": "mAP"},
            {"dataset": "mars", "metric": "rank1", "header": "R-1"},
            {"dataset": "mars", "metric": "rank5", "header": "R-5"}]},
        "records": list(records) or [_record()],
    }
    obj.update(over)
    return obj


def _problems(obj):
    return check_leaderboard(obj, WHERE)


def _one(obj, *fragments):
    problems = _problems(obj)
    assert problems, "expected a problem"
    text = "\n".join(problems)
    for frag in fragments:
        assert frag in text, (frag, problems)
    assert all(WHERE in p for p in problems)
    return problems


def test_good_file_is_valid():
    assert _problems(_file()) == []
    validate_leaderboard(_file(), WHERE)  # does not raise


def test_missing_protocol_is_named():
    rec = _record()
    del rec["protocol"]
    _one(_file(rec), "field records[0].protocol", "expected to be present")


def test_missing_protocol_field_is_named():
    rec = _record()
    del rec["protocol"]["gallery"]
    _one(_file(rec), "records[0].protocol.gallery")


def test_missing_paper_provenance_is_named():
    obj = _file()
    del obj["paper"]["venue"]
    _one(obj, "field paper.venue")
    obj = _file()
    del obj["paper"]
    _one(obj, "field paper ", "expected to be present")


def test_missing_table_caption_is_named():
    obj = _file()
    del obj["table"]["caption"]
    _one(obj, "field table.caption")


@pytest.mark.parametrize("value", [100.5, -0.1])
def test_percent_outside_range(value):
    rec = _record()
    rec["metrics"]["mAP"] = {"value": value, "printed": str(value)}
    _one(_file(rec), "records[0].metrics.mAP.value", "percent in [0, 100]")


def test_fraction_units_bound_at_one():
    rec = _record(units="fraction")
    rec["metrics"] = {"mAP": {"value": 0.8, "printed": "0.8"},
                      "rank1": {"value": 79.61, "printed": "79.61"}}
    problems = _one(_file(rec), "records[0].metrics.rank1.value", "fraction in [0, 1]")
    assert len(problems) == 1  # the 0.8 is fine as a fraction


def test_unknown_ap_variant():
    problems = _one(_file(_record(ap_variant="interp11")), "records[0].ap_variant", "'unknown'")
    assert "noninterp" in problems[0]


def test_unknown_is_an_accepted_ap_variant_and_registry_names_are_too():
    assert _problems(_file(_record(ap_variant="unknown"))) == []
    from reidbench.metrics import AP_VARIANTS

    assert {"noninterp", "trapezoid", "sklearn_step", "sklearn_legacy"} <= set(AP_VARIANTS)
    for name in AP_VARIANTS.names():
        assert _problems(_file(_record(ap_variant=name))) == []


def test_null_ap_variant_only_without_map():
    _one(_file(_record(ap_variant=None)), "records[0].ap_variant", "the record has an mAP")
    rec = _record(ap_variant=None)
    del rec["metrics"]["mAP"]
    rec["not_reported"]["mAP"] = "-"
    assert _problems(_file(rec)) == []


@pytest.mark.parametrize("path,value,expected", [
    (("metrics", "mAP", "value"), "80.0", "a finite number"),
    (("metrics", "mAP", "value"), True, "a finite number"),
    (("row",), "0", "integer"),
    (("method",), 7, "non-empty string"),
    (("axes",), [1, 2], "JSON object"),
    (("trials",), 1.5, "integer >= 2"),
    (("protocol", "mode"), "video", "'v2v'"),
    (("dataset",), "market", "'mars'"),
    (("source",), "evaluated", "'published'"),
])
def test_wrong_types_are_named(path, value, expected):
    rec = _record()
    target = rec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    field = "records[0]." + ".".join(path)
    _one(_file(rec), field, expected)


def test_printed_string_must_agree_with_value():
    rec = _record()
    rec["metrics"]["rank1"] = {"value": 79.6, "printed": "79.61"}
    _one(_file(rec), "records[0].metrics.rank1.value", "79.61")
    rec["metrics"]["rank1"] = {"value": 79.61, "printed": "79,61"}
    _one(_file(rec), "records[0].metrics.rank1.printed")


def test_std_needs_trials_and_its_printed_string():
    rec = _record()
    rec["metrics"]["rank1"] = {"value": 95.1, "printed": "95.1", "std": 0.66,
                               "std_printed": "0.66"}
    _one(_file(rec), "records[0].metrics.rank1.std", "'trials'")
    rec["trials"] = 5
    assert _problems(_file(rec)) == []
    rec["metrics"]["rank1"].pop("std_printed")
    _one(_file(rec), "records[0].metrics.rank1.std", "together")


def test_every_column_must_be_covered_and_no_extra():
    rec = _record(not_reported={})
    _one(_file(rec), "records[0].metrics.rank5", "every column")
    rec = _record()
    rec["metrics"]["rank20"] = {"value": 90.0, "printed": "90.0"}
    _one(_file(rec), "records[0].metrics.rank20", "a column of table.columns")


def test_suite_protocol_must_exist_and_match():
    bad = _record()
    bad["protocol"]["suite_protocol"] = "mars/v2v@9"
    _one(_file(bad), "records[0].protocol.suite_protocol", "registered protocol")
    mismatch = _record()
    mismatch["protocol"]["gallery"] = "without_query"  # mars/v2v@1 keeps the queries
    _one(_file(mismatch), "records[0].protocol.gallery", "'with_query'")


def test_unexpected_field_and_duplicate_id():
    _one(_file(_record(mAP=1.0)), "records[0].mAP", "no such field")
    _one(_file(_record(), _record()), "records[1].id", "unique")


def test_wrong_schema_and_kind():
    _one(_file(schema="reidbench.leaderboard/2"), "field schema", SCHEMA_ID)
    _one(_file(kind="results"), "field kind")
    _one([1, 2], "top level")


def test_validate_raises_data_error_with_count():
    obj = _file(_record(ap_variant="bogus", units="permille"))
    with pytest.raises(DataError, match=r"lb/test.json.*more problem"):
        validate_leaderboard(obj, WHERE)


def test_dataset_statistics_kind():
    obj = {"schema": SCHEMA_ID, "kind": "dataset_statistics",
           "paper": _file()["paper"],
           "table": {"number": "1", "caption": "Stats.", "fields": [
               {"name": "identities", "header": "# Identities", "meaning": "ids"},
               {"name": "detector", "header": "# Detector", "meaning": "how"}]},
           "records": [{"id": "x-t1:mars", "dataset": "mars", "label": "MARS",
                        "statistics": {"identities": {"value": 1261, "printed": "1,261"},
                                       "detector": {"value": "DPM", "printed": "DPM"}},
                        "source": "published"}]}
    assert _problems(obj) == []
    bad = copy.deepcopy(obj)
    bad["records"][0]["statistics"]["identities"]["value"] = 1216
    _one(bad, "records[0].statistics.identities.value", "'1,261'")
    bad = copy.deepcopy(obj)
    del bad["records"][0]["statistics"]["detector"]
    _one(bad, "records[0].statistics.detector")


@pytest.mark.parametrize("key", ["COSAM", "subramaniam 2019", "-x", "", 3])
def test_method_key_is_a_slug(key):
    assert _problems(_file(_record(method_key="subramaniam2019-cosam"))) == []
    _one(_file(_record(method_key=key)), "records[0].method_key", "lower-case slug")


def test_dataset_names_map_datasets_to_printed_names():
    table = _file()["table"]
    assert _problems(_file(table={**table, "dataset_names": {"dukev": "DukeMTMC"}})) == []
    _one(_file(table={**table, "dataset_names": {"duke": "DukeMTMC"}}),
         "table.dataset_names.duke")
    _one(_file(table={**table, "dataset_names": {"dukev": ""}}), "table.dataset_names.dukev")


def test_decimals_of_printed_strings():
    assert [decimals(s) for s in ("79.61", "80.0", "73", "99.8")] == [2, 1, 0, 1]


def test_every_committed_file_validates():
    files = load_leaderboards(ROOT / "leaderboards")  # raises on the first invalid file
    assert len(files) >= 11
    for f in files:
        assert check_leaderboard(json.loads(f.path.read_text()), str(f.path)) == []
