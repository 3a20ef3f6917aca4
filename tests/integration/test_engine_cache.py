"""The feature cache returns only features that the same model made of the same item."""

import numpy as np
import pytest
import torch

from reidbench.adapters import Adapter, ModuleAdapter
from reidbench.datasets import load
from reidbench.engine import build_evalset, dataset_fingerprint
from reidbench.engine.extract import extract_features, model_key
from reidbench.protocols import Procedure, get_protocol

PROC = Procedure(sampling="all_clips", seq_len=2, input_size=(32, 16))


class Unnamed(ModuleAdapter):
    """An unregistered adapter with the default card ``unnamed`` and random weights."""

    def __init__(self):
        super().__init__(torch.nn.Linear(12, 6))

    def forward_features(self, clips):
        b, t, c, h, w = clips.shape
        return self.model(clips.reshape(b, t, c, 4, h // 4, w).mean(dim=(1, 4, 5)).reshape(b, -1))


class Negated(Unnamed):
    """Another unregistered adapter, same card, same weights, other features."""

    def forward_features(self, clips):
        return -super().forward_features(clips)


class Weightless(Adapter):
    """No checkpoint and no torch module: its weights cannot be identified."""

    def embed_clips(self, clips):
        return clips.mean(dim=(1, 3, 4))


def _seeded(cls, seed=0):
    torch.manual_seed(seed)
    return cls().eval()


@pytest.fixture(scope="module")
def items(synth_copy):
    ds = load("dukev", synth_copy("dukev"))
    es = build_evalset(ds, get_protocol("dukev/v2v@1"), "official")
    return list(es.gallery), dataset_fingerprint(ds)


def _extract(adapter, items, cache, fingerprint="fp"):
    return extract_features(adapter, items, procedure=PROC, cache_dir=str(cache),
                            dataset_fingerprint=fingerprint)


def test_two_unregistered_adapters_without_checkpoints_do_not_collide(items, tmp_path):
    gallery, _ = items
    a, info_a = _extract(_seeded(Unnamed), gallery, tmp_path)
    b, info_b = _extract(_seeded(Negated), gallery, tmp_path)
    assert info_a["cache"] == info_b["cache"] == "miss"
    np.testing.assert_allclose(b, -a, rtol=1e-6)
    # the same class with other weights is another model too
    c, info_c = _extract(_seeded(Unnamed, seed=1), gallery, tmp_path)
    assert info_c["cache"] == "miss" and not np.allclose(c, a)
    again, info = _extract(_seeded(Unnamed), gallery, tmp_path)
    assert info["cache"] == "hit" and np.array_equal(again, a)


def test_items_are_cached_one_by_one(items, tmp_path):
    gallery, _ = items
    adapter = _seeded(Unnamed)
    half, _ = _extract(adapter, gallery[: len(gallery) // 2], tmp_path)
    full, info = _extract(adapter, gallery, tmp_path)
    assert info["cache"] == "partial"
    assert info["n_extracted"] == len(gallery) - len(gallery) // 2
    np.testing.assert_array_equal(full[: len(half)], half)
    fresh, _ = extract_features(adapter, gallery, procedure=PROC)
    np.testing.assert_allclose(full, fresh, rtol=1e-6)


def test_the_key_holds_dataset_procedure_device_and_config(items):
    adapter = _seeded(Unnamed)
    key = model_key(adapter, PROC, dataset_fingerprint="a")
    assert key != model_key(adapter, PROC, dataset_fingerprint="b")
    assert key != model_key(adapter, PROC.override(seq_len=3), dataset_fingerprint="a")
    assert key != model_key(adapter, PROC, dataset_fingerprint="a", config={"dim": 6})
    # the metric settings never enter the key
    assert key == model_key(adapter, PROC.override(distance="cosine", rerank=True),
                            dataset_fingerprint="a")
    adapter.device = "cuda:1"  # autocast runs on CUDA: other numbers
    assert key != model_key(adapter, PROC, dataset_fingerprint="a")
    adapter.device = "cpu"
    adapter.checkpoint_sha256 = "ab" * 32
    assert key != model_key(adapter, PROC, dataset_fingerprint="a")
    assert model_key(Weightless(), PROC) is None


def test_an_adapter_of_unknown_weights_is_not_cached(items, tmp_path):
    gallery, _ = items
    _, info = _extract(Weightless(), gallery, tmp_path)
    assert info["cache"] == "off" and not any(tmp_path.iterdir())
