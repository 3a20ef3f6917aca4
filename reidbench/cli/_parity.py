"""The metric parity report as the CLI prints it (shared by ``metrics parity`` and ``demo``).

It reads a user's distance-matrix ``.npz`` or builds a synthetic MARS-sized problem, runs
:func:`reidbench.metrics.parity.run_parity` and renders the table.
"""

from __future__ import annotations

import typer

__all__ = ["check_parity_options", "format_parity_table", "load_parity_npz",
           "run_parity_command"]

_NPZ_KEYS = ("distmat", "query_pids", "gallery_pids", "query_camids", "gallery_camids")


#: Largest distance matrix ``--distmat`` accepts (MARS's 1,980 x 11,310 float64 is 179 MB).
MAX_DISTMAT_BYTES = 1 << 30


def load_parity_npz(path: str) -> dict:
    """Read and check the ``.npz`` of ``reidbench metrics parity --distmat``.

    It holds ``distmat``, ``query_pids``, ``gallery_pids``, ``query_camids``, ``gallery_camids``
    and optionally ``query_gallery_index``.

    Raises:
        DataError: If the file is missing, unreadable, pickled, or a key is missing or mis-shaped.
    """
    import os

    import numpy as np

    from reidbench.errors import DataError, describe
    from reidbench.fileio import NpzError, read_npz_bounded

    if not os.path.isfile(path):
        raise DataError(describe("--distmat", "metrics parity", "an existing .npz file",
                                 f"no file at {path}", "check the path"))
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        raise DataError(describe(path, "metrics parity --distmat", "an .npz archive (np.savez)",
                                 "a file that is not a zip archive", "write it with numpy.savez"))
    shapes: dict[str, tuple[int, ...]] = {}

    def agree(name: str, shape: tuple[int, ...], dtype: object) -> None:
        # each header against those already read, before its data is: a distmat declaring far
        # more columns than the gallery has pids is refused without inflating it
        shapes[name] = shape
        d = shapes.get("distmat")
        if d is None or len(d) != 2:
            return
        for key, axis in (("query_pids", 0), ("query_camids", 0), ("gallery_pids", 1),
                          ("gallery_camids", 1)):
            if key in shapes and shapes[key] != (d[axis],):
                raise NpzError(f"member {key!r} of shape {shapes[key]}, where a distmat of "
                               f"shape {d} needs shape ({d[axis]},)")

    try:  # sizes bounded before any data is read: a lying header or a zip bomb is refused first
        arrays = read_npz_bounded(path, max_array_bytes=MAX_DISTMAT_BYTES,
                                  max_total_bytes=MAX_DISTMAT_BYTES + (64 << 20), max_members=16,
                                  check=agree)
    except NpzError as exc:
        raise DataError(describe(path, "metrics parity --distmat", "an .npz archive of plain "
                                 "numeric arrays (np.savez) within bounds", str(exc),
                                 "save numeric arrays only (never pickles)")) from None
    missing = [k for k in _NPZ_KEYS if k not in arrays]
    if missing:
        raise DataError(describe(path, "metrics parity --distmat", f"keys {list(_NPZ_KEYS)}",
                                 f"keys {sorted(arrays)} (missing {missing})",
                                 "save every array under its name with numpy.savez"))
    d = arrays["distmat"]
    if d.ndim != 2 or not np.issubdtype(d.dtype, np.number):
        raise DataError(describe(f"{path}:distmat", "metrics parity", "a numeric (Q, G) array",
                                 f"dtype {d.dtype}, shape {d.shape}", ""))
    q, g = d.shape
    want = {"query_pids": q, "query_camids": q, "gallery_pids": g, "gallery_camids": g}
    if "query_gallery_index" in arrays:
        want["query_gallery_index"] = q
    for key, n in want.items():
        a = arrays[key]
        if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
            raise DataError(describe(f"{path}:{key}", "metrics parity",
                                     f"an integer array of shape ({n},) to match distmat {d.shape}",
                                     f"dtype {a.dtype}, shape {a.shape}", ""))
    if "query_gallery_index" in arrays:
        qgi = arrays["query_gallery_index"]
        if ((qgi >= g) | (qgi < -1)).any():
            raise DataError(describe(f"{path}:query_gallery_index", "metrics parity",
                                     f"gallery positions 0..{g - 1} (or -1: not in the gallery)",
                                     f"{int(qgi[(qgi >= g) | (qgi < -1)][0])}", ""))
    return {k: arrays[k] for k in (*_NPZ_KEYS, "query_gallery_index") if k in arrays}


