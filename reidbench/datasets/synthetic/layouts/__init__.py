"""One writer per official on-disk layout; each holds only what differs between layouts."""

from __future__ import annotations

from reidbench.protocols.record import DATASETS
from reidbench.registry import Registry

__all__ = ["LAYOUT_WRITERS", "VARIANTS"]

LAYOUT_WRITERS: Registry = Registry("synthetic layout")
for _name in DATASETS:
    LAYOUT_WRITERS.register(_name, f"reidbench.datasets.synthetic.layouts.{_name}:write")

# Optional variants of a layout (None is the official form).
VARIANTS: dict[str, tuple[str, ...]] = {
    "mars": ("float64",),  # metadata as scipy.io.savemat would write it (float64 everywhere)
    "dukev": ("old_names",),  # first-release file names without underscores
    "ilidsvid": (),
    "prid2011": ("mat_splits",),  # also the official train_test_splits_prid.mat (>= 27 frames)
    "lsvid": (),
}
