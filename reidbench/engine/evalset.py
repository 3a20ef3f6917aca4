"""Build a protocol's query and gallery sets from a parsed dataset.

This is where the protocol's words become lists of items: which tracklets are queries, which form
the gallery (with or without the queries, junk pids dropped), and in I2V mode the query becomes the
first frame of each query tracklet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reidbench.errors import DataError, ProtocolError, describe
from reidbench.protocols import I2V_QUERY_SUFFIX, Protocol
from reidbench.types import Tracklet

if TYPE_CHECKING:
    from reidbench.datasets import VideoDataset

__all__ = ["EvalItem", "EvalSet", "build_evalset", "dataset_fingerprint", "limit_evalset",
           "I2V_QUERY_SUFFIX"]

@dataclass(frozen=True)
class EvalItem:
    """One item to embed: a tracklet (``kind="video"``) or a single frame (``kind="image"``)."""

    id: str
    pid: int
    camid: int
    frames: tuple[str, ...]
    kind: str = "video"


@dataclass(frozen=True)
class EvalSet:
    """The query and gallery items of one split of one protocol.

    ``dataset_fingerprint`` (:func:`dataset_fingerprint`, empty when not computed) keys the feature
    cache. ``split_ids`` is set on a quick-check subset (:func:`limit_evalset`): the ids of the
    whole split, which a features file must still hold.
    """

    protocol_id: str
    split: str
    query: tuple[EvalItem, ...]
    gallery: tuple[EvalItem, ...]
    dataset_fingerprint: str = ""
    split_ids: tuple[str, ...] | None = None

    def ids(self) -> list[str]:
        """Every item id a features file must hold: queries then gallery, each once.

        For a quick-check subset these are the whole split's ids (the file is the split's).
        """
        if self.split_ids is not None:
            return list(self.split_ids)
        seen: dict[str, None] = {}
        for item in self.query + self.gallery:
            seen.setdefault(item.id, None)
        return list(seen)

    def labels(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """``(pids, camids)`` int64 arrays of ``side`` (``"query"`` or ``"gallery"``)."""
        items = self.query if side == "query" else self.gallery
        return (np.array([i.pid for i in items], dtype=np.int64),
                np.array([i.camid for i in items], dtype=np.int64))


def _video(t: Tracklet) -> EvalItem:
    return EvalItem(t.id, t.pid, t.camid, tuple(t.frames), "video")


def _first_frame(t: Tracklet) -> EvalItem:
    if not t.frames:
        raise DataError(describe(f"tracklet {t.id}", "the dataset", "at least one frame", "none",
                                 "run `reidbench data verify` on the copy"))
    return EvalItem(t.id + I2V_QUERY_SUFFIX, t.pid, t.camid, (t.frames[0],), "image")


def build_evalset(dataset: VideoDataset, protocol: Protocol, split: str,
                  fingerprint: str = "") -> EvalSet:
    """Return the query and gallery items of ``split`` under ``protocol``.

    ``fingerprint`` is the dataset's :func:`dataset_fingerprint`, carried along for the cache.

    Raises:
        ProtocolError: If the protocol is for another dataset or names an unknown split.
    """
    ev = protocol.evaluation
    if dataset.name != ev.dataset:
        raise ProtocolError(describe("dataset", protocol.id, f"a {ev.dataset} copy",
                                     f"a {dataset.name} copy", "pass the right dataset root"),
                            param="data_root")
    if split not in ev.splits:
        raise ProtocolError(describe("split", protocol.id, f"one of {list(ev.splits)}",
                                     repr(split), ""))
    ds_split = dataset.split(split)
    by_id = {t.id: t for t in dataset.tracklets}
    queries = [by_id[i] for i in ds_split.query]
    gallery_ids = list(ds_split.gallery)
    if ev.gallery == "without_query":
        qset = set(ds_split.query)
        gallery_ids = [i for i in gallery_ids if i not in qset]
    elif ev.gallery == "with_query":
        present = set(gallery_ids)
        gallery_ids += [i for i in ds_split.query if i not in present]
    drop = set(ev.drop_pids)
    gallery = [by_id[i] for i in gallery_ids if by_id[i].pid not in drop]
    make_query = _first_frame if ev.mode == "i2v" else _video
    return EvalSet(protocol.id, split, tuple(make_query(t) for t in queries),
                   tuple(_video(t) for t in gallery), fingerprint)


def limit_evalset(evalset: EvalSet, limit: int) -> EvalSet:
    """A scaled-down copy of ``evalset`` for a quick check (``evaluate(limit=N)``).

    It keeps ``N`` queries spread evenly over the query list, every gallery item of their
    identities (so each kept query keeps all its positives and junk), and the same share
    ``N / Q`` of the other gallery items, spread evenly. The numbers are those of an easier,
    smaller problem: a check that the pipeline runs, never a result to compare or file.

    Args:
        evalset: The split's full query and gallery sets.
        limit: Queries to keep (>= 1; a limit of ``Q`` or more keeps everything).

    Returns:
        The subset, whose :meth:`EvalSet.ids` are still the whole split's.

    Raises:
        InputError: ``limit`` is not a whole number >= 1.
    """
    from dataclasses import replace

    from reidbench.errors import InputError

    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InputError(describe("limit", "evaluate", "a whole number of queries >= 1",
                                  repr(limit), "leave it out to evaluate every query"),
                         param="limit")
    n_q = len(evalset.query)
    if limit >= n_q:
        return evalset
    keep_q = [evalset.query[(i * n_q) // limit] for i in range(limit)]
    pids = {q.pid for q in keep_q}
    own = [g for g in evalset.gallery if g.pid in pids]
    others = [g for g in evalset.gallery if g.pid not in pids]
    n_other = max(1, round(len(others) * limit / n_q)) if others else 0
    picked = {others[(i * len(others)) // n_other].id for i in range(n_other)}
    keep_ids = {g.id for g in own} | picked
    gallery = tuple(g for g in evalset.gallery if g.id in keep_ids)
    return replace(evalset, query=tuple(keep_q), gallery=gallery, split_ids=tuple(evalset.ids()))


def dataset_fingerprint(dataset: VideoDataset) -> str:
    """sha256 (16 hex) over every tracklet's id, pid, camid, frame names and the split lists.

    Two copies with the same fingerprint index the same frames in the same roles (file contents are
    checked by ``reidbench data verify --manifest``, not here).
    """
    h = hashlib.sha256()
    for t in sorted(dataset.tracklets, key=lambda t: t.id):
        names = ",".join(f.replace("\\", "/").rsplit("/", 1)[-1] for f in t.frames)
        h.update(f"{t.id}|{t.pid}|{t.camid}|{t.subset}|{names}\n".encode())
    for s in dataset.splits:
        h.update(f"{s.name}|{','.join(s.train)}|{','.join(s.query)}|{','.join(s.gallery)}\n"
                 .encode())
    return h.hexdigest()[:16]
