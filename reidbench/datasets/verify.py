"""``reidbench data verify``: check a dataset copy and say exactly what is missing or wrong.

Checks, in order: the copy parses (every metadata file present and well-formed); the counts match
the official statistics (specs/datasets.md; skipped for a synthetic copy, recognised by its
``_reidbench_synth.json`` ground truth, whose own counts are checked instead); every referenced
frame exists and is a decodable image (header check; ``full=True`` decodes every pixel); metadata is
consistent (ids unique, splits refer to known tracklets, queries have the dataset's designation).
A hashed manifest (sha256 per file, sorted, and a total digest) lets two labs confirm they hold the
same copy without exchanging data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidbench.datasets import load
from reidbench.errors import DataError, ReidbenchError, describe

__all__ = ["OFFICIAL_COUNTS", "VerifyReport", "verify", "write_manifest", "check_manifest"]

SYNTH_MANIFEST = "_reidbench_synth.json"

#: Official tracklet counts per dataset (specs/datasets.md sections 1.5, 2.3, 3.3, 4.2, 5.2).
OFFICIAL_COUNTS: dict[str, dict[str, int]] = {
    "mars": {"tracklets": 20478, "train": 8298, "query": 1980, "gallery": 12180},
    "dukev": {"tracklets": 5534, "train": 2196, "query": 702, "gallery": 2636},
    "ilidsvid": {"tracklets": 600, "splits": 10, "query": 150, "gallery": 150},
    "prid2011": {"splits": 10, "query": 89, "gallery": 89},
    "lsvid": {"train": 2831, "query": 3504, "gallery": 11310},
}


@dataclass
class VerifyReport:
    """Outcome of :func:`verify`: problems (each one line) and facts about the copy."""

    name: str
    root: str
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def _counts(ds: Any) -> dict[str, int]:
    s = ds.splits[0]
    return {"tracklets": len(ds.tracklets), "splits": len(ds.splits), "train": len(s.train),
            "query": len(s.query), "gallery": len(s.gallery),
            "frames": sum(len(t.frames) for t in ds.tracklets)}


def _check_image(path: str, full: bool) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            if full:
                im.load()
            else:
                im.verify()
    except FileNotFoundError:
        return "missing"
    except Exception as exc:  # any decoder failure
        return f"not decodable ({type(exc).__name__})"
    return None


def verify(name: str, root: str | Path, *, expect: str = "auto", full: bool = False,
           max_listed: int = 20) -> VerifyReport:
    """Check a copy; never raises for problems of the copy, returns them in the report.

    Args:
        name: Layout (``mars``, ``dukev``, ``ilidsvid``, ``prid2011``, ``lsvid``).
        root: The copy's root.
        expect: ``"official"`` (compare with the official counts), ``"none"`` (skip counts) or
            ``"auto"`` (official unless the copy is a reidbench synthetic one).
        full: Decode every frame completely (slow) instead of checking headers.
        max_listed: Problems listed per kind before summarising.
    """
    report = VerifyReport(name, str(root))
    try:
        ds = load(name, root)
    except ReidbenchError as exc:
        report.problems.append(str(exc))
        return report
    counts = _counts(ds)
    report.facts.update(counts)
    synth = Path(root) / SYNTH_MANIFEST
    if expect == "auto":
        expect = "synthetic" if synth.is_file() else "official"
    if expect == "official":
        for key, want in OFFICIAL_COUNTS.get(name, {}).items():
            if counts.get(key) != want:
                report.problems.append(describe(key, f"{name} copy at {root}", f"{want} (official)",
                                                counts.get(key), "the copy is incomplete or "
                                                "not the official release; re-extract it"))
    elif expect == "synthetic":
        truth = json.loads(synth.read_text())
        if len(truth.get("tracklets", [])) != counts["tracklets"]:
            report.problems.append(describe("tracklets", str(root),
                                            f"{len(truth['tracklets'])} (synthetic ground truth)",
                                            counts["tracklets"], "re-run reidbench data synth"))
    known = {t.id for t in ds.tracklets}
    for s in ds.splits:
        for part in ("train", "query", "gallery"):
            unknown = [i for i in getattr(s, part) if i not in known]
            if unknown:
                report.problems.append(describe(f"split {s.name} {part}", str(root),
                                                "known tracklet ids", f"{len(unknown)} unknown "
                                                f"(e.g. {unknown[0]!r})", "re-extract metadata"))
    bad = 0
    for t in ds.tracklets:
        if not t.frames:
            report.problems.append(describe(f"tracklet {t.id}", str(root), "at least one frame",
                                            "none", "re-extract the frames"))
        for frame in t.frames:
            issue = _check_image(frame, full)
            if issue:
                bad += 1
                if bad <= max_listed:
                    report.problems.append(f"frame {frame} of tracklet {t.id}: {issue}")
    if bad > max_listed:
        report.problems.append(f"... and {bad - max_listed} more frames missing or undecodable")
    report.facts["bad_frames"] = bad
    return report


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != SYNTH_MANIFEST)


def write_manifest(root: str | Path, out: str | Path) -> dict[str, Any]:
    """Write a sha256 manifest of every file under ``root`` (relative paths, sorted)."""
    from reidbench.fileio import write_text_atomic

    base = Path(root)
    entries = {p.relative_to(base).as_posix(): _sha256(p) for p in _files(base)}
    total = hashlib.sha256("".join(f"{k} {v}\n" for k, v in entries.items()).encode()).hexdigest()
    manifest = {"schema": "reidbench.manifest/1", "total": total, "files": entries}
    write_text_atomic(out, json.dumps(manifest, indent=1) + "\n")
    return manifest


def check_manifest(root: str | Path, manifest_path: str | Path) -> list[str]:
    """Compare a copy with a manifest; return one line per differing file."""
    try:
        manifest = json.loads(Path(manifest_path).read_text())
        want = manifest["files"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(describe("manifest", str(manifest_path), "a reidbench manifest JSON",
                                 type(exc).__name__, "write one with --manifest write")) from None
    base = Path(root)
    have = {p.relative_to(base).as_posix(): p for p in _files(base)}
    problems = [f"missing file {k}" for k in sorted(set(want) - set(have))]
    problems += [f"extra file {k}" for k in sorted(set(have) - set(want))]
    problems += [f"different content {k}" for k in sorted(set(want) & set(have))
                 if _sha256(have[k]) != want[k]]
    return problems


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
