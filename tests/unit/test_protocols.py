import json

import pytest

from reidbench.errors import InputError, ProtocolError
from reidbench.protocols import Evaluation, Procedure, Protocol, get_protocol, list_protocols

REQUIRED = [
    "mars/v2v@1", "mars/v2v-torchreid@1", "dukev/v2v@1", "lsvid/v2v@1", "ilidsvid/v2v@1",
    "prid2011/v2v@1", "mars/i2v@1", "dukev/i2v@1", "ilidsvid/i2v@1", "cross/mars->dukev@1",
    "cross/dukev->mars@1",
]


def test_required_protocols_are_registered():
    ids = {p.id for p in list_protocols()}
    assert set(REQUIRED) <= ids


def test_mars_official_is_the_default_and_differs_from_torchreid():
    official, torchreid = get_protocol("mars/v2v"), get_protocol("mars/v2v-torchreid@1")
    assert official.id == "mars/v2v@1"
    assert official.evaluation.gallery == "with_query"
    assert official.evaluation.ap == "trapezoid"
    assert torchreid.evaluation.gallery == "without_query"
    assert official.fingerprint != torchreid.fingerprint


def test_fingerprint_ignores_procedure_but_not_evaluation():
    ev = Evaluation(dataset="mars", gallery="with_query")
    a = Protocol("x", 1, "t", ev, Procedure(distance="euclidean"))
    b = Protocol("x", 1, "t", ev, Procedure(distance="cosine", seq_len=16))
    c = Protocol("x", 1, "t", Evaluation(dataset="mars", gallery="without_query"))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    json.dumps(a.to_dict())  # JSON-ready


def test_multi_split_protocols_have_ten_splits():
    for pid in ("ilidsvid/v2v@1", "prid2011/v2v@1", "ilidsvid/i2v@1"):
        p = get_protocol(pid)
        assert p.is_multi_split and len(p.evaluation.splits) == 10
        assert p.evaluation.aggregate == "mean_std_over_splits"


def test_i2v_and_cross_dataset_fields():
    assert get_protocol("mars/i2v@1").evaluation.mode == "i2v"
    assert get_protocol("cross/mars->dukev@1").evaluation.train_dataset == "mars"
    assert get_protocol("cross/mars->dukev@1").evaluation.dataset == "dukev"


def test_unknown_protocol_suggests():
    with pytest.raises(ProtocolError, match="Did you mean 'mars/v2v@1'"):
        get_protocol("mars/v2v@7")


def test_records_validate_their_fields():
    with pytest.raises(InputError, match="mode"):
        Evaluation(dataset="mars", mode="v2i")
    with pytest.raises(InputError, match="splits"):
        Evaluation(dataset="ilidsvid", splits=("a", "b"))
    with pytest.raises(InputError, match="distance"):
        Procedure(distance="manhattan")
    assert Procedure().override(seq_len=16, distance=None).seq_len == 16
    with pytest.raises(InputError, match="procedure option"):
        Procedure().override(frames=3)
