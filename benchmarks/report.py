"""Print the README benchmark table from pytest-benchmark JSON files.

    python benchmarks/report.py [RESULTS.json ...]

Default: ``.benchmarks/latest.json`` (written by every ``make bench``). Several files are merged,
later ones winning (e.g. ``.benchmarks/latest.json`` of ``make bench`` plus ``.benchmarks/big.json``
of ``make bench-big``). Times are medians over the rounds; the pure-Python peers and the
scikit-learn loop ran on every 10th query and are scaled by 10 (``extra_info["scale"]``). Ratios
are against the issue's targets.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / ".benchmarks" / "latest.json"

LABELS = {
    "numpy_floor": "floor: one numpy pass `distmat.min(axis=1)`",
    "reidbench_numpy_plan": "reidbench without its compiled kernel (the numpy fallback, 1 thread)",
    "fastreid_cy": "fast-reid 1.4.0 Cython `evaluate_cy` (float32, 1 core)",
    "torchreid_cy": "torchreid Cython `evaluate_cy` (float32, 1 core)",
    "fastreid_py": "fast-reid 1.4.0 Python `eval_market1501` (x10 from 198 queries)",
    "torchreid_py": "torchreid 0.2.5 Python `eval_market1501` (x10 from 198 queries)",
    "sklearn_loop": "loop of sklearn `average_precision_score`, AP only (x10 from 198 queries)",
}
PEERS = ("fastreid_cy", "torchreid_cy", "fastreid_py", "torchreid_py", "sklearn_loop")
DTYPES = ("float64", "float32")


def load(paths: list[Path]) -> tuple[dict, dict]:
    """Merge benchmark entries (by fullname) and return them with the last file's machine info."""
    entries: dict[str, dict] = {}
    machine: dict = {}
    for path in paths:
        data = json.loads(path.read_text())
        machine = data.get("machine_info", machine)
        for b in data.get("benchmarks", []):
            entries[b["fullname"]] = b
    return entries, machine


def _group(b: dict) -> str | None:
    extra = b.get("extra_info", {})
    if "job" in extra:  # a bigchild.py run (files from before "group" was recorded too)
        return "big"
    return extra.get("group") or b.get("group")


def seconds(b: dict) -> float:
    """Median seconds, scaled to the full query set; the big ones report the child's own time."""
    extra = b.get("extra_info", {})
    if "seconds" in extra:
        return float(extra["seconds"])
    return float(b["stats"]["median"]) * float(extra.get("scale", 1.0))


def _min_seconds(b: dict) -> float:
    return float(b["stats"]["min"]) * float(b["extra_info"].get("scale", 1.0))


