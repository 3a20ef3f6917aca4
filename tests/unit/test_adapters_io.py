import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from reidbench.adapters import (
    Adapter,
    AdapterCard,
    ModuleAdapter,
    get_adapter,
    load_checkpoint,
    load_features_file,
    read_checkpoint_meta,
    save_checkpoint,
)
from reidbench.errors import CheckpointError, DataError, InputError, RegistryError


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/reidbench_pwned_marker",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = Path("/tmp/reidbench_pwned_marker")
    marker.unlink(missing_ok=True)
    bad = tmp_path / "evil.pth"
    with open(bad, "wb") as f:
        pickle.dump({"state_dict": {"w": _Evil()}}, f)
    with pytest.raises(CheckpointError, match="arbitrary code"):
        load_checkpoint(bad)
    assert not marker.exists()


def test_torch_checkpoint_round_trip_and_sha(tmp_path):
    p = tmp_path / "w.pth"
    torch.save({"state_dict": {"w": torch.ones(2, 3)}, "meta": {"baseline": "x"}}, p)
    ck = load_checkpoint(p)
    assert torch.equal(ck.state_dict["w"], torch.ones(2, 3))
    assert ck.meta == {"baseline": "x"} and len(ck.sha256) == 64


def test_safetensors_round_trip(tmp_path):
    p = tmp_path / "w.safetensors"
    sha = save_checkpoint(p, {"a": torch.arange(4.0)}, {"baseline": "stmn", "config": {"M": 10}})
    ck = load_checkpoint(p)
    assert ck.sha256 == sha and ck.meta["config"] == {"M": 10}
    assert torch.equal(ck.state_dict["a"], torch.arange(4.0))
    assert [f.name for f in tmp_path.iterdir()] == ["w.safetensors"]  # no temp file left


def test_missing_and_garbage_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="existing file"):
        load_checkpoint(tmp_path / "nope.pth")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(junk)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin"])
def test_a_safetensors_file_under_another_suffix_is_told_to_rename(suffix, tmp_path):
    real = tmp_path / "w.safetensors"
    save_checkpoint(real, {"a": torch.arange(4.0)}, {"baseline": "stmn"})
    misnamed = real.rename(tmp_path / f"w{suffix}")
    with pytest.raises(CheckpointError, match=r"safetensors file under another suffix.*Rename "
                       r"it to w\.safetensors"):
        load_checkpoint(misnamed)
    # a file that merely starts with 8 bytes and a brace is not taken for one
    fake = tmp_path / f"fake{suffix}"
    fake.write_bytes((10**9).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        load_checkpoint(fake)


class _Tiny(ModuleAdapter):
    card = AdapterCard(name="tiny")

    def __init__(self, dim: int = 4):
        super().__init__(torch.nn.Linear(3, dim))

    def forward_features(self, clips):
        return self.model(clips.mean(dim=(1, 3, 4)))


def test_module_adapter_checks_owner_and_keys(tmp_path):
    a = _Tiny()
    p = tmp_path / "other.safetensors"
    save_checkpoint(p, a.model.state_dict(), {"baseline": "cosam"})
    with pytest.raises(CheckpointError, match="weights of 'cosam'"):
        a.load_checkpoint(str(p))
    p2 = tmp_path / "shape.safetensors"
    save_checkpoint(p2, _Tiny(dim=5).model.state_dict(), {"baseline": "tiny"})
    with pytest.raises(CheckpointError, match="shape mismatch"):
        a.load_checkpoint(str(p2))
    p3 = tmp_path / "ok.safetensors"
    save_checkpoint(p3, _Tiny().model.state_dict(), {"baseline": "tiny"})
    a.load_checkpoint(str(p3))
    assert a.checkpoint_sha256 and a.embed_clips(torch.zeros(2, 3, 3, 8, 4)).shape == (2, 4)


def test_get_adapter_by_target_and_unknown_name():
    a = get_adapter(f"{__name__}:_Tiny", dim=6)
    assert isinstance(a, Adapter) and a.n_parameters() == 3 * 6 + 6
    with pytest.raises(RegistryError):
        get_adapter("surely-not-an-adapter")
    with pytest.raises(RegistryError, match="subclass"):
        get_adapter("math:sqrt")


def _npz(tmp_path, **arrays):
    p = tmp_path / "f.npz"
    np.savez(p, **arrays)
    return p


def test_features_file_validation(tmp_path):
    ok = load_features_file(_npz(tmp_path, ids=np.array(["a", "b"]), features=np.eye(2)))
    assert ok.ids == ("a", "b") and ok.select(["b"]).tolist() == [[0.0, 1.0]]
    ok.check_ids(["b", "a"], "p@1")
    with pytest.raises(DataError, match="1 missing"):
        ok.check_ids(["a", "b", "c"], "p@1")
    with pytest.raises(DataError, match="not in the protocol"):
        ok.check_ids(["a"], "p@1")
    cases = [
        (dict(ids=np.array(["a", "a"]), features=np.eye(2)), "more than once"),
        (dict(ids=np.array(["a", "b"]), features=np.array([[np.nan, 0], [0, 1]])), "NaN"),
        (dict(ids=np.array(["a", "b"]), features=np.ones(2)), "2-D"),
        (dict(ids=np.array(["a", "b"]), features=np.ones((2, 2, 2))), "2-D"),
        (dict(ids=np.array(["a"]), features=np.ones((2, 2))), "one row per id"),
        (dict(features=np.ones((2, 2))), "'ids'"),
    ]
    for arrays, match in cases:
        with pytest.raises(DataError, match=match):
            load_features_file(_npz(tmp_path, **arrays))
    obj = tmp_path / "obj.npz"
    np.savez(obj, ids=np.array([{"x": 1}], dtype=object), features=np.ones((1, 2)))
    with pytest.raises(DataError, match="no pickled objects"):
        load_features_file(obj)


def test_malicious_pickle_adds_no_warning_lines(tmp_path):
    bad = tmp_path / "evil.pth"
    with open(bad, "wb") as f:
        pickle.dump({"state_dict": {"w": _Evil()}}, f)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError, match=r"arbitrary code to load \(it imports posix"):
            load_checkpoint(bad)
    assert caught == []


