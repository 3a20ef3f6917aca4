"""Frame sampling strategies, shared by the engine and the baselines (``docs/datasets.md``).

Test-time strategies map a tracklet length ``n`` to a list of clips (each a list of frame indices);
the tracklet feature is the pool of the clip features. Training strategies draw one clip of ``T``
frames with a seeded generator. Every strategy handles ``n < T`` (including ``n = 1``).

==============  ===========================================================================
``rrs``         Restricted random sampling (Li et al. 2018; STMN, READ): ``T`` chunks of
                ``ceil(n/T)`` indices over ``0..n-1`` padded with ``n-1``; test takes the first
                index of each chunk, training a uniform one per chunk. ``n < T``: all frames, then
                the last repeated.
``all_clips``   Every frame in consecutive clips of ``T`` (COSAM "dense"): clips start at 0, T,
                2T, ...; the last, shorter clip is loop-padded with its own frames in order.
``interleaved`` STMN ``test_all``: ``div = n // T`` clips, clip ``i`` = frames ``{j*div + i}``;
                the last ``n mod T`` frames are unused; ``n < T``: append the current
                penultimate frame until there are ``T`` (the padding alternates ``n-2, n-1, ...``:
                4 frames give ``0 1 2 3 2 3``), as STMN's code does; ``n = 1`` repeats frame 0,
                where STMN's code would loop forever.
``evenly``      torchreid: ``n >= T``: drop ``n mod T`` tail frames, every ``(n // T)``-th frame;
                else all frames and the last repeated.
``first``       The first frame only (I2V query image).
``consecutive`` Training: ``T`` consecutive frames from a random start in ``[0, n-T]``
                (loop-padded when ``n < T``); test: the first ``T`` frames.
==============  ===========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from reidbench.errors import InputError, describe
from reidbench.registry import Registry

__all__ = ["SAMPLERS", "sample_test_clips", "sample_train_clip", "rrs_chunks"]


def _check(n: int, t: int) -> None:
    if n < 1:
        raise InputError(describe("tracklet length", "frame sampling", "at least 1 frame", n,
                                  "drop empty tracklets"))
    if t < 1:
        raise InputError(describe("seq_len", "frame sampling", "at least 1", t, ""))


def rrs_chunks(n: int, t: int) -> list[list[int]]:
    """The ``t`` RRS chunks of a length-``n`` tracklet (indices, padded with ``n - 1``)."""
    if n < t:
        return [[i] for i in range(n)] + [[n - 1]] * (t - n)
    step = math.ceil(n / t)
    strip = list(range(n)) + [n - 1] * (step * t - n)
    return [strip[s * step:(s + 1) * step] for s in range(t)]


def _loop_pad(clip: list[int], t: int) -> list[int]:
    return [clip[k % len(clip)] for k in range(t)]


def _rrs_test(n: int, t: int) -> list[list[int]]:
    return [[c[0] for c in rrs_chunks(n, t)]]


def _all_clips(n: int, t: int) -> list[list[int]]:
    return [_loop_pad(list(range(s, min(s + t, n))), t) for s in range(0, n, t)]


def _interleaved(n: int, t: int) -> list[list[int]]:
    frames = list(range(n))
    while len(frames) < t:  # STMN's main.py test_all: append the current penultimate frame
        frames.append(frames[-2] if len(frames) > 1 else frames[-1])
    div = len(frames) // t
    return [[frames[j * div + i] for j in range(t)] for i in range(div)]


def _evenly(n: int, t: int) -> list[list[int]]:
    if n >= t:
        step = n // t
        return [list(range(0, step * t, step))]
    return [list(range(n)) + [n - 1] * (t - n)]


def _first(n: int, t: int) -> list[list[int]]:
    return [[0]]


def _consecutive_test(n: int, t: int) -> list[list[int]]:
    return [_loop_pad(list(range(min(n, t))), t)]


_TEST: dict[str, Callable[[int, int], list[list[int]]]] = {
    "rrs": _rrs_test, "all_clips": _all_clips, "interleaved": _interleaved, "evenly": _evenly,
    "first": _first, "consecutive": _consecutive_test,
}
SAMPLERS: Registry[Callable[[int, int], list[list[int]]]] = Registry("sampling strategy")
for _name, _fn in _TEST.items():
    SAMPLERS.register(_name, _fn)


def sample_test_clips(strategy: str, n: int, t: int) -> list[list[int]]:
    """Deterministic test-time clips of a length-``n`` tracklet under ``strategy``."""
    _check(n, t)
    return SAMPLERS.get(strategy)(n, t)


def sample_train_clip(strategy: str, n: int, t: int, rng: np.random.Generator) -> list[int]:
    """One random training clip of ``t`` frame indices (``rrs`` or ``consecutive``)."""
    _check(n, t)
    if strategy == "rrs":
        return [int(c[rng.integers(len(c))]) for c in rrs_chunks(n, t)]
    if strategy == "consecutive":
        start = int(rng.integers(0, max(n - t, 0) + 1))
        return _loop_pad(list(range(start, min(start + t, n))), t)
    if strategy == "evenly":
        return _evenly(n, t)[0]
    raise InputError(describe("strategy", "sample_train_clip", "'rrs', 'consecutive' or "
                              "'evenly'", repr(strategy), ""))
