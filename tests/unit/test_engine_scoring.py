import numpy as np
from test_report_fixtures import record_dict

from reidbench.engine.evalset import EvalItem, EvalSet
from reidbench.engine.results import EvalResult, read_result
from reidbench.engine.scoring import score_split
from reidbench.metrics import rank_metrics
from reidbench.protocols import Evaluation
from reidbench.records import ResultRecord


def _evalset(qp, qc, gp, gc):
    q = tuple(EvalItem(f"q{i}", int(p), int(c), ("f",))
              for i, (p, c) in enumerate(zip(qp, qc, strict=True)))
    g = tuple(EvalItem(f"g{i}", int(p), int(c), ("f",))
              for i, (p, c) in enumerate(zip(gp, gc, strict=True)))
    return EvalSet("x@1", "official", q, g)


def test_score_split_equals_the_metric_engine_and_keeps_every_variant():
    rng = np.random.default_rng(0)
    qp, qc = rng.integers(1, 6, 12), rng.integers(1, 4, 12)
    gp, gc = rng.integers(-1, 6, 60), rng.integers(1, 4, 60)
    dist = rng.random((12, 60))
    ev = Evaluation(dataset="mars", gallery="with_query", ap="trapezoid")
    s = score_split(dist, _evalset(qp, qc, gp, gc), ev, bootstrap=200, topk=5)
    direct = rank_metrics(dist, qp, gp, qc, gc, ap="trapezoid", junk_pids=(-1,))
    assert s.metrics["mAP"]["value"] == direct.map
    assert s.metrics["rank1"]["value"] == direct.rank1
    for var in ("noninterp", "trapezoid", "sklearn_step", "sklearn_legacy"):
        assert s.metrics_by_variant[var]["mAP"] == rank_metrics(
            dist, qp, gp, qc, gc, ap=var, junk_pids=(-1,)).map
    lo, hi = s.metrics["mAP"]["ci"]
    assert lo <= s.metrics["mAP"]["value"] <= hi
    # top-k: the 5 smallest distances of each row, in order
    expected = np.argsort(dist, axis=1, kind="stable")[:, :5]
    assert np.array_equal(s.per_query["topk_index"], expected)
    assert s.counts == {"n_queries": 12, "n_gallery": 60, "n_skipped": direct.n_skipped}


def test_result_round_trip(tmp_path):
    rec = ResultRecord.from_json(record_dict(map_value=0.5))
    res = EvalResult(rec, {"official/ap": np.array([0.5])})
    res.write(tmp_path / "r")
    back = read_result(tmp_path / "r")
    assert back.record == res.record and res.record.per_query_sha256
    assert back.value("mAP") == 0.5 and back.split_arrays()["ap"].tolist() == [0.5]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["per_query.npz", "results.json"]


def test_score_split_reports_the_protocols_cmc_ranks():
    rng = np.random.default_rng(1)
    qp, qc = rng.integers(1, 6, 12), rng.integers(1, 4, 12)
    gp, gc = rng.integers(-1, 6, 60), rng.integers(1, 4, 60)
    dist = rng.random((12, 60))
    evalset = _evalset(qp, qc, gp, gc)
    default = score_split(dist, evalset, Evaluation(dataset="mars"), bootstrap=50)
    assert list(default.metrics) == ["mAP", "rank1", "rank5", "rank10", "rank20", "mINP"]
    ev = Evaluation(dataset="mars", cmc_ranks=(1, 3), max_rank=10)
    s = score_split(dist, evalset, ev, bootstrap=50)
    assert list(s.metrics) == ["mAP", "rank1", "rank3", "mINP"]
    assert list(s.metrics_by_variant["trapezoid"]) == ["mAP", "rank1", "rank3", "mINP"]
    direct = rank_metrics(dist, qp, gp, qc, gc, max_rank=10)
    assert s.metrics["rank3"]["value"] == direct.rank(3)
    assert s.metrics["rank3"]["ci"] is not None and len(s.cmc) == 10
    assert s.metrics["mAP"] == default.metrics["mAP"]  # same ranking, same seed: same mAP and CI