def _bad_checkpoints(tmp_path):
    """Corrupt checkpoints: (file, what the error must say)."""
    sd = {"w": torch.ones(2)}
    cases = {}
    torch.save({"state_dict": sd, "meta": [1, 2]}, tmp_path / "listmeta.pth")
    cases["listmeta.pth"] = "got a list"
    torch.save({"state_dict": sd, "meta": {"loss": float("nan")}}, tmp_path / "nanmeta.pth")
    cases["nanmeta.pth"] = "nan at meta.loss"
    torch.save({"state_dict": sd, "meta": {"t": torch.ones(2)}}, tmp_path / "tensormeta.pth")
    cases["tensormeta.pth"] = "Tensor at meta.t"
    save_file(sd, str(tmp_path / "badjson.safetensors"), metadata={"reidbench_meta": "{nope"})
    cases["badjson.safetensors"] = "invalid JSON"
    save_file(sd, str(tmp_path / "listmeta.safetensors"), metadata={"reidbench_meta": "[1, 2]"})
    cases["listmeta.safetensors"] = "got a list"
    (tmp_path / "garbage.pth").write_bytes(b"\x00garbage")
    cases["garbage.pth"] = "not a torch checkpoint"
    (tmp_path / "empty.pth").write_bytes(b"")
    cases["empty.pth"] = "an empty file"
    torch.save([1, 2, 3], tmp_path / "list.pth")
    cases["list.pth"] = "a dict of tensors"
    return cases


def test_corrupt_checkpoints_are_one_checkpoint_error(tmp_path):
    for name, says in _bad_checkpoints(tmp_path).items():
        with pytest.raises(CheckpointError, match=re.escape(says)) as info:
            load_checkpoint(tmp_path / name)
        assert "\n" not in str(info.value), name
        assert "arbitrary code" not in str(info.value), name
        if name != "list.pth":
            with pytest.raises(CheckpointError, match=re.escape(says)):
                read_checkpoint_meta(tmp_path / name)


def test_read_checkpoint_meta_reads_the_header(tmp_path):
    p = tmp_path / "w.safetensors"
    save_checkpoint(p, {"a": torch.arange(4.0)}, {"train_dataset": "mars", "split": "official"})
    assert read_checkpoint_meta(p) == {"train_dataset": "mars", "split": "official"}
    torch.save({"state_dict": {"a": torch.ones(1)}, "meta": None}, tmp_path / "w.pth")
    assert read_checkpoint_meta(tmp_path / "w.pth") == {}


def test_unknown_adapter_options_are_one_input_error():
    with pytest.raises(InputError, match="Did you mean 'dim'"):
        get_adapter(f"{__name__}:_Tiny", dimm=6)
    with pytest.raises(InputError, match="option 'nope' in adapter"):
        get_adapter("stmn", nope=1)


def test_features_file_checks_that_evaluate_relies_on(tmp_path):
    ids = np.array(["a", "b", "c", "d"])
    cases = [
        (dict(ids=ids, features=np.zeros((4, 0))), "D >= 1"),
        (dict(ids=ids, features=np.full((4, 2), 1e200)), "row norms below"),
        (dict(ids=np.array(["a", "a", "b", "b"]), features=np.eye(4)),
         "2 id(s) more than once (e.g. 'a', 'b')"),
    ]
    for arrays, match in cases:
        with pytest.raises(DataError, match=re.escape(match)):
            load_features_file(_npz(tmp_path, **arrays))
    ok = load_features_file(_npz(tmp_path, ids=ids, features=np.eye(4)))
    with pytest.raises(DataError, match=re.escape("4 missing (e.g. 'e', 'f', 'g')")):
        ok.check_ids(list("abcdefgh"), "p@1")
    (tmp_path / "text.npz").write_bytes(b"garbage here")
    np.save(tmp_path / "single.npy", np.eye(2))
    for name, match in (("text.npz", "not a zip archive"), ("single.npy", "single .npy array")):
        with pytest.raises(DataError, match=match) as info:
            load_features_file(tmp_path / name)
        assert "pickled" not in str(info.value)
