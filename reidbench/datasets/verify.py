"""``reidbench data verify``: check a dataset copy and say exactly what is missing or wrong.

Checks, in order: the copy parses (every metadata file present and well-formed); the counts match
the official statistics (``docs/datasets.md``; skipped for a synthetic copy, recognised by its
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
from reidbench.errors import DataError, InputError, ReidbenchError, describe
from reidbench.fileio import loads_bounded, sha256_file

__all__ = ["OFFICIAL_COUNTS", "VerifyReport", "verify", "write_manifest", "check_manifest"]

SYNTH_MANIFEST = "_reidbench_synth.json"

#: Official counts per dataset (sources in docs/datasets.md). "tracklets"
#: counts what the parser indexes: DukeV's 702 query copies are separate items (2196 + 702 + 2636),
#: and so are their 111,848 frames. iLIDS-VID's frame total (about 42,460) and PRID-2011's folder
#: counts are not exact in any source, so they are not checked. LS-VID figures come from loader
#: docstrings (low confidence): the gallery is the whole test list, 3,504 + 7,829.
OFFICIAL_COUNTS: dict[str, dict[str, int]] = {
    "mars": {"tracklets": 20478, "frames": 1191003, "train": 8298, "query": 1980,
             "gallery": 12180},
    "dukev": {"tracklets": 5534, "frames": 927268, "train": 2196, "query": 702, "gallery": 2636},
    "ilidsvid": {"tracklets": 600, "splits": 10, "train": 300, "query": 150, "gallery": 150},
    "prid2011": {"splits": 10, "train": 178, "query": 89, "gallery": 89},
    "lsvid": {"train": 2831, "query": 3504, "gallery": 11333},
}


@dataclass
class VerifyReport:
    """Outcome of :func:`verify`: problems (each one line) and facts about the copy."""

    name: str
    root: str
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

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

    from reidbench.datasets.decode import not_a_regular_file

    problem = not_a_regular_file(path)
    if problem:  # opening a pipe blocks forever; /dev/zero never ends
        return f"{problem}; replace it with the frame from the dataset archive"
    try:
        with Image.open(path) as im:
            if full:
                im.load()
            else:
                im.verify()
    except FileNotFoundError:
        return "missing; re-extract it from the dataset archive (or restore the copy)"
    except PermissionError:
        return "unreadable (permission denied); fix the copy's permissions (chmod -R u+rX ROOT)"
    except Exception as exc:  # any decoder failure
        return (f"not decodable ({type(exc).__name__}: the file is damaged or not an image); "
                "re-extract it from the dataset archive")
    return None


def verify(name: str, root: str | Path, *, expect: str = "auto", full: bool = False,
           max_listed: int = 20) -> VerifyReport:
    """Check a copy; never raises for problems of the copy, returns them in the report.

    Args:
        name: Layout (``mars``, ``dukev``, ``ilidsvid``, ``prid2011``, ``lsvid``).
        root: The copy's root.
        expect: ``"official"`` (compare with the official counts), ``"synthetic"`` (compare
            every tracklet with the generator's ``_reidbench_synth.json``), ``"none"`` (skip
            counts) or ``"auto"`` (synthetic when that file is present, else official).
        full: Decode every frame completely (slow) instead of checking headers.
        max_listed: Problems listed per kind before summarising.

    Raises:
        InputError: An unknown ``expect``.
    """
    if expect not in ("auto", "official", "synthetic", "none"):
        raise InputError(describe("expect", "verify", "'official', 'none', 'synthetic' or "
                                  "'auto'", repr(expect), "pick one of those"))
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
        report.problems += _against_truth(ds, synth)
    report.facts["expect"] = expect
    report.problems += _consistency(ds)
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
        report.problems.append(f"... and {bad - max_listed} more frames missing or undecodable; "
                               "re-extract the frames from the dataset archive")
    report.facts["bad_frames"] = bad
    # a header check passes a truncated JPEG: say what was (not) checked
    report.facts["frames_checked"] = "decoded" if full else "headers only"
    if not full:
        report.notes.append("frames were checked by their headers only, not decoded (a truncated "
                            "or damaged image can pass); pass --full to decode every frame")
    return report


def _against_truth(ds: Any, synth: Path) -> list[str]:
    """Compare the parsed copy with the generator's ground truth, tracklet by tracklet."""
    try:
        truth = loads_bounded(synth.read_text(), max_chars=256 << 20)
        want = {t["id"]: t for t in truth["tracklets"]}
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        return [describe("synthetic ground truth", str(synth), "the JSON written by reidbench "
                         "data synth", type(exc).__name__, "re-run reidbench data synth")]
    got = {t.id: t for t in ds.tracklets}
    out = [f"tracklet {i} of the ground truth is missing" for i in sorted(set(want) - set(got))]
    out += [f"tracklet {i} is not in the ground truth" for i in sorted(set(got) - set(want))]
    for i in sorted(set(want) & set(got)):
        w, t = want[i], got[i]
        have = (t.pid, t.camid, t.subset, len(t.frames))
        if have != (w.get("pid"), w.get("camid"), w.get("subset"), len(w.get("frames", ()))):
            out.append(f"tracklet {i}: (pid, camid, subset, frames) {have} differ from the "
                       f"ground truth")
    return out


