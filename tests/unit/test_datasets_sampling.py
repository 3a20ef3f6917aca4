"""Frame sampling strategies on hand-computed cases (docs/datasets.md, frame sampling)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reidbench.datasets.sampling import SAMPLERS, rrs_chunks, sample_test_clips, sample_train_clip
from reidbench.errors import InputError, RegistryError


def test_rrs_uses_ceil_chunks_and_pads_with_the_last_frame():
    # F = 13, T = 6: interval 3, chunk starts 0, 3, 6, 9, 12, 12 (docs/datasets.md)
    assert rrs_chunks(13, 6) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11], [12, 12, 12],
                                 [12, 12, 12]]
    assert sample_test_clips("rrs", 13, 6) == [[0, 3, 6, 9, 12, 12]]
    assert sample_test_clips("rrs", 12, 4) == [[0, 3, 6, 9]]
    assert sample_test_clips("rrs", 3, 6) == [[0, 1, 2, 2, 2, 2]]  # F < T
    assert sample_test_clips("rrs", 1, 4) == [[0, 0, 0, 0]]


def test_all_clips_loop_pads_the_last_clip():
    assert sample_test_clips("all_clips", 10, 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 8, 9]]
    assert sample_test_clips("all_clips", 8, 4) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert sample_test_clips("all_clips", 5, 4) == [[0, 1, 2, 3], [4, 4, 4, 4]]
    assert sample_test_clips("all_clips", 1, 4) == [[0, 0, 0, 0]]
    assert sample_test_clips("all_clips", 7, 3) == [[0, 1, 2], [3, 4, 5], [6, 6, 6]]


def test_interleaved_is_stmn_test_all():
    # div = 13 // 6 = 2 clips {j*2 + i}; frame 12 is never used
    assert sample_test_clips("interleaved", 13, 6) == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 11]]
    assert sample_test_clips("interleaved", 4, 6) == [[0, 1, 2, 3, 2, 3]]  # penultimate, again
    assert sample_test_clips("interleaved", 1, 3) == [[0, 0, 0]]  # STMN would loop forever


def test_evenly_first_and_consecutive():
    assert sample_test_clips("evenly", 10, 4) == [[0, 2, 4, 6]]  # drop 10 mod 4 tail frames
    assert sample_test_clips("evenly", 3, 5) == [[0, 1, 2, 2, 2]]
    assert sample_test_clips("first", 57, 8) == [[0]]
    assert sample_test_clips("consecutive", 10, 4) == [[0, 1, 2, 3]]
    assert sample_test_clips("consecutive", 2, 5) == [[0, 1, 0, 1, 0]]


def test_train_rrs_draws_one_frame_per_chunk_seeded():
    chunks = rrs_chunks(13, 6)
    draws = [sample_train_clip("rrs", 13, 6, np.random.default_rng(s)) for s in range(60)]
    for d in draws:
        assert all(i in c for i, c in zip(d, chunks, strict=True))
    assert {d[0] for d in draws} == {0, 1, 2}  # every chunk member reachable
    again = sample_train_clip("rrs", 13, 6, np.random.default_rng(7))
    assert again == draws[7]


def test_train_consecutive_reaches_the_last_window():
    starts = {sample_train_clip("consecutive", 7, 4, np.random.default_rng(s))[0]
              for s in range(80)}
    assert starts == {0, 1, 2, 3}  # [0, F-T] inclusive, unlike COSAM's [0, F-T-1] (P20)
    assert sample_train_clip("consecutive", 2, 4, np.random.default_rng(0)) == [0, 1, 0, 1]
    assert sample_train_clip("evenly", 10, 4, np.random.default_rng(0)) == [0, 2, 4, 6]


def test_bad_arguments():
    with pytest.raises(InputError, match="tracklet length"):
        sample_test_clips("rrs", 0, 4)
    with pytest.raises(InputError, match="seq_len"):
        sample_test_clips("rrs", 5, 0)
    with pytest.raises(RegistryError, match="rrs"):
        sample_test_clips("rss", 5, 4)
    with pytest.raises(InputError, match="consecutive"):
        sample_train_clip("first", 5, 4, np.random.default_rng(0))
    assert set(SAMPLERS.names()) >= {"rrs", "all_clips", "evenly", "first", "consecutive"}


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 300), t=st.integers(1, 16))
def test_every_strategy_gives_valid_clips(n, t):
    for name in SAMPLERS.names():
        clips = sample_test_clips(name, n, t)
        assert clips
        for clip in clips:
            assert len(clip) == (1 if name == "first" else t)
            assert all(0 <= i < n for i in clip)
    assert {i for c in sample_test_clips("all_clips", n, t) for i in c} == set(range(n))
    rrs = sample_test_clips("rrs", n, t)[0]
    assert rrs == sorted(rrs) and rrs[0] == 0
    clip = sample_train_clip("rrs", n, t, np.random.default_rng(n * 31 + t))
    assert clip == sorted(clip) and all(0 <= i < n for i in clip)


def test_interleaved_pads_short_tracklets_as_stmn_code():
    """STMN main.py test_all: ``while f != L: seqs = cat([seqs, seqs[:, -2:-1]])`` (n >= 2)."""
    for t in (4, 6):
        for n in range(2, t):
            seqs = list(range(n))
            while len(seqs) != t:
                seqs = seqs + seqs[-2:-1]
            assert sample_test_clips("interleaved", n, t) == [seqs], (n, t)
    assert sample_test_clips("interleaved", 3, 6) == [[0, 1, 2, 1, 2, 1]]
