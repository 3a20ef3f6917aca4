"""`reidbench evaluate` end to end through the CLI on tiny synthetic copies of every layout.

Features files are the fastest input: each protocol's numbers must equal the metric engine's on the
same arrays, and the record must say what was (and was not) declared.
"""

import json

import numpy as np
import pytest

from reidbench.cli import main
from reidbench.datasets import load
from reidbench.engine import build_evalset, read_result
from reidbench.metrics import compute_distance, rank_metrics
from reidbench.protocols import get_protocol


def _direct(protocol, root, path, split):
    """The metric engine called directly on the features file's arrays."""
    p = get_protocol(protocol)
    ev = p.evaluation
    es = build_evalset(load(ev.dataset, root), p, split)
    z = np.load(path)
    rows = dict(zip(z["ids"].tolist(), z["features"], strict=True))
    qf = np.stack([rows[i.id] for i in es.query]).astype(np.float64)
    gf = np.stack([rows[i.id] for i in es.gallery]).astype(np.float64)
    qp, qc = es.labels("query")
    gp, gc = es.labels("gallery")
    dist = compute_distance(qf, gf, metric=p.procedure.distance)
    return rank_metrics(dist, qp, gp, qc, gc, ap=ev.ap, junk_pids=ev.junk_pids,
                        no_positive=ev.no_positive, ties=ev.ties, max_rank=ev.max_rank), es


def _evaluate(capsys, tmp_path, protocol, root, features, name="out"):
    out = tmp_path / name
    rc = main(["evaluate", "-p", protocol, "--data", root, "--features", str(features),
               "--out", str(out), "--bootstrap", "0", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert json.loads(captured.out)["protocol"]["id"] == protocol
    return read_result(out), captured.err


@pytest.mark.parametrize("protocol, layout", [
    ("dukev/v2v@1", "dukev"), ("lsvid/v2v@1", "lsvid"), ("dukev/i2v@1", "dukev"),
])
def test_single_split_protocols_equal_the_metric_engine(protocol, layout, synth_copy,
                                                        features_for, tmp_path, capsys):
    root = synth_copy(layout)
    ids = features_for(tmp_path / "f.npz", protocol, root)
    res, err = _evaluate(capsys, tmp_path, protocol, root, tmp_path / "f.npz")
    direct, es = _direct(protocol, root, tmp_path / "f.npz", "official")
    assert res.value("mAP") == pytest.approx(direct.map, abs=1e-12)
    assert res.value("rank1") == pytest.approx(direct.rank1, abs=1e-12)
    assert res.record.n_queries == len(es.query) and err == ""
    assert res.record.headline_ap == get_protocol(protocol).evaluation.ap
    # a features file was extracted elsewhere: the record claims no sampling or input size
    proc = res.record.procedure
    assert proc["sampling"] is proc["seq_len"] is proc["input_size"] is None
    assert proc["distance"] == get_protocol(protocol).procedure.distance
    if protocol.endswith("i2v@1"):
        assert all(i.endswith("#first") for i in ids[:len(es.query)])
        assert all(q.kind == "image" for q in es.query)


@pytest.mark.parametrize("protocol, layout", [("prid2011/v2v@1", "prid2011"),
                                              ("ilidsvid/i2v@1", "ilidsvid")])
def test_multi_split_protocols_aggregate_ten_splits(protocol, layout, synth_copy, features_for,
                                                    tmp_path, capsys):
    root = synth_copy(layout)
    splits = get_protocol(protocol).evaluation.splits
    for k, split in enumerate(splits):
        features_for(tmp_path / f"{split}.npz", protocol, root, split=split, seed=k)
    res, _ = _evaluate(capsys, tmp_path, protocol, root, tmp_path / "{split}.npz")
    per_split = [_direct(protocol, root, tmp_path / f"{s}.npz", s)[0].map for s in splits]
    assert res.record.metrics["mAP"].per_split == pytest.approx(per_split, abs=1e-12)
    assert res.value("mAP") == pytest.approx(np.mean(per_split), abs=1e-12)
    assert res.record.metrics["mAP"].std == pytest.approx(np.std(per_split, ddof=1))
    assert list(res.record.split_names) == list(splits)
    assert set(res.record.source.features_sha256) == set(splits)


def test_cross_dataset_features_are_recorded_as_undeclared(synth_copy, features_for, tmp_path,
                                                           capsys):
    root = synth_copy("dukev")
    features_for(tmp_path / "f.npz", "cross/mars->dukev@1", root)
    res, err = _evaluate(capsys, tmp_path, "cross/mars->dukev@1", root, tmp_path / "f.npz")
    assert res.record.source.train_dataset == "undeclared"
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "train_dataset: undeclared" in warnings[0]
    assert res.record.warnings and "mars" in res.record.warnings[0]
    direct, _ = _direct("cross/mars->dukev@1", root, tmp_path / "f.npz", "official")
    assert res.value("mAP") == pytest.approx(direct.map, abs=1e-12)


def test_protocols_ids_of_a_multi_split_protocol_needs_a_split(synth_copy, capsys):
    root = synth_copy("prid2011")
    assert main(["protocols", "ids", "prid2011/v2v@1", "--data", root]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--split" in err[0] and "split9" in err[0]
    assert main(["protocols", "ids", "prid2011/v2v@1", "--data", root, "--split", "split3"]) == 0
    ids = capsys.readouterr().out.split()
    es = build_evalset(load("prid2011", root), get_protocol("prid2011/v2v@1"), "split3")
    assert ids == es.ids()
    assert main(["protocols", "ids", "prid2011/v2v@1", "--data", root, "--split", "s9"]) == 2
