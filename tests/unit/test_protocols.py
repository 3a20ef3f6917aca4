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


#: The fingerprint of every registered v1 protocol, pinned: a change to the Evaluation schema (a new
#: field, a renamed default) or to a protocol's evaluation part changes these and must come with a
#: new protocol version (old result records keep naming the old fingerprints).
PINNED = {
    "cross/dukev->mars@1": "86b3b7234f01f854",
    "cross/mars->dukev@1": "83e2e52fa7918332",
    "dukev/i2v@1": "99be93891d9b19fd",
    "dukev/v2v@1": "13b9d02075c9df4f",
    "ilidsvid/i2v@1": "7c2bfc32c51f07bc",
    "ilidsvid/v2v@1": "1044d0980517c5be",
    "lsvid/v2v@1": "b588d91b1c0cfc2e",
    "lsvid/v2v-without-query@1": "b00d0cde81706d6a",
    "mars/i2v@1": "3622b30e45f839eb",
    "mars/v2v-torchreid@1": "c1bc30804712c750",
    "mars/v2v@1": "57cd34ef2db4ac82",
    "prid2011/v2v@1": "3ff457ae3a7073cc",
}


@pytest.mark.parametrize("protocol_id", sorted(PINNED))
def test_fingerprints_are_pinned(protocol_id):
    assert get_protocol(protocol_id).fingerprint == PINNED[protocol_id]


def test_every_registered_protocol_is_pinned():
    assert {p.id for p in list_protocols()} == set(PINNED)
