"""A slow, obviously-correct reference for the rank metrics, written straight from the definitions.

Used only by the tests. One query at a time, explicit loops over sorted Python lists:

1. drop junk (same pid and same camera; any pid in ``junk_pids``);
2. sort what is left by (distance, tie key, gallery index): tie key 0 for every item (``stable``),
   0 for positives and 1 for negatives (``optimistic``) or the reverse (``pessimistic``);
3. walk the list, computing precision at each rank.

The sklearn variants walk the distinct distance values (thresholds) instead of the list.
"""

from __future__ import annotations

import math

import numpy as np

VARIANTS = ("noninterp", "trapezoid", "sklearn_step", "sklearn_legacy")


def query_metrics(dist, query_pid, query_cam, gallery_pids, gallery_cams, *, ties="stable",
                  junk_pids=(-1,), max_rank=50):
    """Per-query metrics from the definitions.

    Returns:
        dict with ``n_pos``, ``n_same_pid`` (before junk removal), ``ap`` (dict per variant, None
        without positives), ``first_rank`` (0 if none), ``inp`` (None if none), ``cmc``
        (first-match, list of max_rank 0/1), ``allshots`` (list of max_rank fractions).
    """
    items = []  # (distance, tie_key, gallery_index, is_positive)
    n_same = 0
    for j in range(len(gallery_pids)):
        pid, cam = int(gallery_pids[j]), int(gallery_cams[j])
        if pid == query_pid:
            n_same += 1
        if pid in junk_pids:
            continue
        if pid == query_pid and cam == query_cam:
            continue
        positive = pid == query_pid
        if ties == "stable":
            key = 0
        elif ties == "optimistic":
            key = 0 if positive else 1
        else:
            key = 1 if positive else 0
        items.append((float(dist[j]), key, j, positive))
    items.sort()
    n_pos = sum(1 for it in items if it[3])
    out = {"n_pos": n_pos, "n_same_pid": n_same}
    if n_pos == 0:
        out.update(ap=dict.fromkeys(VARIANTS), first_rank=0, inp=None, cmc=[0] * max_rank,
                   allshots=[0.0] * max_rank)
        return out

    # walk the ranked list
    hits = 0
    noninterp = 0.0
    trapezoid = 0.0
    prev_precision = 1.0
    ranks = []
    negatives_above = []
    for k, (_, _, _, positive) in enumerate(items, start=1):
        if positive:
            hits += 1
            ranks.append(k)
            negatives_above.append(k - hits)
            precision = hits / k
            noninterp += precision
            trapezoid += (precision + prev_precision) / 2
        prev_precision = hits / k
    noninterp /= n_pos
    trapezoid /= n_pos

    # walk the thresholds (distinct distances), ignoring the order inside a threshold
    distinct = sorted({it[0] for it in items})
    tp = fp = 0
    step = legacy = 0.0
    recall_prev, precision_prev = 0.0, 1.0
    for value in distinct:
        for it in items:
            if it[0] == value:
                if it[3]:
                    tp += 1
                else:
                    fp += 1
        recall, precision = tp / n_pos, tp / (tp + fp)
        step += (recall - recall_prev) * precision
        legacy += (recall - recall_prev) * (precision + precision_prev) / 2
        recall_prev, precision_prev = recall, precision
        if tp == n_pos:
            break

    out["ap"] = {"noninterp": noninterp, "trapezoid": trapezoid, "sklearn_step": step,
                 "sklearn_legacy": legacy}
    out["first_rank"] = ranks[0]
    out["inp"] = n_pos / ranks[-1]
    out["cmc"] = [1 if ranks[0] <= k else 0 for k in range(1, max_rank + 1)]
    out["allshots"] = [sum(1 for a in negatives_above if a < k) / n_pos
                       for k in range(1, max_rank + 1)]
    return out


def reference_metrics(distmat, query_pids, gallery_pids, query_cams, gallery_cams, *,
                      ap="noninterp", ties="stable", no_positive="skip", junk_pids=(-1,),
                      cmc="first_match", max_rank=50):
    """Whole-problem metrics from :func:`query_metrics`, with the no-positive policies.

    Returns:
        dict with ``map``, ``cmc`` (list), ``minp``, ``ap`` (list per query, NaN if not counted),
        ``ap_by_variant``, ``inp``, ``first_rank``, ``counted``, ``n_skipped``, ``query_cmc``
        (``(Q, max_rank)`` curve of each query under ``cmc``, NaN rows where not counted).
    """
    per = [query_metrics(distmat[q], int(query_pids[q]), int(query_cams[q]), gallery_pids,
                         gallery_cams, ties=ties, junk_pids=tuple(junk_pids), max_rank=max_rank)
           for q in range(len(query_pids))]
    counted, ap_rows, inp, curves, query_cmc = [], {v: [] for v in VARIANTS}, [], [], []
    for m in per:
        has = m["n_pos"] > 0
        if no_positive in ("skip", "error"):
            c = has
        elif no_positive == "skip_raw":
            c = has or m["n_same_pid"] > 0
        else:
            c = True
        counted.append(c)
        empty = math.nan if no_positive == "nan" else 0.0
        for v in VARIANTS:
            ap_rows[v].append(math.nan if not c else (m["ap"][v] if has else empty))
        inp.append(math.nan if not c else (m["inp"] if has else empty))
        own = m["allshots"] if cmc == "allshots" else m["cmc"]
        query_cmc.append(own if c else [math.nan] * max_rank)
        if c:
            curves.append(own)
    n = sum(counted)

    def mean(values):
        vals = [x for x, c in zip(values, counted, strict=True) if c]
        return sum(vals) / len(vals) if vals else math.nan

    curve = [sum(col) / n for col in zip(*curves, strict=True)] if n else [math.nan] * max_rank
    return {
        "map": mean(ap_rows[ap]),
        "map_by_variant": {v: mean(ap_rows[v]) for v in VARIANTS},
        "ap": np.array(ap_rows[ap]),
        "ap_by_variant": {v: np.array(ap_rows[v]) for v in VARIANTS},
        "minp": mean(inp),
        "inp": np.array(inp),
        "first_rank": np.array([m["first_rank"] for m in per]),
        "n_positives": np.array([m["n_pos"] for m in per]),
        "counted": np.array(counted),
        "n_skipped": len(counted) - n,
        "cmc": np.array(curve, dtype=float),
        "query_cmc": np.array(query_cmc, dtype=float).reshape(len(per), max_rank),
    }
