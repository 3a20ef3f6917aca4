"""Scoring without the full matrix: the same problem forced through both paths gives one result."""

import numpy as np
import pytest

from reidbench.datasets import load
from reidbench.engine import FeaturesSource, build_evalset, evaluate
from reidbench.engine.scoring import score_split, score_split_streamed
from reidbench.errors import InputError
from reidbench.metrics import compute_distance
from reidbench.protocols import get_protocol

PROTO = "mars/v2v@1"


@pytest.fixture(scope="module")
def mars(synth_copy):
    return synth_copy("mars", ids=10)


def _same(a, b):
    assert a.record.metrics == b.record.metrics
    assert a.record.metrics_by_variant == b.record.metrics_by_variant
    assert a.record.n_skipped == b.record.n_skipped
    assert a.record.splits[0].cmc == b.record.splits[0].cmc
    assert set(a.per_query) == set(b.per_query)
    for key, arr in a.per_query.items():
        np.testing.assert_array_equal(arr, b.per_query[key], err_msg=key)


@pytest.mark.parametrize("distance", ["euclidean", "cosine", "sqeuclidean"])
def test_evaluate_streams_past_the_budget_with_identical_results(features_for, mars, tmp_path,
                                                                distance):
    path = tmp_path / "f.npz"
    features_for(path, PROTO, mars, seed=3)
    proc = {"distance": distance}
    whole = evaluate(PROTO, mars, FeaturesSource(str(path)), procedure=proc, bootstrap=50)
    streamed = evaluate(PROTO, mars, FeaturesSource(str(path)), procedure=proc, bootstrap=50,
                        max_matrix_mb=1e-6)
    assert whole.record.splits[0].source["scoring"] == "matrix"
    assert streamed.record.splits[0].source["scoring"] == "streamed"
    _same(whole, streamed)


def test_score_split_streamed_equals_score_split_in_small_blocks(features_for, mars, tmp_path):
    proto = get_protocol(PROTO)
    ds = load("mars", mars)
    ev = build_evalset(ds, proto, proto.evaluation.splits[0])
    rng = np.random.default_rng(0)
    qf = rng.normal(size=(len(ev.query), 6)).astype(np.float32)
    gf = rng.normal(size=(len(ev.gallery), 6)).astype(np.float32)
    gf[5] = gf[3]  # exact ties between gallery items: the stable order must agree
    whole = score_split(compute_distance(qf, gf), ev, proto.evaluation, bootstrap=0, topk=7)
    for rows in (1, 4, 1000):
        part = score_split_streamed(qf, gf, ev, proto.evaluation, distance="euclidean",
                                    bootstrap=0, topk=7, block_rows=rows)
        assert part.metrics == whole.metrics and part.cmc == whole.cmc
        assert part.counts == whole.counts
        for key, arr in whole.per_query.items():
            np.testing.assert_array_equal(arr, part.per_query[key], err_msg=key)
    assert whole.per_query["topk_index"].shape == (len(ev.query), 7)


def test_rerank_past_the_budget_is_refused_naming_the_option(features_for, mars, tmp_path):
    path = tmp_path / "f.npz"
    features_for(path, PROTO, mars)
    with pytest.raises(InputError, match="max_matrix_mb") as err:
        evaluate(PROTO, mars, FeaturesSource(str(path)), procedure={"rerank": True},
                 max_matrix_mb=1e-6)
    assert "rerank" in str(err.value) and "\n" not in str(err.value)
    assert err.value.param == "max_matrix_mb"
    ok = evaluate(PROTO, mars, FeaturesSource(str(path)), procedure={"rerank": True},
                  bootstrap=0)
    assert ok.record.splits[0].source["scoring"] == "matrix"


def test_cli_rerank_past_the_budget_names_the_flag(features_for, mars, tmp_path, capsys):
    from reidbench.cli import main

    path = tmp_path / "f.npz"
    features_for(path, PROTO, mars)
    code = main(["evaluate", "-p", PROTO, "--data", str(mars), "--features", str(path),
                 "--rerank", "--max-matrix-mb", "0.0001", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: --max-matrix-mb in evaluate (rerank")
    assert "Set --max-matrix-mb 1 or more" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("bad", [0, -5, float("nan"), "big", True])
def test_the_budget_must_be_a_positive_number(features_for, mars, tmp_path, bad):
    path = tmp_path / "f.npz"
    features_for(path, PROTO, mars)
    with pytest.raises(InputError, match="max_matrix_mb"):
        evaluate(PROTO, mars, FeaturesSource(str(path)), max_matrix_mb=bad)
