"""score_pairs: every (query, gallery) pair scored once, whatever the query and gallery blocks."""

import numpy as np
import torch

from reidbench.engine.extract import score_pairs


class DotScorer:
    device = torch.device("cpu")

    def __init__(self):
        self.gallery_rows = []

    def eval(self):  # the engine puts every adapter in eval mode before it scores
        return self

    def score(self, q, g):
        self.gallery_rows.append(g.shape[0])
        return q @ g.T


def test_blocks_change_nothing_but_bound_the_gallery_on_the_device():
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(7, 5)).astype(np.float32), rng.normal(size=(23, 5)).astype(np.float32)
    want = (q.astype(np.float64) @ g.T.astype(np.float64))
    whole = DotScorer()
    np.testing.assert_allclose(score_pairs(whole, q, g), want, rtol=1e-5, atol=1e-6)
    assert whole.gallery_rows == [23]
    small = DotScorer()
    got = score_pairs(small, q, g, chunk=3, gallery_bytes=4 * g[0].nbytes)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got.shape == (7, 23) and got.dtype == np.float64
    assert max(small.gallery_rows) == 4 and sum(small.gallery_rows) == 3 * 23  # 3 query chunks
    assert score_pairs(DotScorer(), q, g[:0]).shape == (7, 0)