def _fmt(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _mem_gib() -> str:
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        return f"{kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        return "RAM unknown"


def machine_line(machine: dict) -> str:
    """One line naming the machine and the versions."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import peers

    cpu = machine.get("cpu", {}).get("brand_raw") or _cpu_model()
    v = peers.versions()
    vers = ", ".join(f"{k} {val}" for k, val in v.items())
    return f"Machine: {cpu}, {os.cpu_count()} cores, {_mem_gib()}. Versions: {vers}."


def _threads_label(threads: object) -> str:
    return "" if threads is None else f", {threads} thread{'s' if threads != 1 else ''}"


def mars_table(entries: dict, kind: str) -> tuple[list[str], dict]:
    """Markdown rows for one MARS-sized group, and the figures the targets need.

    Rows are keyed ``(impl, dtype, threads)``; ``threads`` is None for the peers and the floor.
    The ratio column is against reidbench with its default threads (the most threads measured).
    """
    rows = {}
    for b in entries.values():
        if _group(b) != f"mars-{kind}":
            continue
        e = b["extra_info"]
        rows[(e["impl"], e["dtype"], e.get("threads"))] = b
    if not rows:
        return [], {}
    ours = sorted((k for k in rows if k[0] == "reidbench"),
                  key=lambda k: (-(k[2] or 99), DTYPES.index(k[1])))
    ref: dict = {}
    for k in ours:  # the first per dtype has the most threads
        ref.setdefault(k[1], seconds(rows[k]))
    title = "model-like" if kind == "model" else "uniformly random"
    out = [f"| {title} distances, 1,980 x 11,310 | median | min | time / reidbench's "
           "(f64 / f32, default threads) | agreement with reidbench |", "|---|---|---|---|---|"]
    order = ours + [("reidbench_numpy_plan", dt, 1) for dt in DTYPES] + \
        [("numpy_floor", dt, None) for dt in DTYPES] + \
        [(p, dt, None) for p in PEERS for dt in DTYPES]
    for key in order:
        if key not in rows:
            continue
        b = rows[key]
        e = b["extra_info"]
        t = seconds(b)
        ratio = " / ".join(f"{t / ref[dt]:.2f}x" for dt in DTYPES if dt in ref)
        agree = ", ".join(f"{k.replace('_diff', '')} {e[k]:.1e}" for k in
                          ("map_diff", "cmc_diff", "ap_diff", "inp_diff") if k in e)
        if key[0] == "reidbench":
            label = f"**reidbench** `rank_metrics` ({key[1]} matrix{_threads_label(key[2])})"
            agree = f"mAP {e['map']:.4f}, mINP {e['minp']:.4f}, R1 {e['rank1']:.4f}"
        elif key[0] == "reidbench_numpy_plan":
            label = f"{LABELS[key[0]]}, {key[1]}"
            agree = f"mAP {e['map']:.4f}"
        elif key[0] == "numpy_floor":
            label = f"{LABELS['numpy_floor']}, {key[1]}"
            ratio = f"reidbench = {ref[key[1]] / t:.1f}x this" if key[1] in ref else ""
        else:
            label = LABELS.get(key[0], key[0])
        out.append(f"| {label} | {_fmt(t)} | {_fmt(_min_seconds(b))} | {ratio} | {agree} |")
    figures: dict = {"ours": [(k, seconds(rows[k]), _min_seconds(rows[k])) for k in ours]}
    peer = [(k[0], seconds(b), _min_seconds(b)) for k, b in rows.items() if k[0] in PEERS]
    if peer:
        figures["fastest_peer"] = min(peer, key=lambda x: x[1])
    figures["floor"] = {k[1]: (seconds(b), _min_seconds(b)) for k, b in rows.items()
                        if k[0] == "numpy_floor"}
    return out, figures


def big_table(entries: dict) -> tuple[list[str], dict]:
    """Markdown rows for the 10,000 x 100,000 problem, and its figures."""
    rows = {b["extra_info"]["impl"]: b["extra_info"] for b in entries.values()
            if _group(b) == "big"}
    if not rows:
        return [], {}
    names = {
        "reidbench_stream": "**reidbench** `rank_metrics_from_features`, streamed "
                            "(distances incl.)",
        "reidbench_distances_only": "its chunked distances alone (same code path, no metrics)",
        "reidbench_dense_float32": "**reidbench** `rank_metrics` on the 4 GB float32 matrix",
        "reidbench_dense_float32_1thread": "the same, `threads=1`",
        "fastreid_cy": "fast-reid 1.4.0 Cython `evaluate_cy` on the 4 GB float32 matrix",
    }
    out = ["| 10,000 x 100,000, 256-d features | time | peak RSS | notes |", "|---|---|---|---|"]
    for impl, label in names.items():
        if impl not in rows:
            out.append(f"| {label} | not run | | run `make bench-big` |")
            continue
        e = rows[impl]
        note = f"mAP {e['map']:.4f}" if "map" in e else ""
        if "threads" in e:
            note += f"; {e['threads']} thread{'s' if e['threads'] != 1 else ''}"
        if "build_seconds" in e:
            note += f"; matrix built beforehand in {e['build_seconds']:.0f} s (untimed)"
        if "map_diff" in e:
            note += f"; vs reidbench mAP {e['map_diff']:.1e}, CMC {e['cmc_diff']:.1e}"
        out.append(f"| {label} | {_fmt(e['seconds'])} | {e['peak_rss_gib']:.2f} GiB | {note} |")
    return out, rows


def targets(mars: dict, big: dict) -> list[str]:
    """Lines comparing the measured ratios with the issue's targets."""
    out = []

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    for kind, need in (("model", 10.0), ("random", 3.0)):
        f = mars.get(kind)
        if not f or "fastest_peer" not in f:
            continue
        name, t_peer, t_peer_min = f["fastest_peer"]
        for (_, dt, th), t, t_min in f["ours"]:
            r = t_peer / t
            line = (f"- {kind}, {dt} input{_threads_label(th)}: {r:.2f}x faster than the fastest "
                    f"peer ({name}, {_fmt(t_peer)}) by medians, {t_peer_min / t_min:.2f}x by "
                    f"minima; target >= {need:.0f}x: {verdict(r >= need)}")
            if dt in f["floor"]:
                fl, fl_min = f["floor"][dt]
                r = t / fl
                line += (f". {r:.1f}x one numpy pass ({_fmt(fl)}), {t_min / fl_min:.1f}x by "
                         f"minima; target <= 5x: {verdict(r <= 5.0)}")
            out.append(line)
    s = big.get("reidbench_stream")
    if s:
        out.append(f"- 10k x 100k streamed: peak RSS {s['peak_rss_gib']:.2f} GiB; target < 2 GiB: "
                   f"{verdict(s['peak_rss_gib'] < 2.0)}")
        dist = big.get("reidbench_distances_only")
        fr = big.get("fastreid_cy")
        dense = big.get("reidbench_dense_float32")
        dense1 = big.get("reidbench_dense_float32_1thread")
        if dist:
            metric = s["seconds"] - dist["seconds"]
            line = (f"- 10k x 100k metric part, estimated: streamed {_fmt(s['seconds'])} minus "
                    f"distances alone {_fmt(dist['seconds'])} = {_fmt(metric)} (a difference of "
                    "two separate runs: noisy)")
            if fr:
                r = fr["seconds"] / metric
                line += f"; fast-reid {_fmt(fr['seconds'])}: {r:.1f}x"
                if not dense:
                    line += f"; target >= 10x: {verdict(r >= 10.0)}"
            out.append(line)
        if dense and fr:  # the direct comparison: same distances, metric part only
            r = fr["seconds"] / dense["seconds"]
            out.append(f"- 10k x 100k on the same float32 matrix: reidbench "
                       f"{_fmt(dense['seconds'])} vs fast-reid {_fmt(fr['seconds'])}: {r:.1f}x; "
                       f"target >= 10x: {verdict(r >= 10.0)}")
        if dense1 and fr:
            r = fr["seconds"] / dense1["seconds"]
            out.append(f"- the same with 1 thread: reidbench {_fmt(dense1['seconds'])}: {r:.1f}x; "
                       f"target >= 10x: {verdict(r >= 10.0)}")
    return out


EXTRACTION_WAYS = {
    "reidbench": "**reidbench** `extract_features` (workers auto, uint8 batches)",
    "per_tracklet_loop": "per-tracklet loop (torchreid's video test loop)",
    "model_floor": "the model alone on batches in memory (compute floor)",
}


def extraction_table(entries: dict) -> list[str]:
    """Markdown rows for the extraction benchmarks: frames/s, ratios to the loop and the floor."""
    rows: dict[tuple[str, str], dict] = {}
    for b in entries.values():
        e = b.get("extra_info", {})
        if e.get("group") == "extraction":
            rows[(e["case"], e["way"])] = b
    if not rows:
        return []
    out = ["| extraction | frames | median | frames/s | vs per-tracklet loop | vs floor | "
           "CPU ms / frame | load |", "|---|---|---|---|---|---|---|---|"]
    for case in sorted({c for c, _ in rows}, key=lambda c: ("resnet" in c, c)):
        fps = {w: rows[(case, w)]["extra_info"]["frames_per_s"] for w in EXTRACTION_WAYS
               if (case, w) in rows}
        for way, label in EXTRACTION_WAYS.items():
            if (case, way) not in rows:
                continue
            b = rows[(case, way)]
            f = fps[way]
            loop = f"{f / fps['per_tracklet_loop']:.2f}x" if "per_tracklet_loop" in fps else ""
            floor = f"{100 * f / fps['model_floor']:.0f} %" if "model_floor" in fps else ""
            e = b["extra_info"]
            cpu = f"{e['cpu_ms_per_frame']:.2f}" if "cpu_ms_per_frame" in e else ""
            load = f"{e['load']:.1f}" if "load" in e else ""
            out.append(f"| {case}: {label} | {e['frames']:,} | "
                       f"{_fmt(float(b['stats']['median']))} | {f:,.0f} | {loop} | {floor} | "
                       f"{cpu} | {load} |")
    return out


def main(argv: list[str]) -> int:
    """Print the report for the JSON files in ``argv`` (default: the latest run)."""
    paths = [Path(a) for a in argv] or [DEFAULT]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"report.py: no results file {missing[0]}: run `make bench` first", file=sys.stderr)
        return 2
    entries, machine = load(paths)
    print(machine_line(machine))
    print()
    mars = {}
    for kind in ("model", "random"):
        rows, figures = mars_table(entries, kind)
        if rows:
            mars[kind] = figures
            print("\n".join(rows))
            print()
    rows, big = big_table(entries)
    if rows:
        print("\n".join(rows))
        print()
    rows = extraction_table(entries)
    if rows:
        print("\n".join(rows))
        print()
    print("Targets (issue 2):")
    print("\n".join(targets(mars, big)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