def _pct(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{100 * x:.{digits}f}"


def format_parity_table(report: object) -> str:
    """Render a :class:`reidbench.metrics.parity.ParityReport` as a plain-text table.

    Values are percentages; ``±`` is the half-width of the bootstrap interval (the larger side).
    """
    from reidbench.metrics.options import SUMMARY_METRICS as SUMMARY_NAMES
    from reidbench.metrics.options import short_label

    rows = report.rows  # type: ignore[attr-defined]
    p = report.problem  # type: ignore[attr-defined]
    head = {name: short_label(name) for name in SUMMARY_NAMES}
    with_ci = {"mAP", "rank1", "mINP"}
    label_w = max([len(r.label) for r in rows] + [28]) + 2
    cols = [f"{'setting':<{label_w}}"]
    for name in SUMMARY_NAMES:
        cols.append(f"{head[name]:>9}      " if name in with_ci else f"{head[name]:>8}")
        if name == "mAP":
            cols.append(f"{'ΔmAP':>8}")
    cols += [f"{'counted':>8}", f"{'time':>8}"]
    lines = [
        f"Parity report: {p.get('source', 'distance matrix')}, {p.get('n_query', '?')} queries x "
        f"{p.get('n_gallery', '?')} gallery" + (f", seed {p['seed']}" if "seed" in p else ""),
        f"Values in %; ± = half-width of the {100 * report.level:.0f}% bootstrap CI over queries "  # type: ignore[attr-defined]
        f"({report.n_boot} resamples); ΔmAP vs the first row.",  # type: ignore[attr-defined]
        "",
        "".join(cols),
    ]
    ref = rows[0].metrics["mAP"].estimate if rows else float("nan")
    titles = {"variant": "AP variant / tie policy", "preset": "Presets (codebases)",
              "gallery": "Gallery protocol"}
    group = None
    for r in rows:
        if r.group != group:
            group = r.group
            lines.append(titles.get(group, group))
        cells = [f"  {r.label:<{label_w - 2}}"]
        for name in SUMMARY_NAMES:
            iv = r.metrics[name]
            if name in with_ci:
                hw = max(iv.estimate - iv.low, iv.high - iv.estimate)
                cells.append(f"{_pct(iv.estimate):>9} ±{_pct(hw):<4}" if iv.estimate == iv.estimate
                             else f"{'n/a':>9}      ")
            else:
                cells.append(f"{_pct(iv.estimate):>8}")
            if name == "mAP":
                delta = iv.estimate - ref
                cells.append(f"{'' if delta != delta else f'{100 * delta:+.2f}':>8}")
        cells += [f"{r.n_counted:>8}", f"{1000 * r.seconds:>6.0f}ms"]
        lines.append("".join(cells))
    lines.append("")
    for note in getattr(report, "notes", ()):
        lines.append(f"* {note}")
    lines.append("Row times are warm (the compiled kernel was loaded before the first row) and "
                 "exclude the bootstrap.")
    lines.append(f"Total time {report.seconds:.2f} s (bootstrap included).")  # type: ignore[attr-defined]
    return "\n".join(lines)


def _json_safe(obj: object) -> object:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _json_safe(obj.item())
    return obj


_KINDS = ("model", "random")


def check_parity_options(distmat: str | None, queries: int, gallery: int, seed: int,
                         ties: int | None, kind: str, n_boot: int) -> None:
    """Check the options of ``metrics parity`` before any work, naming the flag that is wrong.

    The synthetic-problem flags are checked only without ``--distmat`` (they are unused with it).

    Raises:
        InputError: On the first bad option.
    """
    from reidbench.errors import InputError, describe
    from reidbench.metrics.synthetic import gallery_split, min_gallery

    def need(ok: bool, flag: str, expected: str, got: object, fix: str = "") -> None:
        if not ok:
            raise InputError(describe(flag, "metrics parity", expected, got, fix))

    need(n_boot >= 1, "--boot", "an integer >= 1 (bootstrap resamples)", n_boot,
         "use e.g. --boot 1000")
    need(seed >= 0, "--seed", "an integer >= 0", seed)
    if distmat is not None:
        return
    need(queries >= 2, "--queries", "an integer >= 2", queries)
    need(kind in _KINDS, "--kind", "'model' or 'random'", repr(kind))
    need(ties is None or ties >= 2, "--ties", "an integer >= 2 (distance levels)", ties,
         "leave --ties out for continuous distances")
    least = min_gallery(queries)
    need(gallery >= 1 and gallery_split(gallery)[2] >= queries, "--gallery",
         f"room for the {queries} query tracklets besides 7 % junk and 5 % distractors", gallery,
         f"use --gallery {least} or more, or fewer --queries")


def run_parity_command(
    distmat: str | None = None,
    queries: int = 1980,
    gallery: int = 11310,
    seed: int = 0,
    ties: int | None = None,
    kind: str = "model",
    n_boot: int = 1000,
    as_json: bool = False,
) -> None:
    """Build or load the problem, run the parity report and print it (shared by ``demo``)."""
    import json
    import time

    from reidbench.metrics.parity import run_parity

    check_parity_options(distmat, queries, gallery, seed, ties, kind, n_boot)
    t0 = time.perf_counter()
    if distmat is not None:
        arrays = load_parity_npz(distmat)
        qgi = arrays.pop("query_gallery_index", None)
        problem = {"source": f"file {distmat}", "n_query": int(arrays["distmat"].shape[0]),
                   "n_gallery": int(arrays["distmat"].shape[1])}
    else:
        from reidbench.metrics.synthetic import make_problem

        prob = make_problem(n_query=queries, n_gallery=gallery, seed=seed, ties=ties,
                            kind=kind)  # type: ignore[arg-type]
        arrays = dict(zip(_NPZ_KEYS, prob.metric_args(), strict=True))
        qgi = prob.query_gallery_index
        problem = {"source": f"synthetic MARS-like problem ({kind}"
                   + (f", {ties} distance levels" if ties else "") + ")",
                   "n_query": queries, "n_gallery": gallery, "seed": seed, "kind": kind,
                   "ties": ties}
    problem["build_seconds"] = time.perf_counter() - t0
    report = run_parity(*(arrays[k] for k in _NPZ_KEYS), query_gallery_index=qgi, n_boot=n_boot,
                        seed=seed, problem=problem)
    if as_json:
        typer.echo(json.dumps(_json_safe(report.as_dict()), indent=2))
    else:
        typer.echo(format_parity_table(report))
