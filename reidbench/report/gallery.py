"""Video retrieval galleries: per query, a strip of query frames and the top-k gallery tracklets.

Video-native: every panel is a tracklet drawn as a strip of a few of its frames (evenly spaced,
read from the dataset copy through :mod:`reidbench.datasets`), not a single image and not copied
frame folders. Each gallery panel has a coloured border and a label:

* green: same person as the query (a correct match), labelled with its junk-free rank ``#r``;
* red: another person, labelled ``#r`` likewise;
* grey: a *junk* item the protocol ignores when ranking (a junk pid such as MARS's -1, or the same
  person seen by the same camera when the protocol's ``same_camera`` rule is ``junk``, which
  includes the query itself in MARS's official gallery); labelled ``junk``. ``junk="skip"`` leaves
  them out and fills the strip with the next items of the stored top-k (``per_query.npz`` keeps
  20 per query).

Every panel shows the distance ``d``. Queries are taken in evaluation order, or worst AP first
(``worst_first=True``); queries the protocol did not count (no valid positive) are left out.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from reidbench.errors import DataError, InputError, describe
from reidbench.fileio import atomic_write
from reidbench.leaderboard.entries import result_label
from reidbench.protocols import split_item_id
from reidbench.records import EvalResult, read_result
from reidbench.report._mpl import GREEN, GREY, RED, new_figure, save_figure
from reidbench.report.pages import page, site_root_of, write_stylesheet

__all__ = ["GalleryItem", "QueryStrip", "query_strips", "strip_figure", "write_gallery",
           "ap_percent", "STATUS_COLOURS"]

STATUS_COLOURS = {"correct": GREEN, "wrong": RED, "junk": GREY}


@dataclass(frozen=True)
class GalleryItem:
    """One retrieved gallery tracklet.

    Attributes:
        position: 1-based position in the raw ranking (junk included).
        rank: Junk-free rank (None for junk).
        id: Tracklet id.
        pid: Person id.
        camid: Camera id.
        distance: Distance to the query.
        status: ``correct``, ``wrong`` or ``junk``.
    """

    position: int
    rank: int | None
    id: str
    pid: int
    camid: int
    distance: float
    status: str


@dataclass(frozen=True)
class QueryStrip:
    """A query and its retrieved items.

    Attributes:
        index: Query index in the split.
        id: Query tracklet id.
        pid: Person id.
        camid: Camera id.
        ap: The query's AP (headline variant, fraction).
        items: Retrieved items, best first.
    """

    index: int
    id: str
    pid: int
    camid: int
    ap: float
    items: tuple[GalleryItem, ...]


def query_strips(result: EvalResult, *, queries: int = 5, topk: int = 10,
                 worst_first: bool = False, junk: str = "show", split: str | None = None
                 ) -> list[QueryStrip]:
    """Choose the queries and classify their top-k items (no images read).

    Args:
        result: A result with ``per_query.npz`` arrays.
        queries: Number of queries.
        topk: Gallery items per query.
        worst_first: Order queries by ascending AP instead of evaluation order.
        junk: ``show`` (grey borders) or ``skip``.
        split: Split to draw (default: the first).

    Raises:
        InputError: Bad ``junk`` or counts, or a result without the per-query arrays.
    """
    if junk not in ("show", "skip"):
        raise InputError(describe("junk", "write_gallery", "show or skip", repr(junk), ""),
                         param="junk")
    if queries < 1 or topk < 1:
        bad = "queries" if queries < 1 else "topk"
        raise InputError(describe(bad, "write_gallery", "positive integers (queries, topk)",
                                  f"{queries}/{topk}", ""), param=bad)
    arr = result.split_arrays(split)
    needed = ("topk_index", "topk_distance", "query_ids", "gallery_ids", "query_pids",
              "query_camids", "gallery_pids", "gallery_camids", "ap", "counted")
    missing = [k for k in needed if k not in arr]
    if missing:
        raise InputError(describe("per_query.npz", split or "first split", f"arrays {needed}",
                                  f"missing {missing}", "re-run `reidbench evaluate`"))
    ev = result.record.protocol.evaluation
    junk_pids = set(int(p) for p in ev.get("junk_pids", []))
    same_cam_junk = ev.get("same_camera", "junk") == "junk"
    ap = np.asarray(arr["ap"], dtype=float)
    counted = np.flatnonzero(np.asarray(arr["counted"], dtype=bool) & np.isfinite(ap))
    if worst_first:
        counted = counted[np.argsort(ap[counted], kind="stable")]
    strips = []
    for q in counted[:queries]:
        qpid, qcam = int(arr["query_pids"][q]), int(arr["query_camids"][q])
        items: list[GalleryItem] = []
        rank = 0
        for pos, (g, d) in enumerate(zip(arr["topk_index"][q], arr["topk_distance"][q],
                                         strict=True), start=1):
            gpid, gcam = int(arr["gallery_pids"][g]), int(arr["gallery_camids"][g])
            is_junk = gpid in junk_pids or (same_cam_junk and gpid == qpid and gcam == qcam)
            if is_junk and junk == "skip":
                continue
            if not is_junk:
                rank += 1
            status = "junk" if is_junk else ("correct" if gpid == qpid else "wrong")
            items.append(GalleryItem(pos, None if is_junk else rank, str(arr["gallery_ids"][g]),
                                     gpid, gcam, float(d), status))
            if len(items) == topk:
                break
        strips.append(QueryStrip(int(q), str(arr["query_ids"][q]), qpid, qcam, float(ap[q]),
                                 tuple(items)))
    return strips


def ap_percent(ap: float) -> str:
    """Format a per-query AP (a fraction) as a percent label for a strip title.

    ``0.5`` -> ``"50.0%"``; below 1% two decimals (``0.0098`` -> ``"0.98%"``, not a misleading
    ``"1.0"``); below 0.01% scientific notation.
    """
    pct = 100.0 * ap
    if pct == 0 or pct >= 1:
        return f"{pct:.1f}%"
    return f"{pct:.2f}%" if pct >= 0.01 else f"{pct:.1e}%"


def _frames(dataset: Any, item_id: str, n: int, size: tuple[int, int]) -> np.ndarray:
    """A strip of ``n`` evenly spaced frames of an item (an I2V query image: its one frame)."""
    from reidbench.datasets.decode import load_frame

    tid, first_only = split_item_id(item_id)
    try:
        t = dataset.tracklet(tid)
    except (KeyError, DataError):
        raise DataError(describe(f"tracklet {tid!r}", str(dataset.root), "a tracklet of the "
                                 "dataset copy the result was computed on", "no such id",
                                 "pass the same --data root as the evaluation")) from None
    if first_only:
        return load_frame(t.frames[0], size)
    idx = np.unique(np.linspace(0, len(t.frames) - 1, min(n, len(t.frames))).round().astype(int))
    imgs = [load_frame(t.frames[i], size) for i in idx]
    return np.concatenate(imgs, axis=1)


def strip_figure(strip: QueryStrip, dataset: Any, *, frames: int = 4,
                 size: tuple[int, int] = (64, 32)) -> Figure:
    """One query's figure: the query frame strip, then one frame strip per retrieved tracklet.

    Axes carry ``gid`` ``query`` / ``correct`` / ``wrong`` / ``junk``; borders use
    :data:`STATUS_COLOURS` (the query's is black).
    """
    tid, image = split_item_id(strip.id)
    head = "query image (first frame)" if image else "query"
    panels = [("query", f"{head}\n{tid}\npid {strip.pid}, AP {ap_percent(strip.ap)}",
               strip.id)]
    for it in strip.items:
        head = "junk" if it.rank is None else f"#{it.rank}"
        panels.append((it.status, f"{head} d={it.distance:.3f}\n{it.id}", it.id))
    imgs = [_frames(dataset, item_id, frames, size) for _, _, item_id in panels]
    # every frame at the same scale: each panel as wide as its strip, in a slot wide enough for
    # its label (axes placed by hand; a layout engine would rescale narrow panels)
    scale, gap, title_px, margin = 1.5, 12, 44, 6
    slots = [max(img.shape[1], 3 * size[1]) * scale + gap for img in imgs]
    h_px = max(img.shape[0] for img in imgs) * scale
    fig_w, fig_h = sum(slots) + 2 * margin, h_px + title_px + 2 * margin
    fig = new_figure(fig_w / 100, fig_h / 100)
    fig.set_layout_engine("none")
    axes, x = [], margin
    for slot, img in zip(slots, imgs, strict=True):
        w, h = img.shape[1] * scale, img.shape[0] * scale
        left = x + (slot - w) / 2
        axes.append(fig.add_axes((left / fig_w, (margin + h_px - h) / fig_h, w / fig_w,
                                  h / fig_h)))
        x += slot
    for ax, (status, label, _), img in zip(axes, panels, imgs, strict=True):
        ax.imshow(img, aspect="auto")
        ax.set_gid(status)
        ax.set_xticks([])
        ax.set_yticks([])
        colour = "black" if status == "query" else STATUS_COLOURS[status]
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(4)
        ax.set_title(label, fontsize=7, color=colour if status != "junk" else "#555555")
    return fig


def write_gallery(result_dir: str | Path, data_root: str | Path, out_dir: str | Path, *,
                  queries: int = 5, topk: int = 10, worst_first: bool = False,
                  junk: str = "show", frames: int = 4, split: str | None = None) -> list[Path]:
    """Render a result's retrieval gallery: one PNG per query, ``gallery.csv`` and ``index.html``.

    Args:
        result_dir: Result directory (``results.json`` + ``per_query.npz``).
        data_root: The dataset copy the result was computed on (its layout is read from the
            result record).
        out_dir: Output folder.
        queries: Number of queries drawn.
        topk: Gallery tracklets per query.
        worst_first: Worst AP first.
        junk: ``show`` (grey) or ``skip``.
        frames: Frames per tracklet strip.
        split: Split to draw (default: the first).

    Returns:
        The files written (PNGs, then the CSV and the HTML index).
    """
    from reidbench.datasets import load

    result = read_result(result_dir)
    dataset = load(result.record.dataset.name, data_root)
    strips = query_strips(result, queries=queries, topk=topk, worst_first=worst_first,
                          junk=junk, split=split)
    out = Path(out_dir)
    paths: list[Path] = []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["image", "query_id", "query_pid", "ap", "position", "rank", "gallery_id",
                "gallery_pid", "distance", "status"])
    for k, s in enumerate(strips):
        fig = strip_figure(s, dataset, frames=frames)
        name = f"q{k:03d}_{''.join(ch if ch.isalnum() else '_' for ch in s.id)}.png"
        paths.append(save_figure(fig, out / name, dpi=100))  # laid out in pixels at 100 dpi
        for it in s.items:
            w.writerow([name, s.id, s.pid, f"{s.ap:.6f}", it.position,
                        "" if it.rank is None else it.rank, it.id, it.pid, f"{it.distance:.6f}",
                        it.status])
    text = buf.getvalue()
    atomic_write(out / "gallery.csv", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    paths.append(out / "gallery.csv")
    site, root = site_root_of(out, 2)
    write_stylesheet(site)
    atomic_write(out / "index.html", lambda tmp: tmp.write_text(
        _gallery_page(result, split, worst_first, paths[:-1], root), encoding="utf-8"))
    paths.append(out / "index.html")
    return paths


def _gallery_page(result: EvalResult, split: str | None, worst_first: bool, pngs: list[Path],
                  root: str) -> str:
    """The gallery's page: which model, protocol, split and dataset copy, then the strips."""
    e = html.escape
    rec = result.record
    split_name = split or rec.splits[0].split
    name = result_label(rec)
    ds = rec.dataset
    facts = [("Model", name), ("Protocol", rec.protocol.id), ("Split", split_name),
             ("Dataset", f"{ds.name} at {ds.root}" + (" (synthetic copy)" if ds.synthetic
                                                     else "")),
             ("Source", rec.source.kind)]
    meta = "".join(f"<li><b>{e(k)}:</b> {e(str(v))}</li>" for k, v in facts)
    body = "".join(f'<figure><a href="{e(p.name)}"><img src="{e(p.name)}" alt="{e(p.stem)}">'
                   f"</a><figcaption>{e(p.stem)} (click for full size)</figcaption></figure>\n"
                   for p in pngs)
    return page(f"Retrieval gallery: {name} on {rec.protocol.id}, {split_name}",
                f'<ul class="meta">{meta}</ul>\n<p>Green: same person; red: another person; '
                f"grey: junk (ignored by the protocol). Order: "
                f"{'worst AP first' if worst_first else 'evaluation order'}.</p>\n{body}"
                f'<p><a href="gallery.csv">gallery.csv</a></p>\n', root=root, index=not root)
