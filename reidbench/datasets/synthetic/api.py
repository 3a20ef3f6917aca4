"""``write_dataset``: a complete miniature copy in one official layout, plus its ground truth."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reidbench.datasets.synthetic.config import SynthConfig
from reidbench.datasets.synthetic.layouts import LAYOUT_WRITERS, VARIANTS
from reidbench.errors import InputError, describe
from reidbench.protocols.record import DATASETS

__all__ = ["write_dataset", "SynthSummary", "MANIFEST_NAME", "LAYOUTS", "read_manifest"]

MANIFEST_NAME = "_reidbench_synth.json"
LAYOUTS = DATASETS  # one writer per dataset a protocol can name
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`write_dataset` wrote.

    Attributes:
        layout: Layout name. root: The copy's root directory (give it to the parser).
        seed: Seed. ids: Identities requested.
        num_tracklets: Tracklets in the copy (DukeV query copies included).
        num_frames: Frame files written (copies included).
        frames_rendered: Frames rendered (copies and stills excluded).
        seconds: Wall time. frames_per_second: ``frames_rendered / seconds``.
        manifest_path: The ground-truth file inside ``root``.
        counts: Tracklets per subset.
        manifest: The ground truth (tracklets, splits, knobs) as written to ``manifest_path``.
    """

    layout: str
    root: str
    seed: int
    ids: int
    num_tracklets: int
    num_frames: int
    frames_rendered: int
    seconds: float
    frames_per_second: float
    manifest_path: str
    counts: dict[str, int] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)


def _check_args(layout: str, ids: int, seed: int, variant: str | None,
                config: SynthConfig) -> None:
    LAYOUT_WRITERS.get(layout)  # unknown layout -> RegistryError with a did-you-mean
    mod = importlib.import_module(f"reidbench.datasets.synthetic.layouts.{layout}")
    if isinstance(ids, bool) or not isinstance(ids, int) or ids < mod.MIN_IDS or ids > 5000:
        raise InputError(describe("ids", f"write_dataset({layout!r})",
                                  f"an int in [{mod.MIN_IDS}, 5000]", ids,
                                  "ask for more identities"))
    if getattr(mod, "EVEN_IDS", False) and ids % 2:
        raise InputError(describe("ids", f"write_dataset({layout!r})",
                                  "an even number (each split lists half test, half train)", ids,
                                  f"ask for {ids + 1} identities"))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(describe("seed", "write_dataset", "an int >= 0", seed))
    if variant is not None and variant not in VARIANTS[layout]:
        raise InputError(describe("variant", f"write_dataset({layout!r})",
                                  f"None or one of {list(VARIANTS[layout])}", repr(variant)))
    if not isinstance(config, SynthConfig):
        raise InputError(describe("config", "write_dataset", "a SynthConfig",
                                  type(config).__name__))


def write_dataset(layout: str, out: str | Path, *, ids: int = 12, seed: int = 0,
                  config: SynthConfig | None = None, variant: str | None = None,
                  overwrite: bool = False) -> SynthSummary:
    """Write a synthetic miniature copy of a dataset in its official on-disk layout.

    The copy is built in a sibling temporary directory and moved into place at the end, so a
    failure leaves nothing half-written at ``out``. The same arguments always give byte-identical
    files. Beside the official files, ``out/_reidbench_synth.json`` (a file no real copy has)
    holds the ground truth: every tracklet's id, pid, camid, subset and ordered frame paths
    (relative to ``out``), the expected splits, the knobs and the nuisances applied per tracklet.

    Args:
        layout: ``"mars"``, ``"dukev"``, ``"ilidsvid"``, ``"prid2011"`` or ``"lsvid"``.
        out: Directory to create: the dataset root a parser is given (e.g. the ``mars/`` folder
            holding ``bbox_train/``, ``bbox_test/``, ``info/``).
        ids: Number of labelled identities (MARS/DukeV: split half train, half test; iLIDS-VID:
            persons; PRID-2011: persons in the shipped list; LS-VID: train, val and test).
        seed: Seed of everything random.
        config: Difficulty knobs; defaults to :class:`SynthConfig` ``()``.
        variant: A non-default form of the layout (``"float64"`` MARS metadata as scipy writes it;
            ``"old_names"`` DukeV first-release names; ``"mat_splits"`` PRID-2011 with the
            official ``train_test_splits_prid.mat`` beside the JSON).
        overwrite: Replace ``out`` if it exists.

    Returns:
        A :class:`SynthSummary` with counts, timing and the manifest.

    Raises:
        InputError: Bad arguments, or ``out`` exists and is not empty (without ``overwrite``).
        RegistryError: Unknown layout.
    """
    config = SynthConfig() if config is None else config
    _check_args(layout, ids, seed, variant, config)
    out = Path(out)
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise InputError(describe("out", "write_dataset", "a new or empty directory",
                                  str(out), "choose another directory or pass overwrite=True"))
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    try:
        writer = LAYOUT_WRITERS.get(layout)
        ctx, splits = writer(tmp, config, seed, ids, variant)
        manifest = {
            "generator": "reidbench.datasets.synthetic",
            "manifest_version": MANIFEST_VERSION,
            "layout": layout,
            "variant": variant,
            "seed": seed,
            "ids": ids,
            "config": config.to_dict(),
            "tracklets": [r.to_dict() for r in ctx.records],
            "splits": splits,
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n")
        seconds = time.perf_counter() - t0
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    counts: dict[str, int] = {}
    for r in ctx.records:
        counts[r.subset] = counts.get(r.subset, 0) + 1
    n_files = sum(len(r.frames) for r in ctx.records)
    return SynthSummary(
        layout=layout, root=str(out), seed=seed, ids=ids, num_tracklets=len(ctx.records),
        num_frames=n_files, frames_rendered=ctx.frames_rendered, seconds=seconds,
        frames_per_second=ctx.frames_rendered / max(seconds, 1e-9),
        manifest_path=str(out / MANIFEST_NAME), counts=counts, manifest=manifest)


def read_manifest(root: str | Path) -> dict[str, Any]:
    """Read the ground truth a synthetic copy carries (``root/_reidbench_synth.json``).

    Raises:
        InputError: If ``root`` holds no synthetic manifest.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise InputError(describe(MANIFEST_NAME, str(root), "a synthetic copy's manifest",
                                  "no such file", "generate the copy with write_dataset"))
    return json.loads(path.read_text())
