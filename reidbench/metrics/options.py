"""The metric vocabulary and :class:`MetricOptions`, the one validated record of metric settings.

Every name a metric setting can take is defined once, here or in the registry it comes from:

==================  ============================================================================
AP variants         :data:`reidbench.metrics.AP_VARIANTS` (registry), in display order
                    :data:`AP_VARIANT_ORDER`
tie policies        :data:`TIE_POLICIES` (``stable``, ``optimistic``, ``pessimistic``)
no-positive         :data:`NO_POSITIVE_POLICIES` (``skip``, ``zero``, ``nan``, ``skip_raw``,
                    ``error``)
CMC modes           :data:`CMC_MODES` (``first_match``, ``allshots``)
same-camera rules   :data:`SAME_CAMERA_RULES` (``junk``)
distances           :data:`reidbench.metrics.DISTANCES`
summary metrics     :data:`SUMMARY_METRICS` for the default CMC ranks, :func:`summary_names` for any
==================  ============================================================================

:class:`MetricOptions` is what ``rank_metrics`` computes under, what a preset fixes and what a
protocol's evaluation part measures (``Evaluation.metric_options``). It is frozen and validated when
it is built: a bad value raises one :class:`~reidbench.errors.InputError` naming the field, the
allowed values and the closest one.

Example:
    >>> MetricOptions(ap="trapezoid").summary_names()
    ('mAP', 'rank1', 'rank5', 'rank10', 'rank20', 'mINP')
    >>> MetricOptions(ap="trapezod")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reidbench.errors.InputError: ap in MetricOptions: expected one of [...], got 'trapezod'. Did...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from reidbench.errors import InputError, describe
from reidbench.metrics import _validate as V
from reidbench.metrics._ranks import TIE_POLICIES
from reidbench.metrics.variants import AP_VARIANT_ORDER, AP_VARIANTS

__all__ = ["MetricOptions", "TIE_POLICIES", "NO_POSITIVE_POLICIES", "CMC_MODES",
           "SAME_CAMERA_RULES", "AP_VARIANT_ORDER", "DEFAULT_CMC_RANKS", "SUMMARY_METRICS",
           "summary_names", "short_label", "check_metric_options"]

#: What a query without a valid positive contributes (docs/metrics.md, "Queries without a
#: positive").
NO_POSITIVE_POLICIES = ("skip", "zero", "nan", "skip_raw", "error")
#: ``first_match`` (Market-1501/MARS) or ``allshots`` (open-reid's default).
CMC_MODES = ("first_match", "allshots")
#: Rule for gallery items with the query's pid and camera.
SAME_CAMERA_RULES = ("junk",)
#: The CMC ranks reported in a summary unless a protocol names others.
DEFAULT_CMC_RANKS = (1, 5, 10, 20)


def summary_names(cmc_ranks: tuple[int, ...] = DEFAULT_CMC_RANKS) -> tuple[str, ...]:
    """The summary-metric names for ``cmc_ranks``: ``mAP``, ``rank<k>`` for each k, ``mINP``."""
    return ("mAP", *(f"rank{int(k)}" for k in cmc_ranks), "mINP")


#: The summary metrics of the default CMC ranks, in report order.
SUMMARY_METRICS = summary_names()


def short_label(name: str) -> str:
    """The column header of a summary metric: ``rank5`` -> ``R5``; ``mAP``, ``mINP`` unchanged."""
    return "R" + name[4:] if name.startswith("rank") and name[4:].isdigit() else name


@dataclass(frozen=True)
class MetricOptions:
    """How a ranking is scored: the settings of ``rank_metrics``, a preset and a protocol.

    Attributes:
        ap: Headline AP variant (a name of ``AP_VARIANTS``); every variant is computed beside it.
        ties: Order among equal distances: ``stable`` (gallery index), ``optimistic`` (positives
            first) or ``pessimistic``.
        no_positive: Policy for a query without a valid positive (:data:`NO_POSITIVE_POLICIES`).
        junk_pids: Gallery pids that are junk for every query (a tuple of ints).
        same_camera: ``"junk"``: gallery items with the query's pid and camera are removed.
        cmc: CMC mode, ``first_match`` or ``allshots``.
        max_rank: Length of the CMC curve.
        cmc_ranks: The Rank-k reported in a summary, ascending (a k beyond ``max_rank`` reads as
            NaN; a protocol's evaluation requires every k within it).
    """

    ap: str = "noninterp"
    ties: str = "stable"
    no_positive: str = "skip"
    junk_pids: tuple[int, ...] = (-1,)
    same_camera: str = "junk"
    cmc: str = "first_match"
    max_rank: int = 50
    cmc_ranks: tuple[int, ...] = DEFAULT_CMC_RANKS

    def __post_init__(self) -> None:
        for key, value in check_metric_options(asdict(self), "MetricOptions").items():
            object.__setattr__(self, key, value)

    @classmethod
    def build(cls, where: str, base: MetricOptions | None = None, **values: Any) -> MetricOptions:
        """``base`` (default: the defaults) with ``values`` applied; errors name ``where``.

        Raises:
            InputError: On an unknown field or a bad value, naming the field and ``where``.
        """
        merged = {**asdict(base if base is not None else cls()), **_known(values, where)}
        return cls(**check_metric_options(merged, where))

    def replace(self, **changes: Any) -> MetricOptions:
        """A copy with ``changes`` applied (validated; an unknown name raises ``InputError``)."""
        return MetricOptions.build("MetricOptions.replace", self, **changes)

    def summary_names(self) -> tuple[str, ...]:
        """``mAP``, ``rank<k>`` for each of :attr:`cmc_ranks`, ``mINP``."""
        return summary_names(self.cmc_ranks)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        d = asdict(self)
        d["junk_pids"] = list(self.junk_pids)
        d["cmc_ranks"] = list(self.cmc_ranks)
        return d


_FIELDS = tuple(f.name for f in fields(MetricOptions))


def _known(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        from reidbench.registry import suggest

        raise InputError(describe(f"option {unknown[0]!r}", where, f"one of {list(_FIELDS)}",
                                  "an unknown name", suggest(unknown[0], _FIELDS)))
    return dict(values)


def check_metric_options(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate metric settings and return them normalised (tuples of ints for the pid/rank lists).

    The one validator behind :class:`MetricOptions` and ``Evaluation``; ``where`` names the caller
    in the message. Only the keys present are checked.

    Raises:
        InputError: Naming the first bad field, the allowed values and the closest one.
    """
    out = _known(values, where)
    for key, choices in (("ap", AP_VARIANTS.names()), ("ties", TIE_POLICIES),
                         ("no_positive", NO_POSITIVE_POLICIES),
                         ("same_camera", SAME_CAMERA_RULES), ("cmc", CMC_MODES)):
        if key in out:
            V.check_choice(out[key], key, choices, where)
    if "junk_pids" in out:
        out["junk_pids"] = V.check_junk_pids(out["junk_pids"], where)
    if "max_rank" in out:
        out["max_rank"] = V.check_positive_int(out["max_rank"], "max_rank", where)
    if "cmc_ranks" in out:
        out["cmc_ranks"] = _check_ranks(out["cmc_ranks"], where)
    return out


def _check_ranks(value: Any, where: str) -> tuple[int, ...]:
    expected = "a non-empty ascending sequence of integers >= 1"
    try:
        ranks = tuple(value)
    except TypeError:
        ranks = ()
    ok = bool(ranks) and all(not isinstance(k, bool) and isinstance(k, (int, np.integer))
                             and k >= 1 for k in ranks)
    ok = ok and all(a < b for a, b in zip(ranks, ranks[1:], strict=False))
    if not ok:
        raise InputError(describe("cmc_ranks", where, expected, repr(value),
                                  "e.g. cmc_ranks=(1, 5, 10, 20)"))
    return tuple(int(k) for k in ranks)
