"""Shared tiny synthetic dataset copies (one per layout and size, made once per session)."""

import numpy as np
import pytest

from reidbench.datasets import load
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine import build_evalset
from reidbench.protocols import get_protocol

TINY = SynthConfig(height=32, width=16, min_len=3, max_len=8, median_len=5.0)


@pytest.fixture(scope="session")
def synth_copy(tmp_path_factory):
    """``synth_copy(layout, ids=8, seed=1) -> root``: a tiny copy in the official layout."""
    made = {}

    def make(layout, ids=8, seed=1):
        key = (layout, ids, seed)
        if key not in made:
            folder = tmp_path_factory.mktemp(f"{layout}-{ids}-{seed}")
            made[key] = write_dataset(layout, folder / layout, ids=ids, seed=seed,
                                      config=TINY).root
        return made[key]

    return make


def pid_features(ids, dataset, noise=0.6, seed=0, dim=16):
    """Features with known structure: one centre per pid plus noise."""
    rng = np.random.default_rng(seed)
    centres = {}
    rows = []
    for i in ids:
        pid = dataset.tracklet(i.split("#")[0]).pid
        if pid not in centres:
            centres[pid] = rng.normal(size=dim)
        rows.append(centres[pid] + noise * rng.normal(size=dim))
    return np.array(rows, dtype=np.float32)


@pytest.fixture(scope="session")
def features_for():
    """``features_for(path, protocol, root, split=None, seed=0) -> ids``: write a features file."""

    def write(path, protocol, root, split=None, seed=0):
        p = get_protocol(protocol)
        ds = load(p.evaluation.dataset, root)
        ids = build_evalset(ds, p, split or p.evaluation.splits[0]).ids()
        np.savez(path, ids=np.array(ids), features=pid_features(ids, ds, seed=seed))
        return ids

    return write
