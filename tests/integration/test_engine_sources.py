"""One Source protocol: prepare() resolves procedure, training set and per-split models once."""

import pytest
import torch

import reidbench.adapters as adapters
from reidbench.adapters import AdapterCard, ModuleAdapter, save_checkpoint
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine import AdapterSource, FeaturesSource, evaluate
from reidbench.engine.sources import Source
from reidbench.protocols import get_protocol

TINY = SynthConfig(height=32, width=16, min_len=3, max_len=6, median_len=4.0)


class Stripes(ModuleAdapter):
    card = AdapterCard(name="stripes-test", modes=("v2v",), input_size=(32, 16))

    def __init__(self):
        super().__init__(torch.nn.Linear(12, 4))

    def forward_features(self, clips):
        b, t, c, h, w = clips.shape
        x = clips.reshape(b, t, c, 4, h // 4, w).mean(dim=(1, 4, 5)).reshape(b, -1)
        return self.model(x)


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    return write_dataset("mars", tmp_path_factory.mktemp("m") / "MARS", ids=6, seed=5,
                         config=TINY).root


def test_sources_implement_the_protocol():
    for source in (FeaturesSource("f.npz"), AdapterSource(f"{__name__}:Stripes")):
        assert isinstance(source, Source)
        assert source.extracts == (source.kind != "features")


def test_a_single_split_evaluate_reads_its_checkpoint_once(mars, tmp_path, monkeypatch):
    torch.manual_seed(0)
    ckpt = tmp_path / "w.safetensors"
    save_checkpoint(ckpt, Stripes().model.state_dict(),
                    {"train_dataset": "mars", "input_size": [32, 16]})
    calls = {"load": 0, "meta": 0}
    load, meta = adapters.load_checkpoint, adapters.read_checkpoint_meta

    def counted(name, fn):
        def call(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(adapters, "load_checkpoint", counted("load", load))
    monkeypatch.setattr(adapters, "read_checkpoint_meta", counted("meta", meta))
    source = AdapterSource(f"{__name__}:Stripes", str(ckpt))
    prepared = source.prepare(get_protocol("mars/v2v@1"), ["official"])
    assert calls == {"load": 1, "meta": 0}
    assert prepared.procedure.input_size == (32, 16)  # the trained size, read from that one read
    assert prepared.train_datasets == {"official": "mars"}
    res = evaluate("mars/v2v@1", mars, source, procedure={"seq_len": 2}, bootstrap=0)
    assert calls == {"load": 2, "meta": 0}  # prepare() once per evaluate, nothing else
    assert res.record.source.train_dataset == "mars"
    assert res.record.source.adapter.checkpoint_sha256 == adapters.sha256_file(ckpt)
