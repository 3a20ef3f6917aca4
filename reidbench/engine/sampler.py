"""P x K identity sampling for metric-learning batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from reidbench.errors import InputError, describe

__all__ = ["PKSampler"]


class PKSampler:
    """Batches of ``P`` identities x ``K`` tracklets each.

    Identities are drawn without replacement within a batch; an identity's ``K`` tracklets are drawn
    without replacement when it has at least ``K``, with replacement otherwise (torchreid
    ``RandomIdentitySampler`` / COSAM convention). One epoch visits every identity about once:
    ``len(sampler) = n_ids // P`` batches.

    Args:
        labels: Per-tracklet identity label (any hashable ints).
        P: Identities per batch.
        K: Tracklets per identity.
        seed: Seed of the sampler's generator.
    """

    def __init__(self, labels: Sequence[int] | np.ndarray, P: int, K: int, seed: int = 0) -> None:
        labels = np.asarray(labels)
        self.ids, inverse = np.unique(labels, return_inverse=True)
        if len(self.ids) < P:
            raise InputError(describe("P", "PKSampler", f"at most the number of training "
                                      f"identities ({len(self.ids)})", P,
                                      "lower P or add identities"))
        if P < 1 or K < 1:
            raise InputError(describe("P, K", "PKSampler", "positive integers", (P, K), ""))
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(self.ids) + 1))
        self.members = [order[bounds[i]:bounds[i + 1]] for i in range(len(self.ids))]
        self.P, self.K = P, K
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.ids) // self.P

    def batch(self) -> np.ndarray:
        """Draw one batch: ``P * K`` tracklet indices, grouped by identity."""
        chosen = self.rng.choice(len(self.ids), size=self.P, replace=False)
        parts = [self.rng.choice(self.members[i], size=self.K,
                                 replace=len(self.members[i]) < self.K) for i in chosen]
        return np.concatenate(parts)

    def __iter__(self) -> Iterator[np.ndarray]:
        for _ in range(len(self)):
            yield self.batch()