def _consistency(ds: Any) -> list[str]:
    """Metadata checks that hold for every copy of the layout (official or miniature)."""
    out: list[str] = []
    known = {t.id: t for t in ds.tracklets}
    seen: dict[str, str] = {}
    for t in ds.tracklets:
        for frame in t.frames:
            if frame in seen:
                out.append(f"frame {frame} is listed by tracklets {seen[frame]} and {t.id}")
            seen[frame] = t.id
    for s in ds.splits:
        parts = {p: [known[i] for i in getattr(s, p) if i in known]
                 for p in ("train", "query", "gallery")}
        shared = ({t.pid for t in parts["train"]} & {t.pid for t in parts["query"] +
                                                     parts["gallery"]}) - {-1, 0}
        if shared:
            out.append(f"split {s.name}: identities {sorted(shared)[:5]} are in both train "
                       "and test")
        if ds.name == "mars":
            pairs = [(t.pid, t.camid) for t in parts["query"]]
            if len(pairs) != len(set(pairs)) or any(p <= 0 for p, _ in pairs):
                out.append(f"split {s.name}: query_IDX should pick one tracklet per (real pid, "
                           "camera)")
        if ds.name == "dukev":
            for q in parts["query"]:
                copy = known.get("gallery/" + q.id.split("/", 1)[1])
                if copy is None or [Path(f).name for f in copy.frames] != [
                        Path(f).name for f in q.frames]:
                    out.append(f"query tracklet {q.id} has no identical copy in gallery/")
    return out


def _inside(root: Path, path: Path) -> str | None:
    """``path`` relative to ``root`` (posix), if it lies inside ``root``; else None."""
    for r, p in ((root.absolute(), path.absolute()), (root.resolve(), path.resolve())):
        try:
            return p.relative_to(r).as_posix()
        except ValueError:
            continue
    return None


def _files(root: Path, manifest: Path) -> list[Path]:
    """Files of the copy: all under ``root`` but the synthetic ground truth and the manifest."""
    own = _inside(root, manifest)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != SYNTH_MANIFEST
                  and p.relative_to(root).as_posix() != own)


def write_manifest(root: str | Path, out: str | Path) -> dict[str, Any]:
    """Write a sha256 manifest of every file under ``root`` (relative paths, sorted).

    The manifest itself is left out when ``out`` lies inside ``root``, so a later check of the
    same copy does not see it as an extra (or changed) file.
    """
    from reidbench.fileio import write_text_atomic

    base = Path(root)
    entries = {p.relative_to(base).as_posix(): sha256_file(p) for p in _files(base, Path(out))}
    total = hashlib.sha256("".join(f"{k} {v}\n" for k, v in entries.items()).encode()).hexdigest()
    manifest = {"schema": "reidbench.manifest/1", "total": total, "files": entries}
    write_text_atomic(out, json.dumps(manifest, indent=1) + "\n")
    return manifest


def check_manifest(root: str | Path, manifest_path: str | Path) -> list[str]:
    """Compare a copy with a manifest; return one line per differing file.

    The manifest file itself is not compared when it lies inside ``root``.
    """
    try:
        manifest = loads_bounded(Path(manifest_path).read_text(), max_chars=512 << 20)
        want = manifest["files"]
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise DataError(describe("manifest", str(manifest_path), "a reidbench manifest JSON",
                                 type(exc).__name__, "write one with --manifest write")) from None
    base = Path(root)
    have = {p.relative_to(base).as_posix(): p for p in _files(base, Path(manifest_path))}
    problems = [f"missing file {k}" for k in sorted(set(want) - set(have))]
    problems += [f"extra file {k}" for k in sorted(set(have) - set(want))]
    problems += [f"different content {k}" for k in sorted(set(want) & set(have))
                 if sha256_file(have[k]) != want[k]]
    return problems

