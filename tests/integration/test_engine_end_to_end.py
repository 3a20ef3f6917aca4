"""evaluate() end to end on synthetic copies written in the official layouts."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from reidbench.adapters import AdapterCard, ModuleAdapter
from reidbench.cli import main
from reidbench.datasets import load
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine import AdapterSource, FeaturesSource, build_evalset, evaluate, read_result
from reidbench.errors import DataError, ProtocolError
from reidbench.metrics import compute_distance, rank_metrics
from reidbench.protocols import get_protocol
from reidbench.records import ResultRecord

TINY = SynthConfig(height=32, width=16, min_len=3, max_len=8, median_len=5.0)


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    return write_dataset("mars", tmp_path_factory.mktemp("m") / "MARS", ids=16, seed=3,
                         config=TINY).root


@pytest.fixture(scope="module")
def ilids(tmp_path_factory):
    return write_dataset("ilidsvid", tmp_path_factory.mktemp("i") / "ilids", ids=8, seed=4,
                         config=TINY).root


def test_features_file_metrics_equal_the_metric_engine(features_for, mars, tmp_path):
    features_for(tmp_path / "f.npz", "mars/v2v@1", mars)
    res = evaluate("mars/v2v@1", mars, FeaturesSource(str(tmp_path / "f.npz")), bootstrap=50)
    ds = load("mars", mars)
    es = build_evalset(ds, get_protocol("mars/v2v@1"), "official")
    z = np.load(tmp_path / "f.npz")
    f = dict(zip(z["ids"], z["features"], strict=True))
    qf = np.stack([f[i.id] for i in es.query]).astype(np.float64)
    gf = np.stack([f[i.id] for i in es.gallery]).astype(np.float64)
    qp, qc = es.labels("query")
    gp, gc = es.labels("gallery")
    direct = rank_metrics(compute_distance(qf, gf), qp, gp, qc, gc, ap="trapezoid")
    assert res.value("mAP") == pytest.approx(direct.map, abs=1e-12)
    assert res.value("rank1") == pytest.approx(direct.rank1, abs=1e-12)
    assert res.record.headline_ap == "trapezoid"
    assert set(res.record.metrics_by_variant) == {"noninterp", "trapezoid", "sklearn_step",
                                                     "sklearn_legacy"}
    # official gallery: queries included, -1 junk dropped
    assert {i.id for i in es.query} <= {i.id for i in es.gallery}
    assert all(i.pid != -1 for i in es.gallery)
    out = res.write(tmp_path / "res")
    back = read_result(out)
    assert back.record.protocol.fingerprint == get_protocol("mars/v2v@1").fingerprint
    assert back.split_arrays()["ap"].shape == (len(es.query),)
    # the typed record reads back equal and writes back byte for byte
    assert back.record == res.record
    text = (out / "results.json").read_text()
    assert json.dumps(back.record.to_json(), indent=2) + "\n" == text
    keys = list(json.loads(text))
    assert keys == [f.name for f in dataclasses.fields(ResultRecord) if f.name in keys]


def test_mars_gallery_variants_differ_as_predicted(features_for, mars, tmp_path):
    ds = load("mars", mars)
    official = build_evalset(ds, get_protocol("mars/v2v@1"), "official")
    torchreid = build_evalset(ds, get_protocol("mars/v2v-torchreid@1"), "official")
    qids = {i.id for i in official.query}
    assert len(torchreid.gallery) == len(official.gallery) - len(qids)
    # queries whose only cross-camera positives are other queries (or none) lose their ground truth
    expect_skip = 0
    for q in torchreid.query:
        pos = [g for g in torchreid.gallery if g.pid == q.pid and g.camid != q.camid]
        expect_skip += not pos
    for name in ("mars/v2v@1", "mars/v2v-torchreid@1"):
        features_for(tmp_path / "f.npz", name, mars)
        res = evaluate(name, mars, FeaturesSource(str(tmp_path / "f.npz")), bootstrap=0)
        if name == "mars/v2v@1":
            assert res.record.n_skipped == 0
        else:
            assert res.record.n_skipped == expect_skip


def test_i2v_uses_the_first_frame_of_each_query(mars):
    ds = load("mars", mars)
    es = build_evalset(ds, get_protocol("mars/i2v@1"), "official")
    for q in es.query:
        t = ds.tracklet(q.id.removesuffix("#first"))
        assert q.kind == "image" and q.frames == (t.frames[0],)
        assert "F001" in Path(t.frames[0]).name


def test_multi_split_protocol_aggregates_ten_splits(features_for, ilids, tmp_path):
    p = get_protocol("ilidsvid/v2v@1")
    for k, split in enumerate(p.evaluation.splits):
        features_for(tmp_path / f"{split}.npz", p.id, ilids, split=split, seed=k)
    res = evaluate(p.id, ilids, FeaturesSource(str(tmp_path / "{split}.npz")), bootstrap=0)
    per_split = res.record.metrics["mAP"].per_split
    assert len(per_split) == 10 and len(res.record.splits) == 10
    assert res.value("mAP") == pytest.approx(np.mean(per_split))
    assert res.record.metrics["mAP"].std == pytest.approx(np.std(per_split, ddof=1))
    with pytest.raises(ProtocolError, match="one model per split"):
        evaluate(p.id, ilids, FeaturesSource(str(tmp_path / "split0.npz")), bootstrap=0)


def test_bad_features_files_fail_cleanly_and_write_nothing(features_for, mars, tmp_path):
    ids = features_for(tmp_path / "good.npz", "mars/v2v@1", mars)
    feats = np.load(tmp_path / "good.npz")["features"]
    cases = {
        "missing.npz": dict(ids=np.array(ids[:-1]), features=feats[:-1]),
        "extra.npz": dict(ids=np.array(ids + ["nope"]), features=np.vstack([feats, feats[:1]])),
        "dup.npz": dict(ids=np.array(ids[:-1] + ids[:1]), features=feats),
        "nan.npz": dict(ids=np.array(ids), features=np.where(np.arange(len(ids))[:, None] == 3,
                                                             np.nan, feats)),
        "flat.npz": dict(ids=np.array(ids), features=feats[:, 0]),
        "cube.npz": dict(ids=np.array(ids), features=feats[:, :, None]),
    }
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        out = tmp_path / f"out-{name}"
        rc = main(["evaluate", "-p", "mars/v2v@1", "--data", mars, "--features",
                   str(tmp_path / name), "--out", str(out)])
        assert rc == 2, name
        assert not out.exists(), name
    assert main(["evaluate", "-p", "mars/v2w@1", "--data", mars, "--features",
                 str(tmp_path / "good.npz"), "--out", str(tmp_path / "o")]) == 2


class ColourAdapter(ModuleAdapter):
    """A tiny deterministic model: mean colour per horizontal stripe (no training needed)."""

    card = AdapterCard(name="colour-test", modes=("v2v", "i2v"), input_size=(32, 16))

    def __init__(self):
        super().__init__(torch.nn.Identity())

    def forward_features(self, clips):
        b, t, c, h, w = clips.shape
        return clips.reshape(b, t, c, 4, h // 4, w).mean(dim=(1, 4, 5)).reshape(b, -1)


def test_adapter_path_extracts_scores_and_caches(mars, tmp_path):
    source = AdapterSource(f"{__name__}:ColourAdapter", batch_size=7, cache_dir=str(tmp_path / "c"))
    proc = {"input_size": (32, 16), "seq_len": 3}
    res = evaluate("mars/v2v@1", mars, source, procedure=proc, bootstrap=0)
    assert 0.0 < res.value("mAP") <= 1.0
    info = res.record.splits[0].source["extraction"]["tracklets"]
    # the official gallery holds the queries: each tracklet is embedded once
    assert info["cache"] == "miss" and info["n_extracted"] == res.record.splits[0].n_gallery
    again = evaluate("mars/v2v@1", mars, source, procedure=proc, bootstrap=0)
    assert again.record.splits[0].source["extraction"]["tracklets"]["cache"] == "hit"
    assert again.value("mAP") == res.value("mAP")
    # the torchreid gallery is a subset of the official one: every feature comes from the cache
    torchreid = evaluate("mars/v2v-torchreid@1", mars, source, procedure=proc, bootstrap=0)
    assert torchreid.record.splits[0].source["extraction"]["tracklets"]["cache"] == "hit"
    i2v = evaluate("mars/i2v@1", mars, source, procedure=proc, bootstrap=0)
    extraction = i2v.record.splits[0].source["extraction"]
    assert extraction["tracklets"]["cache"] == "hit"
    assert extraction["query_images"]["cache"] == "miss"
    assert i2v.record.n_queries == res.record.n_queries
    # an identity network has no matmul or convolution: 0 FLOPs, counted for clip and image
    assert i2v.record.source.adapter.cost["gflops_per_image"] == 0.0
    assert "gflops_per_image" not in res.record.source.adapter.cost
    # the resolved configuration and the time per embedded item are recorded
    assert res.record.config["batch_size"] == 7 and res.record.config["world_size"] == 1
    assert res.record.source.adapter.seconds_per_item > 0
    assert again.record.source.adapter.seconds_per_item is None  # nothing extracted


def test_missing_dataset_file_is_one_clear_error(mars, tmp_path, capsys):
    rc = main(["evaluate", "-p", "dukev/v2v@1", "--data", str(tmp_path / "nowhere"),
               "--features", "x.npz", "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DukeMTMC-VideoReID root" in err[0]
    with pytest.raises(DataError):
        load("mars", tmp_path)


def test_validate_checks_a_features_file_against_a_protocol(features_for, mars, ilids, tmp_path,
                                                            capsys):
    ids = features_for(tmp_path / "ok.npz", "mars/v2v@1", mars)
    assert main(["validate", str(tmp_path / "ok.npz"), "--protocol", "mars/v2v@1",
                 "--data", mars]) == 0
    z = np.load(tmp_path / "ok.npz")
    np.savez(tmp_path / "short.npz", ids=z["ids"][1:], features=z["features"][1:])
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "short.npz"), "--protocol", "mars/v2v@1",
                 "--data", mars]) == 2
    err = capsys.readouterr().err
    assert "official:" in err and "1 missing" in err and repr(str(ids[0])) in err
    # a multi-split protocol: one file per split through a template; a split left out is named
    for split in get_protocol("ilidsvid/v2v@1").evaluation.splits[:-1]:
        features_for(tmp_path / f"il-{split}.npz", "ilidsvid/v2v@1", ilids, split=split)
    assert main(["validate", str(tmp_path / "il-{split}.npz"), "--protocol", "ilidsvid/v2v@1",
                 "--data", ilids, "--split", "split0"]) == 0
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "il-{split}.npz"), "--protocol", "ilidsvid/v2v@1",
                 "--data", ilids]) == 2
    err = capsys.readouterr().err
    assert "split9:" in err and "1 problem(s)" in err
    assert main(["validate", str(tmp_path / "ok.npz"), "--protocol", "mars/v2v@1"]) == 2
