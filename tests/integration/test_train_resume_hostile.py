"""A ``last.pt`` that lies or carries code: one line from `train`, nothing run, nothing written.

``last.pt`` sits in the output folder and may have been copied from anywhere: it is read through
the checkpoint reader (``weights_only=True``, bounded, never unpickled) and every field is typed
before use. The states here are generated from a real one by mutating its fields.
"""

import json
import os
import pickle
import random

import pytest
import torch

from reidbench.cli import main
from reidbench.engine.train import _read_resume_state
from reidbench.errors import InputError

ARGS = ["--config", '{"backbone": "small"}', "--iters-per-epoch", "1", "--height", "64",
        "--width", "32", "--device", "cpu"]


def _state():
    run = {"baseline": "stmn", "config": {"backbone": "small"}, "seed": 0}
    return {"model": {"w": torch.ones(2)}, "optim": {"state": {}, "param_groups": []},
            "sched": {"last_epoch": 2}, "epoch": 2, "history": [{"epoch": 1}, {"epoch": 2}],
            "best_val_map": 0.5, "run": json.dumps(run)}


class _Marker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


_BAD_VALUES = {"epoch": ["2", 2.0, -1, True, None, 10**18, [2]],
               "history": [None, 3, "x", [1, 2], [{"a": float("nan")}, {}], [{}], [{}] * 5],
               "best_val_map": ["0.5", 1.5, -0.1, float("nan"), [0.5], torch.ones(1), True],
               "run": [5, "{", "[" * 5000 + "]" * 5000, "[1, 2]", "x" * (2 << 20), b"{}"]}


def _variants(seed):
    rng = random.Random(seed)
    out = []
    for key, values in _BAD_VALUES.items():
        for value in rng.sample(values, 3):
            out.append((key, value))
    out += [(rng.choice(["model", "optim", "sched", "epoch", "history"]), KeyError)]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mutated_resume_states_are_one_input_error(tmp_path, seed):
    assert _read_resume_state(_write(tmp_path / "ok.pt", _state()), "fix")["epoch"] == 2
    for i, (key, value) in enumerate(_variants(seed)):
        state = _state()
        if value is KeyError:
            del state[key]
        else:
            state[key] = value
        with pytest.raises(InputError) as exc:
            _read_resume_state(_write(tmp_path / f"{i}.pt", state), "fix")
        assert "\n" not in str(exc.value) and exc.value.param == "resume", (key, value)


@pytest.mark.parametrize("shape", ["raw pickle", "data.pkl", "empty", "truncated", "list"])
def test_unreadable_or_unsafe_resume_state_never_runs(tmp_path, shape):
    marker = tmp_path / "MARKER"
    p = tmp_path / "last.pt"
    if shape == "raw pickle":
        p.write_bytes(pickle.dumps({"model": _Marker(marker)}))
    elif shape == "data.pkl":
        _zip_with_pickle(p, pickle.dumps(_Marker(marker), protocol=2))
    elif shape == "empty":
        p.write_bytes(b"")
    elif shape == "truncated":
        _write(p, _state())
        p.write_bytes(p.read_bytes()[:300])
    else:
        torch.save([1, 2], p)
    with pytest.raises(InputError) as exc:
        _read_resume_state(p, "fix")
    assert "\n" not in str(exc.value) and not marker.exists()


def _write(path, state):
    torch.save(state, path)
    return path


def _zip_with_pickle(path, pkl):
    import zipfile

    torch.save(_state(), path)
    with zipfile.ZipFile(path) as z:
        members = [(i, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in members:
            z.writestr(info, pkl if info.filename.endswith("data.pkl") else data)


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    root = tmp_path_factory.mktemp("m") / "MARS"
    assert main(["data", "synth", "--dataset", "mars", "--out", str(root), "--ids", "6",
                 "--height", "64", "--width", "32"]) == 0
    return str(root)


@pytest.mark.parametrize("shape", ["code in last.pt", "last.pt is a folder", "empty last.pt"])
def test_train_refuses_a_hostile_out_folder_in_one_line(mars, tmp_path, capsys, shape):
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "MARKER"
    if shape == "code in last.pt":
        (out / "last.pt").write_bytes(pickle.dumps({"model": _Marker(marker)}))
    elif shape == "last.pt is a folder":
        (out / "last.pt").mkdir()
    else:
        (out / "last.pt").write_bytes(b"")
    before = sorted(p.name for p in out.iterdir())
    capsys.readouterr()
    rc = main(["train", "stmn", "--data", mars, "--dataset", "mars", "--out", str(out),
               "--epochs", "2", *ARGS])
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
    assert rc == 2 and len(errors) == 1 and "last.pt" in errors[0], errors
    assert sorted(p.name for p in out.iterdir()) == before and not marker.exists()
