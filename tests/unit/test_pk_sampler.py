import numpy as np
import pytest

from reidbench.engine.sampler import PKSampler
from reidbench.errors import InputError


def test_batches_hold_p_ids_times_k_tracklets():
    labels = np.repeat(np.arange(10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    s = PKSampler(labels, P=4, K=3, seed=1)
    assert len(s) == 2
    for batch in s:
        ids = labels[batch]
        assert batch.shape == (12,)
        assert len(set(ids.tolist())) == 4
        for block in ids.reshape(4, 3):
            assert len(set(block.tolist())) == 1
        for block in batch.reshape(4, 3):
            if np.sum(labels == labels[block[0]]) >= 3:
                assert len(set(block.tolist())) == 3  # no replacement when enough tracklets


def test_seeded_and_validated():
    labels = np.arange(8).repeat(2)
    a = [b.tolist() for b in PKSampler(labels, 2, 2, seed=3)]
    b = [b.tolist() for b in PKSampler(labels, 2, 2, seed=3)]
    assert a == b
    with pytest.raises(InputError, match="P in PKSampler"):
        PKSampler(labels, P=9, K=2)
