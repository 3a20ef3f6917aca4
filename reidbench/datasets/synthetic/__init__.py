"""Procedural, seeded, pedestrian-like video re-ID data written in the five official layouts.

No real re-ID dataset can be downloaded by the suite, so :func:`write_dataset` renders a miniature
copy of MARS, DukeMTMC-VideoReID, iLIDS-VID, PRID-2011 or LS-VID, file for file in the official
layout, and the real parsers read it unchanged. Difficulty knobs (:class:`SynthConfig`) switch each
nuisance on and off.

Example:
    >>> from reidbench.datasets.synthetic import write_dataset, SynthConfig
    >>> s = write_dataset("mars", "/tmp/mars", ids=12, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from reidbench.datasets.synthetic.api import (
    LAYOUTS,
    MANIFEST_NAME,
    SynthSummary,
    read_manifest,
    write_dataset,
)
from reidbench.datasets.synthetic.config import SynthConfig

__all__ = ["write_dataset", "read_manifest", "SynthConfig", "SynthSummary", "LAYOUTS",
           "MANIFEST_NAME"]
