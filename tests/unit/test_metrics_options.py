"""MetricOptions: one validated record of metric settings, and one vocabulary behind it."""

from __future__ import annotations

import numpy as np
import pytest

from reidbench.errors import InputError, ReidbenchError
from reidbench.metrics import (
    AP_VARIANT_ORDER,
    AP_VARIANTS,
    PRESETS,
    SUMMARY_METRICS,
    MetricOptions,
    rank_metrics,
    summary_names,
)
from reidbench.protocols import Evaluation, list_protocols


@pytest.mark.parametrize("field, value, allowed, close", [
    ("ap", "trapezod", "'noninterp', 'sklearn_legacy', 'sklearn_step', 'trapezoid'",
     "'trapezoid'"),
    ("ties", "stabel", "'stable', 'optimistic', 'pessimistic'", "'stable'"),
    ("no_positive", "skip-raw", "'skip', 'zero', 'nan', 'skip_raw', 'error'", "'skip_raw'"),
    ("cmc", "allshot", "'first_match', 'allshots'", "'allshots'"),
])
def test_a_bad_value_names_the_field_the_allowed_values_and_the_closest(field, value, allowed,
                                                                         close):
    with pytest.raises(InputError) as info:
        MetricOptions(**{field: value})
    msg = str(info.value)
    assert msg.startswith(f"{field} in MetricOptions: expected one of [{allowed}], got "
                          f"{value!r}.")
    assert f"Did you mean {close}" in msg


def test_evaluation_is_validated_at_construction():
    with pytest.raises(ReidbenchError, match=r"^ap in Evaluation: expected one of \[.*'trapezoid'"
                                             r"\], got 'bogus'\.$"):
        Evaluation(dataset="mars", ap="bogus")
    with pytest.raises(InputError, match="dataset in protocol.*Did you mean 'mars'"):
        Evaluation(dataset="marss")
    with pytest.raises(InputError, match="train_dataset in protocol.*Did you mean 'dukev'"):
        Evaluation(dataset="mars", train_dataset="duke")
    with pytest.raises(InputError, match="cmc_ranks in Evaluation.*<= max_rank \\(10\\)"):
        Evaluation(dataset="mars", max_rank=10, cmc_ranks=(1, 20))
    with pytest.raises(InputError, match="cmc_ranks in Evaluation.*ascending"):
        Evaluation(dataset="mars", cmc_ranks=(5, 1))


def test_evaluation_metric_options_carry_its_fields():
    for p in list_protocols():
        ev = p.evaluation
        m = ev.metric_options
        assert (m.ap, m.ties, m.no_positive, m.junk_pids, m.same_camera, m.max_rank,
                m.cmc_ranks, m.cmc) == (ev.ap, ev.ties, ev.no_positive, tuple(ev.junk_pids),
                                        ev.same_camera, ev.max_rank, tuple(ev.cmc_ranks),
                                        "first_match")


def test_options_are_frozen_normalised_and_replace_validates():
    m = MetricOptions(junk_pids=[-1, np.int64(0)], cmc_ranks=[1, np.int64(3)])
    assert m.junk_pids == (-1, 0) and m.cmc_ranks == (1, 3)
    assert m.summary_names() == ("mAP", "rank1", "rank3", "mINP")
    with pytest.raises(AttributeError):
        m.ap = "trapezoid"  # type: ignore[misc]
    assert m.replace(ap="trapezoid").ap == "trapezoid"
    with pytest.raises(InputError, match="option 'tie' in MetricOptions.replace.*'ties'"):
        m.replace(tie="stable")
    assert m.as_dict()["cmc_ranks"] == [1, 3]


def test_presets_are_metric_options():
    for name in PRESETS.names():
        p = PRESETS.get(name)
        assert isinstance(p.metric, MetricOptions)
        assert set(p.options()) == {"ap", "ties", "no_positive", "junk_pids", "same_camera", "cmc"}


def _problem():
    rng = np.random.default_rng(2)
    return (rng.random((8, 40)), rng.integers(1, 5, 8), rng.integers(-1, 5, 40),
            rng.integers(1, 3, 8), rng.integers(1, 3, 40))


def test_rank_metrics_takes_options_and_keywords_on_top():
    args = _problem()
    opts = MetricOptions(ap="trapezoid", no_positive="zero", max_rank=10, cmc_ranks=(1, 3))
    a = rank_metrics(*args, options=opts)
    b = rank_metrics(*args, ap="trapezoid", no_positive="zero", max_rank=10, cmc_ranks=(1, 3))
    assert a.map == b.map and a.options == b.options
    assert list(a.summary_values()) == ["mAP", "rank1", "rank3", "mINP"]
    assert a.summary()["rank3"] == a.rank(3)
    c = rank_metrics(*args, options=opts, ap="noninterp")
    assert c.options["ap"] == "noninterp" and c.options["no_positive"] == "zero"
    with pytest.raises(InputError, match="options in rank_metrics: expected options or preset"):
        rank_metrics(*args, options=opts, preset="tkp")
    with pytest.raises(InputError, match="ties in rank_metrics.*Did you mean 'stable'"):
        rank_metrics(*args, ties="stabel")
    with pytest.raises(InputError, match="options in rank_metrics.*MetricOptions"):
        rank_metrics(*args, options={"ap": "trapezoid"})


def test_one_vocabulary():
    from reidbench.datasets import LAYOUTS
    from reidbench.datasets.synthetic import LAYOUTS as SYNTH_LAYOUTS
    from reidbench.leaderboard import schema
    from reidbench.leaderboard.entries import DATASET_NAMES, METRIC_HEADERS
    from reidbench.protocols.record import DATASETS

    assert SUMMARY_METRICS == summary_names((1, 5, 10, 20)) == schema.METRICS
    assert set(METRIC_HEADERS) == set(SUMMARY_METRICS)
    assert set(AP_VARIANT_ORDER) == set(AP_VARIANTS.names())
    assert tuple(LAYOUTS.names()) == tuple(sorted(DATASETS)) and SYNTH_LAYOUTS == DATASETS
    assert schema.DATASETS == DATASETS and set(DATASET_NAMES) == set(DATASETS)
