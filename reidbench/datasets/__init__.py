"""Dataset copies in their official layouts: ``load(name, root) -> VideoDataset``.

Only parsing differs between datasets (one module each); the index type, frame sampling
(:mod:`reidbench.datasets.sampling`) and decoding (:mod:`reidbench.datasets.decode`) are shared.
:mod:`reidbench.datasets.synthetic` writes miniature copies in each layout.
"""

from __future__ import annotations

from pathlib import Path

from reidbench.datasets.index import VideoDataset
from reidbench.errors import DataError, describe
from reidbench.registry import Registry, suggest

__all__ = ["LAYOUTS", "VideoDataset", "load"]

LAYOUTS: Registry = Registry("dataset layout")
LAYOUTS.register("mars", "reidbench.datasets.mars:load_mars")
LAYOUTS.register("dukev", "reidbench.datasets.dukev:load_dukev")
LAYOUTS.register("ilidsvid", "reidbench.datasets.ilidsvid:load_ilidsvid")
LAYOUTS.register("prid2011", "reidbench.datasets.prid2011:load_prid2011")
LAYOUTS.register("lsvid", "reidbench.datasets.lsvid:load_lsvid")


def load(name: str, root: str | Path) -> VideoDataset:
    """Parse the dataset copy at ``root`` in the official layout of ``name``.

    Raises:
        DataError: Unknown layout name (with suggestions), or a missing/malformed file of the copy.
    """
    if name not in LAYOUTS:
        raise DataError(describe(f"dataset {name!r}", "reidbench.datasets.load",
                                 f"one of {LAYOUTS.names()}", "an unknown name",
                                 suggest(name, LAYOUTS.names())))
    try:
        return LAYOUTS.get(name)(root)
    except OSError as exc:  # an unreadable file or folder of the copy, wherever a parser met it
        raise DataError(describe(
            "file" if exc.filename is None else f"{Path(str(exc.filename)).name!r}",
            str(exc.filename or root), "a readable file or folder of the copy",
            f"{type(exc).__name__}: {exc.strerror or exc}",
            "fix the copy's permissions (chmod -R u+rX ROOT) or copy it again")) from None
