"""``rank_metrics``: mAP (every AP variant), CMC and mINP of a retrieval problem, in one pass.

Definitions (``docs/metrics.md``): for a query, gallery items with the same pid and a different
camera are **positives**; items with the same pid and the same camera (``same_camera="junk"``) and
items whose pid is in ``junk_pids`` are **junk**, removed from the ranking; everything else
(distractors, pid 0, included) is a **negative**. Lower distance = better.

The work is done chunk by chunk of queries by the shared core (:mod:`reidbench.metrics._ranks`);
the memory of a chunk is bounded independently of the number of queries, and
:func:`rank_metrics_from_features` never builds the full distance matrix.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from reidbench.errors import InputError, describe
from reidbench.metrics import _validate as V
from reidbench.metrics._ranks import GalleryIndex, positive_ranks
from reidbench.metrics.options import DEFAULT_CMC_RANKS, MetricOptions, summary_names
from reidbench.metrics.presets import PRESET_FIELDS, PRESETS
from reidbench.metrics.variants import AP_VARIANTS

__all__ = ["RankMetrics", "rank_metrics", "rank_metrics_from_features", "resolve_options"]

#: The keyword options of :func:`rank_metrics` that are :class:`MetricOptions` fields.
_OPTION_KEYS = ("ap", "ties", "no_positive", "max_rank", "junk_pids", "same_camera", "cmc",
                "cmc_ranks")
# Elements of a chunk (rows x gallery); a float64 chunk of this size is 16 MB.
_CHUNK_ELEMS = 1 << 21
# Distances computed at once by rank_metrics_from_features (a float64 block of this is 128 MiB).
_DISTANCE_BLOCK_ELEMS = 1 << 24
# Columns per block when a non C-ordered chunk is copied.
_COPY_BLOCK = 256


class _Unset:
    def __repr__(self) -> str:
        return "<default>"


_UNSET: Any = _Unset()


@dataclass(frozen=True)
class RankMetrics:
    """Result of :func:`rank_metrics`: summaries plus per-query arrays (for bootstrap CIs).

    Attributes:
        map: Mean AP over counted queries (headline AP variant).
        cmc: ``(max_rank,)`` float64 CMC curve, fractions in [0, 1]; ``cmc[k-1]`` is Rank-k.
        minp: Mean INP over counted queries.
        ap: ``(Q,)`` per-query AP (headline variant); NaN where not counted.
        inp: ``(Q,)`` per-query INP = positives / rank of the last positive; NaN where not counted.
        first_rank: ``(Q,)`` 1-based junk-free rank of the first positive, 0 where none.
        n_positives: ``(Q,)`` positives per query.
        valid: ``(Q,)`` bool, the query has at least one positive.
        counted: ``(Q,)`` bool, the query entered the means under the no-positive policy.
        n_skipped: Queries not counted.
        n_queries: Number of queries.
        options: The resolved options, JSON-ready (:meth:`MetricOptions.as_dict` plus
            ``preset``).
        ap_by_variant: Per-query AP of every registered variant (same tie policy and counting).
        tied_pairs: Number of (positive, valid negative) pairs at exactly equal distance.
        allshots_hits: ``(Q, max_rank)`` int32 when ``cmc="allshots"``, else None:
            ``allshots_hits[q, k-1]`` is the number of query ``q``'s positives with fewer than
            ``k`` valid negatives ranked above them (:meth:`rank_per_query` divides it by
            ``n_positives``).
        query_pids: ``(Q,)`` int64 query identities (for resampling by identity).
    """

    map: float
    cmc: np.ndarray
    minp: float
    ap: np.ndarray
    inp: np.ndarray
    first_rank: np.ndarray
    n_positives: np.ndarray
    valid: np.ndarray
    counted: np.ndarray
    n_skipped: int
    n_queries: int
    options: dict[str, Any] = field(default_factory=dict)
    ap_by_variant: dict[str, np.ndarray] = field(default_factory=dict)
    tied_pairs: int = 0
    allshots_hits: np.ndarray | None = None
    query_pids: np.ndarray | None = None

    def rank(self, k: int) -> float:
        """CMC at rank ``k`` (NaN if ``k`` exceeds ``max_rank``)."""
        return float(self.cmc[k - 1]) if 1 <= k <= self.cmc.shape[0] else float("nan")

    def rank_per_query(self, k: int) -> np.ndarray:
        """Each query's share of Rank-k under this result's CMC mode; its mean is ``rank(k)``.

        ``first_match``: 1.0 if the first positive is within the top ``k``, else 0.0 (any
        ``k >= 1``). ``allshots``: the fraction of the query's positives with fewer than ``k``
        negatives above them (``k <= max_rank``). Queries that count without a positive get 0.0.
        Bootstrap intervals of Rank-k resample this array.

        Args:
            k: The rank, 1-based.

        Returns:
            ``(Q,)`` float64, NaN where the query is not counted.

        Raises:
            InputError: If ``k < 1``, or ``k > max_rank`` for an allshots CMC.
        """
        where = "RankMetrics.rank_per_query"
        top = self.cmc.shape[0] if self.allshots_hits is not None else None
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or (
                top is not None and k > top):
            raise InputError(describe("k", where, "an integer >= 1" + (
                f" and <= max_rank ({top}) for an allshots CMC" if top is not None else ""),
                repr(k), "evaluate with a larger max_rank" if top is not None else ""))
        if self.allshots_hits is None:
            hit = ((self.first_rank >= 1) & (self.first_rank <= k)).astype(np.float64)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                hit = np.where(self.n_positives > 0,
                               self.allshots_hits[:, k - 1] / self.n_positives, 0.0)
        return np.where(self.counted, hit, np.nan)

    @property
    def rank1(self) -> float:
        """CMC at rank 1."""
        return self.rank(1)

    @property
    def rank5(self) -> float:
        """CMC at rank 5."""
        return self.rank(5)

    @property
    def rank10(self) -> float:
        """CMC at rank 10."""
        return self.rank(10)

    @property
    def rank20(self) -> float:
        """CMC at rank 20."""
        return self.rank(20)

    @property
    def map_by_variant(self) -> dict[str, float]:
        """The mAP of every AP variant (mean over counted queries)."""
        return {k: _mean(v, self.counted) for k, v in self.ap_by_variant.items()}

    @property
    def cmc_ranks(self) -> tuple[int, ...]:
        """The Rank-k of the summary (the options' ``cmc_ranks``)."""
        return tuple(self.options.get("cmc_ranks", DEFAULT_CMC_RANKS))

    def summary_values(self) -> dict[str, float]:
        """The summary metrics (``summary_names(cmc_ranks)``) as floats, in report order."""
        values = {"mAP": self.map, "mINP": self.minp}
        values.update({f"rank{k}": self.rank(k) for k in self.cmc_ranks})
        return {name: float(values[name]) for name in summary_names(self.cmc_ranks)}

    def summary(self) -> dict[str, Any]:
        """Plain-Python summary: the summary metrics, every variant's mAP, counts."""
        out: dict[str, Any] = dict(self.summary_values())
        out["mAP_by_variant"] = self.map_by_variant
        out.update(n_queries=self.n_queries, n_counted=int(self.counted.sum()),
                   n_skipped=self.n_skipped, n_valid=int(self.valid.sum()),
                   tied_pairs=self.tied_pairs)
        return out


def _mean(values: np.ndarray, counted: np.ndarray) -> float:
    return float(values[counted].mean()) if counted.any() else float("nan")


def resolve_options(where: str = "rank_metrics", preset: str | None = None,
                    options: MetricOptions | None = None, **given: Any) -> MetricOptions:
    """Merge explicit options with a preset, or with ``options`` (else the defaults), validated.

    Args:
        where: Function name for error messages.
        preset: Preset name, or None.
        options: Base options, or None (the defaults); not together with ``preset``.
        **given: :class:`MetricOptions` fields; a value that is the ``_UNSET`` sentinel was not
            passed. ``ap="all"`` means the base's AP variant.

    Returns:
        The resolved :class:`MetricOptions`.

    Raises:
        InputError: On an unknown name, an option that contradicts the preset, or both
            ``preset`` and ``options``.
    """
    given = {k: v for k, v in given.items() if v is not _UNSET}
    if given.get("ap") == "all":
        del given["ap"]
    if options is not None and not isinstance(options, MetricOptions):
        raise InputError(describe("options", where, "a reidbench.metrics.MetricOptions or None",
                                  type(options).__name__, "build one with MetricOptions(...)"))
    if preset is None:
        return MetricOptions.build(where, options, **given)
    if options is not None:
        raise InputError(describe("options", where, "options or preset, not both",
                                  f"both (preset {preset!r})", "drop one of them"))
    V.check_choice(preset, "preset", PRESETS.names(), where)
    fixed = PRESETS.get(preset).metric
    merged = MetricOptions.build(where, fixed, **given)
    for key in PRESET_FIELDS:
        if key in given and getattr(merged, key) != getattr(fixed, key):
            raise InputError(describe(key, where, f"{getattr(fixed, key)!r} (fixed by preset "
                                      f"{preset!r}) or no value", repr(given[key]),
                                      f"drop {key}= or drop preset="))
    return merged


def rank_metrics(
    distmat: Any,
    query_pids: Any,
    gallery_pids: Any,
    query_camids: Any,
    gallery_camids: Any,
    *,
    ap: str = _UNSET,
    ties: str = _UNSET,
    no_positive: str = _UNSET,
    max_rank: int = _UNSET,
    junk_pids: Any = _UNSET,
    same_camera: str = _UNSET,
    cmc: str = _UNSET,
    cmc_ranks: Any = _UNSET,
    options: MetricOptions | None = None,
    preset: str | None = None,
    chunk_size: int | None = None,
    threads: int | None = None,
) -> RankMetrics:
    """mAP, CMC and mINP of a distance matrix, every AP variant from one pass.

    The settings are a :class:`~reidbench.metrics.MetricOptions`: ``options`` (or the one
    ``preset`` names, or the defaults), with any option passed by keyword applied on top. Defaults:
    ``ap="noninterp"``, ``ties="stable"``, ``no_positive="skip"``, ``junk_pids=(-1,)``,
    ``same_camera="junk"``, ``cmc="first_match"``, ``max_rank=50``, ``cmc_ranks=(1, 5, 10, 20)``.

    Args:
        distmat: ``(Q, G)`` distances (numpy or torch; float32 is used as is, never rounded
            again). Lower = more similar.
        query_pids: ``(Q,)`` integer query identities.
        gallery_pids: ``(G,)`` integer gallery identities (0 distractor, -1 junk by default).
        query_camids: ``(Q,)`` integer query cameras.
        gallery_camids: ``(G,)`` integer gallery cameras.
        ap: Headline AP variant (``reidbench.metrics.AP_VARIANTS``), or ``"all"`` (the same as
            the default; every variant is always in ``ap_by_variant``).
        ties: ``stable`` (gallery index), ``optimistic`` (positives first) or ``pessimistic``.
            The sklearn variants group tied distances regardless; CMC, mINP and ``first_rank``
            follow this order.
        no_positive: ``skip``, ``zero``, ``nan``, ``skip_raw`` (READ) or ``error``.
        max_rank: Length of the CMC curve.
        junk_pids: Gallery pids that are junk for every query.
        same_camera: ``"junk"``: same-pid same-camera gallery items are removed.
        cmc: ``first_match`` (Market/MARS) or ``allshots`` (open-reid; the result then also
            keeps a ``(Q, max_rank)`` int32 ``allshots_hits`` for per-query Rank-k).
        cmc_ranks: The Rank-k of :meth:`RankMetrics.summary` (ascending, ``<= max_rank``).
        options: Base :class:`~reidbench.metrics.MetricOptions` (not together with ``preset``).
        preset: A preset name (``reidbench.metrics.PRESETS``) fixing ap/ties/no_positive/junk/cmc.
        chunk_size: Queries per chunk (default: about 2M distances per chunk).
        threads: Threads ranking chunks in parallel (default :func:`default_threads`: the
            ``REIDBENCH_THREADS`` environment variable or the available CPUs); results do not
            depend on it.

    Returns:
        A :class:`RankMetrics`.

    Raises:
        InputError: On a bad array (shape, NaN/inf, empty gallery), an unknown option value or
            preset, an option contradicting the preset, or (``no_positive="error"``) a query
            without a positive.
    """
    where = "rank_metrics"
    opts = resolve_options(where, preset, options, ap=ap, ties=ties, no_positive=no_positive,
                           max_rank=max_rank, junk_pids=junk_pids, same_camera=same_camera,
                           cmc=cmc, cmc_ranks=cmc_ranks)
    chunk_size = V.check_positive_int(chunk_size, "chunk_size", where, allow_none=True)
    d = V.check_distmat(distmat, where, finite=False)  # checked chunk by chunk, by the core
    n_q, n_g = d.shape
    qp = V.check_labels(query_pids, "query_pids", n_q, where, "distmat rows")
    gp = V.check_labels(gallery_pids, "gallery_pids", n_g, where, "distmat columns")
    qc = V.check_labels(query_camids, "query_camids", n_q, where, "distmat rows")
    gc = V.check_labels(gallery_camids, "gallery_camids", n_g, where, "distmat columns")
    threads = _check_threads(threads, where)
    rows = chunk_size or max(1, _CHUNK_ELEMS // n_g)
    # One reusable copy buffer is only safe when chunks are ranked one at a time.
    buffers = _repeat_buffer(d, rows) if threads == 1 else itertools.repeat(None)
    chunks = ((s, _c_ordered(d[s:s + rows], scratch)) for s, scratch in
              zip(range(0, n_q, rows), buffers, strict=False))
    return _evaluate(chunks, qp, qc, GalleryIndex.build(gp, gc, opts.junk_pids), opts, preset,
                     (where, "distmat"), threads)


def rank_metrics_from_features(
    query_feats: Any,
    gallery_feats: Any,
    query_pids: Any,
    gallery_pids: Any,
    query_camids: Any,
    gallery_camids: Any,
    *,
    distance: str = "euclidean",
    chunk_size: int | None = None,
    threads: int | None = None,
    **options: Any,
) -> RankMetrics:
    """:func:`rank_metrics` streamed from features: the full distance matrix never exists.

    Each block of queries gets its distances (as :func:`reidbench.metrics.compute_distance`,
    float64; on the tensors' device for torch input; about 128 MiB, see
    :func:`distance_block_rows`), then its metrics chunk by chunk, before the next block.

    Args:
        query_feats: ``(Q, D)`` query features (numpy or torch).
        gallery_feats: ``(G, D)`` gallery features.
        query_pids: ``(Q,)`` query identities.
        gallery_pids: ``(G,)`` gallery identities.
        query_camids: ``(Q,)`` query cameras.
        gallery_camids: ``(G,)`` gallery cameras.
        distance: ``euclidean``, ``sqeuclidean`` or ``cosine``.
        chunk_size: Queries per chunk (default: about 2M distances per chunk).
        threads: As in :func:`rank_metrics`; the next chunk's distances are computed while
            earlier chunks are ranked.
        **options: The keyword options of :func:`rank_metrics` (``ap``, ``ties``, ...,
            ``options``, ``preset``).

    Returns:
        A :class:`RankMetrics`, equal to ``rank_metrics(compute_distance(q, g, distance), ...)``.

    Raises:
        InputError: On bad features or labels, or any error of :func:`rank_metrics`.
    """
    from reidbench.metrics.distance import DISTANCES, check_features, pairwise, prepare_gallery

    where = "rank_metrics_from_features"
    unknown = set(options) - {*_OPTION_KEYS, "options", "preset"}
    if unknown:
        raise InputError(describe(f"argument {sorted(unknown)[0]!r}", where,
                                  "an option of rank_metrics", "an unknown keyword", ""))
    V.check_choice(distance, "distance", DISTANCES, where)
    preset = options.pop("preset", None)
    opts = resolve_options(where, preset, options.pop("options", None), **options)
    chunk_size = V.check_positive_int(chunk_size, "chunk_size", where, allow_none=True)
    qf, gf = check_features(query_feats, gallery_feats, where)
    n_q, n_g = qf.shape[0], gf.shape[0]
    qp = V.check_labels(query_pids, "query_pids", n_q, where, "query_feats rows")
    gp = V.check_labels(gallery_pids, "gallery_pids", n_g, where, "gallery_feats rows")
    qc = V.check_labels(query_camids, "query_camids", n_q, where, "query_feats rows")
    gc = V.check_labels(gallery_camids, "gallery_camids", n_g, where, "gallery_feats rows")
    rows = chunk_size or max(1, _CHUNK_ELEMS // n_g)

    gallery_side = prepare_gallery(gf, distance)  # features were checked once, above
    block = distance_block_rows(n_q, n_g, rows)

    def chunks() -> Any:
        # distances for a block of several chunks at once (one pass over the gallery features
        # per block, not per chunk), handed to the core chunk by chunk. A last block of one row
        # joins the one before: BLAS computes a lone row as a matrix-vector product, which can
        # round differently from the same row inside compute_distance's whole-matrix product.
        starts = list(range(0, n_q, block))
        if len(starts) > 1 and n_q - starts[-1] == 1:
            starts.pop()
        for b, e in zip(starts, [*starts[1:], n_q], strict=True):
            dist = np.ascontiguousarray(V.as_array(pairwise(qf[b:e], gallery_side, distance)))
            for s in range(0, dist.shape[0], rows):
                yield b + s, dist[s:s + rows]

    return _evaluate(chunks(), qp, qc, GalleryIndex.build(gp, gc, opts.junk_pids), opts, preset,
                     (where, "distances"), _check_threads(threads, where))


def distance_block_rows(n_queries: int, n_gallery: int, chunk_rows: int) -> int:
    """Query rows whose distances :func:`rank_metrics_from_features` computes at once.

    A whole number of chunks, about ``_DISTANCE_BLOCK_ELEMS`` distances (128 MiB of float64):
    the matrix product re-reads the gallery features once per block, so tiny blocks (a chunk of
    20 queries against 100,000 items) spend most of their time there, while larger ones gain
    little more and cost memory.
    """
    per_block = max(1, _DISTANCE_BLOCK_ELEMS // max(n_gallery * chunk_rows, 1))
    return max(chunk_rows, min(n_queries, per_block * chunk_rows))


def _repeat_buffer(d: np.ndarray, rows: int) -> Any:
    """Yield one reusable ``(rows, G)`` buffer forever (None when ``d`` is C-ordered)."""
    buf = None if d.flags.c_contiguous else np.empty((min(rows, d.shape[0]), d.shape[1]), d.dtype)
    while True:
        yield buf


def _c_ordered(block: np.ndarray, scratch: np.ndarray | None) -> np.ndarray:
    """``block`` itself if C-ordered, else a copy made by column blocks (a fast transpose-copy).

    A column selection such as ``distmat[:, keep]`` is Fortran-ordered; numpy copies those
    row-major several times slower than block by block.
    """
    if block.flags.c_contiguous or scratch is None:
        return np.ascontiguousarray(block)
    out = scratch[:block.shape[0]]
    for j in range(0, block.shape[1], _COPY_BLOCK):
        out[:, j:j + _COPY_BLOCK] = block[:, j:j + _COPY_BLOCK]
    return out


def _rank_chunk(start: int, block: np.ndarray, qp: np.ndarray, qc: np.ndarray,
                gallery: GalleryIndex, ties: str, source: tuple[str, str]) -> tuple[int, int, Any]:
    """Rank one chunk; a NaN or inf in it raises ``InputError`` naming the cell."""
    stop = start + block.shape[0]
    ranks = positive_ranks(block, qp[start:stop], qc[start:stop], gallery, ties)
    if not ranks.finite:
        where, name = source
        V.check_finite(block, name, where, row_offset=start)
    return start, block.shape[0], ranks


def _ranked_chunks(chunks: Any, qp: np.ndarray, qc: np.ndarray, gallery: GalleryIndex,
                   ties: str, threads: int, source: tuple[str, str]) -> Any:
    """Yield ``(start, rows, PositiveRanks)`` per chunk, in order.

    With ``threads > 1`` the chunks are ranked by a thread pool (the compiled kernel and numpy's
    sorts, comparisons and gathers release the GIL), with at most ``2 * threads`` chunks in
    flight so memory stays bounded.
    """
    if threads <= 1:
        for start, block in chunks:
            yield _rank_chunk(start, block, qp, qc, gallery, ties, source)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        pending: deque = deque()
        for start, block in chunks:
            pending.append(pool.submit(_rank_chunk, start, block, qp, qc, gallery, ties, source))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _check_threads(threads: int | None, where: str) -> int:
    if threads is None:
        return default_threads()
    return V.check_positive_int(threads, "threads", where)


def default_threads() -> int:
    """Threads used by the metric core: ``REIDBENCH_THREADS`` or the CPUs available (max 8)."""
    import os

    env = os.environ.get("REIDBENCH_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _evaluate(chunks: Any, qp: np.ndarray, qc: np.ndarray, gallery: GalleryIndex,
              opts: MetricOptions, preset: str | None, source: tuple[str, str],
              threads: int = 1) -> RankMetrics:
    """Run the core over chunks of queries and assemble the result.

    ``source`` is ``(function name, argument name)`` for error messages.
    """
    where = source[0]
    max_rank = opts.max_rank
    n_q = qp.shape[0]
    names = AP_VARIANTS.names()
    aps = {name: np.full(n_q, np.nan) for name in names}
    inp = np.full(n_q, np.nan)
    first = np.zeros(n_q, dtype=np.int64)
    n_pos = np.zeros(n_q, dtype=np.int64)
    n_same = np.zeros(n_q, dtype=np.int64)
    allshots = np.zeros(max_rank + 1)
    # per query, positives with fewer than k negatives above (allshots only: Q x max_rank)
    hits = np.zeros((n_q, max_rank), np.int32) if opts.cmc == "allshots" else None
    tied = 0
    for start, block_rows, pr in _ranked_chunks(chunks, qp, qc, gallery, opts.ties, threads,
                                                source):
        stop = start + block_rows
        rows = block_rows
        counts = pr.n_pos
        has = counts > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            for name in names:
                sums = np.bincount(pr.row, AP_VARIANTS.get(name).term(pr), minlength=rows)
                aps[name][start:stop][has] = sums[has] / counts[has]
        ends = np.cumsum(counts)
        first[start:stop][has] = pr.rank[ends[has] - counts[has]]
        inp[start:stop][has] = counts[has] / pr.rank[ends[has] - 1]
        n_pos[start:stop] = counts
        n_same[start:stop] = pr.n_same_pid
        tied += int((pr.neg_through - pr.neg_before).sum())
        if hits is not None:
            above = pr.rank - pr.index
            keep = above < max_rank
            allshots += np.bincount(above[keep], 1.0 / counts[pr.row[keep]],
                                    minlength=max_rank + 1)[:max_rank + 1]
            cells = np.bincount(pr.row[keep] * max_rank + above[keep],
                                minlength=rows * max_rank).reshape(rows, max_rank)
            np.cumsum(cells, axis=1, out=hits[start:stop])
    result = _assemble(aps, inp, first, n_pos, n_same, allshots, tied, opts, where)
    return replace(result, allshots_hits=hits, query_pids=qp,
                   options={**opts.as_dict(), "preset": preset})


def _assemble(aps: dict[str, np.ndarray], inp: np.ndarray, first: np.ndarray, n_pos: np.ndarray,
              n_same: np.ndarray, allshots: np.ndarray, tied: int, opts: MetricOptions,
              where: str) -> RankMetrics:
    """Apply the no-positive policy and aggregate the per-query arrays."""
    policy = opts.no_positive
    max_rank = opts.max_rank
    valid = n_pos > 0
    if policy == "error" and not valid.all():
        q = int(np.flatnonzero(~valid)[0])
        raise InputError(describe(f"query {q}", where, "at least one positive (same pid, other "
                                  "camera, not junk) for every query", f"{int((~valid).sum())} "
                                  "queries without one", "use no_positive='skip' to skip them"))
    if policy in ("skip", "error"):
        counted = valid.copy()
    elif policy == "skip_raw":
        counted = valid | (n_same > 0)
    else:
        counted = np.ones_like(valid)
    empty = counted & ~valid
    fill = np.nan if policy == "nan" else 0.0
    for arr in (*aps.values(), inp):
        arr[empty] = fill
    n_counted = int(counted.sum())
    if opts.cmc == "allshots":
        curve = np.cumsum(allshots[:max_rank]) / n_counted if n_counted else \
            np.full(max_rank, np.nan)
    else:
        hits = np.bincount(np.minimum(first[counted & valid], max_rank + 1),
                           minlength=max_rank + 2)
        curve = np.cumsum(hits[1:max_rank + 1]) / n_counted if n_counted else \
            np.full(max_rank, np.nan)
    curve = np.minimum(curve, 1.0)
    headline = aps[opts.ap]
    return RankMetrics(
        map=_mean(headline, counted), cmc=curve, minp=_mean(inp, counted), ap=headline, inp=inp,
        first_rank=first, n_positives=n_pos, valid=valid, counted=counted,
        n_skipped=int(counted.size - n_counted),
        n_queries=int(counted.size), ap_by_variant=aps, tied_pairs=tied)
