"""A tiny hand-made result directory and dataset for the report tests (no engine needed).

Query q0 (pid 1, cam 1) retrieves, in this order, g0 (itself: pid 1 cam 1, junk under MARS's
same-camera rule), g2 (pid 2: wrong), g1 (pid 1 cam 2: correct), g3 (pid -1: junk), g4 (pid 2:
wrong), g5 (pid 3: wrong). Query q1 (pid 2, cam 2) retrieves g4 (correct) first. q2 (pid 3, cam
1) is not counted (as if it had no valid positive).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from reidbench.protocols import get_protocol
from reidbench.types import DatasetSplit, Tracklet

GALLERY = [("g0", 1, 1), ("g1", 1, 2), ("g2", 2, 2), ("g3", -1, 2), ("g4", 2, 1), ("g5", 3, 2)]
QUERIES = [("q0", 1, 1), ("q1", 2, 2), ("q2", 3, 1)]
TOPK = np.array([[0, 2, 1, 3, 4, 5], [4, 2, 1, 0, 3, 5], [5, 0, 1, 2, 3, 4]])
DIST = np.array([[0.0, 0.2, 0.3, 0.4, 0.5, 0.6], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                 [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
AP = np.array([0.5, 1.0, np.nan])
FIRST_RANK = np.array([2, 1, 0])  # q0 finds g1 after the junk g0 and the wrong g2
INP = np.array([0.5, 1.0, np.nan])  # one positive each, at ranks 2 and 1
EXPECTED_Q0 = ["junk", "wrong", "correct", "junk", "wrong", "wrong"]
CMC = [0.5, 1.0, 1.0, 1.0, 1.0]


def write_frames(root: Path) -> dict[str, tuple[str, ...]]:
    """Three 8 x 4 PNG frames per tracklet, coloured by tracklet."""
    frames: dict[str, tuple[str, ...]] = {}
    for k, (tid, _, _) in enumerate(QUERIES + GALLERY):
        d = root / "frames" / tid
        d.mkdir(parents=True, exist_ok=True)
        paths = []
        for f in range(3):
            p = d / f"{tid}_{f}.png"
            Image.fromarray(np.full((8, 4, 3), 20 * k + 10 * f, dtype=np.uint8)).save(p)
            paths.append(str(p))
        frames[tid] = tuple(paths)
    return frames


def make_dataset(root: Path):
    """A VideoDataset over the frames written by :func:`write_frames`."""
    from reidbench.datasets import VideoDataset

    frames = write_frames(root)
    tracklets = tuple(Tracklet(tid, pid, cam, frames[tid], "query" if tid.startswith("q")
                               else "gallery") for tid, pid, cam in QUERIES + GALLERY)
    split = DatasetSplit("official", (), tuple(t for t, _, _ in QUERIES),
                         tuple(t for t, _, _ in GALLERY))
    return VideoDataset("mars", str(root), tracklets, (split,))


ENVIRONMENT = {"reidbench": "0.1.0", "git_commit": None, "python": "3.11.7", "numpy": "2.0.0",
               "platform": "Linux", "processor": "x86_64", "device": "cpu", "torch": None}


def record_dict(*, protocol: str = "mars/v2v@1", sha: str = "ab" * 32,
                n_parameters: int | None = 2_500_000, seconds: float = 0.9,
                map_value: float = 0.75, cmc: list[float] | None = None) -> dict:
    """A results.json as docs/results-schema.md describes it (fields with defaults left out).

    Without ``per_query_sha256``: :func:`write_result` sets it once the arrays are written.
    """
    proto = get_protocol(protocol)
    metrics = {"mAP": {"value": map_value, "ci": [map_value - 0.05, map_value + 0.05]},
               "rank1": {"value": 0.5, "ci": [0.0, 1.0]}, "rank5": {"value": 1.0, "ci": None},
               "rank10": {"value": 1.0, "ci": None}, "rank20": {"value": 1.0, "ci": None},
               "mINP": {"value": 0.75, "ci": None}}
    record = {
        "schema": "reidbench.result/1", "created": "2024-01-01T00:00:00Z",
        "protocol": {"id": proto.id, "name": proto.name, "version": proto.version,
                     "fingerprint": proto.fingerprint, "evaluation": proto.evaluation_dict()},
        "headline_ap": proto.evaluation.ap, "metrics": metrics,
        "metrics_by_variant": {"noninterp": {k: v["value"] for k, v in metrics.items()}},
        "n_queries": 3, "n_skipped": 1,
        "splits": [{"split": "official", "n_queries": 3, "n_gallery": 6, "n_skipped": 1,
                    "metrics": metrics, "metrics_by_variant": {}, "cmc": cmc or CMC,
                    "source": {"kind": "adapter", "checkpoint_sha256": sha}}],
        "procedure": {}, "source": {"kind": "adapter", "adapter": {
            "name": "tiny", "card": {"name": "tiny"}, "checkpoint_sha256": sha,
            "checkpoint_meta": {}, "n_parameters": n_parameters}, "features_sha256": None},
        "dataset": {"name": "mars", "root": "x", "fingerprint": "f", "n_tracklets": 9},
        "seed": 0, "environment": dict(ENVIRONMENT),
        "timings": {"official": {"seconds_features": seconds, "seconds_total": seconds}},
    }
    return record


def write_result(out: Path, *, protocol: str = "mars/v2v@1", sha: str = "ab" * 32,
                 n_parameters: int | None = 2_500_000, seconds: float = 0.9,
                 map_value: float = 0.75, cmc: list[float] | None = None) -> Path:
    """results.json (:func:`record_dict`) + per_query.npz.

    The record is consistent with its arrays (``map_value`` in [0.5, 1] sets q0's AP to
    ``2 * map_value - 1``), as `reidbench validate` requires; ``cmc`` other than the default makes
    it inconsistent (for tests that only read it).
    """
    import hashlib

    out.mkdir(parents=True, exist_ok=True)
    record = record_dict(protocol=protocol, sha=sha, n_parameters=n_parameters, seconds=seconds,
                         map_value=map_value, cmc=cmc)
    p = "official/"
    ap = AP.copy()
    ap[0] = 2 * map_value - 1
    arrays = {p + "topk_index": TOPK, p + "topk_distance": DIST, p + "ap": ap,
              p + "ap_noninterp": ap, p + "first_rank": FIRST_RANK, p + "inp": INP,
              p + "counted": np.isfinite(AP),
              p + "query_ids": np.array([q for q, _, _ in QUERIES]),
              p + "gallery_ids": np.array([g for g, _, _ in GALLERY]),
              p + "query_pids": np.array([x for _, x, _ in QUERIES]),
              p + "query_camids": np.array([c for _, _, c in QUERIES]),
              p + "gallery_pids": np.array([x for _, x, _ in GALLERY]),
              p + "gallery_camids": np.array([c for _, _, c in GALLERY])}
    np.savez(out / "per_query.npz", **arrays)
    record["per_query_sha256"] = hashlib.sha256((out / "per_query.npz").read_bytes()).hexdigest()
    (out / "results.json").write_text(json.dumps(record, indent=2))
    return out


def test_fixture_result_is_a_valid_result_record(tmp_path):
    from reidbench.leaderboard.validate import validate_file
    from reidbench.records import read_result

    d = write_result(tmp_path / "res")
    assert validate_file(d).ok
    res = read_result(d)
    assert res.split_arrays()["topk_index"].shape == (3, 6)
    assert res.value("mAP") == 0.75
