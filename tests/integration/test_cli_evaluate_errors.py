"""Bad input to `reidbench evaluate`: one line on stderr, exit code 2, no result folder.

Every check that does not need features runs before any frame is decoded.
"""

import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from reidbench.adapters import AdapterCard, ModuleAdapter, save_checkpoint
from reidbench.cli import main
from reidbench.datasets import load
from reidbench.engine import FeaturesSource, build_evalset, evaluate, read_result
from reidbench.errors import DataError, InputError
from reidbench.protocols import Evaluation, Protocol, get_protocol


class Stripe(ModuleAdapter):
    """A tiny deterministic model: a linear map of the mean colour of four stripes."""

    card = AdapterCard(name="stripe", modes=("v2v", "i2v"), input_size=(32, 16))

    def __init__(self, dim: int = 8):
        torch.manual_seed(0)
        super().__init__(torch.nn.Linear(12, dim))

    def forward_features(self, clips):
        b, t, c, h, w = clips.shape
        return self.model(clips.reshape(b, t, c, 4, h // 4, w).mean(dim=(1, 4, 5)).reshape(b, -1))

    def procedure(self, default):
        return default.override(input_size=(32, 16), seq_len=2)


class VideoOnly(Stripe):
    card = AdapterCard(name="video-only", modes=("v2v",), input_size=(32, 16))


class FailsLater(Stripe):
    """Fails on its third batch, after progress has been drawn."""

    calls = 0

    def forward_features(self, clips):
        FailsLater.calls += 1
        if FailsLater.calls > 2:
            raise InputError("clips in FailsLater: expected two batches, got three. Stop.")
        return super().forward_features(clips)


STRIPE = f"{__name__}:Stripe"


class _Evil:
    def __reduce__(self):
        return (print, ("never",))


def _run(capsys, args, out):
    rc = main(["evaluate", *args, "--out", str(out), "--bootstrap", "0"])
    err = capsys.readouterr().err
    return rc, err.strip().splitlines()


def _assert_refused(capsys, args, out, says):
    rc, err = _run(capsys, args, out)
    assert rc == 2, err
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], err
    assert not out.exists()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ck")
    sd = Stripe().model.state_dict()
    files = {}
    torch.save({"state_dict": sd, "meta": [1, 2]}, folder / "listmeta.pth")
    files["listmeta.pth"] = "got a list"
    torch.save({"state_dict": sd, "meta": {"adapter": "stripe", "best": float("nan")}},
               folder / "nanmeta.pth")
    files["nanmeta.pth"] = "nan at meta.best"
    torch.save({"state_dict": sd, "meta": {"t": torch.ones(2)}}, folder / "tensormeta.pth")
    files["tensormeta.pth"] = "Tensor at meta.t"
    tensors = {k: v.contiguous() for k, v in sd.items()}
    save_file(tensors, str(folder / "badjson.safetensors"), metadata={"reidbench_meta": "{x"})
    files["badjson.safetensors"] = "invalid JSON"
    save_file(tensors, str(folder / "listmeta.safetensors"), metadata={"reidbench_meta": "[1]"})
    files["listmeta.safetensors"] = "got a list"
    save_checkpoint(folder / "listconfig.safetensors", sd, {"config": [1]})
    files["listconfig.safetensors"] = "metadata 'config'"
    (folder / "garbage.pth").write_bytes(b"\x00garbage")
    files["garbage.pth"] = "not a torch checkpoint"
    with open(folder / "evil.pth", "wb") as f:
        pickle.dump({"state_dict": {"w": _Evil()}}, f)
    files["evil.pth"] = "arbitrary code"
    files["missing.pth"] = "nothing there"
    for decl in ("mars", "dukev"):
        save_checkpoint(folder / f"{decl}.safetensors", sd, {"adapter": "stripe",
                                                            "train_dataset": decl})
    save_checkpoint(folder / "plain.safetensors", sd, {"adapter": "stripe"})
    return folder, files


def test_corrupt_checkpoints(synth_copy, checkpoints, tmp_path, capsys):
    root = synth_copy("dukev")
    folder, files = checkpoints
    for name, says in files.items():
        _assert_refused(capsys, ["-p", "dukev/v2v@1", "--data", root, "--adapter", STRIPE,
                                 "--checkpoint", str(folder / name)], tmp_path / name, says)


def test_cross_dataset_declaration(synth_copy, checkpoints, tmp_path, capsys):
    root = synth_copy("dukev")
    folder, _ = checkpoints
    base = ["-p", "cross/mars->dukev@1", "--data", root, "--adapter", STRIPE, "--json"]
    _assert_refused(capsys, [*base, "--checkpoint", str(folder / "dukev.safetensors")],
                    tmp_path / "wrong", "declares dukev")
    expect = {"mars.safetensors": "mars", "plain.safetensors": "undeclared", None: "undeclared"}
    for name, declared in expect.items():
        out = tmp_path / str(name)
        args = [*base, "--checkpoint", str(folder / name)] if name else base
        rc, err = _run(capsys, args, out)
        assert rc == 0, err
        assert read_result(out).record.source.train_dataset == declared
        warned = [line for line in err if line.startswith("warning:")]
        assert len(warned) == (declared == "undeclared"), err


def test_multi_split_checkpoint_must_name_its_own_split(synth_copy, tmp_path, capsys):
    root = synth_copy("prid2011")
    sd = Stripe().model.state_dict()
    for k in range(10):
        # split7's file holds the model trained on split3
        declared = "split3" if k == 7 else f"split{k}"
        save_checkpoint(tmp_path / f"split{k}.safetensors", sd,
                        {"adapter": "stripe", "train_dataset": "prid2011", "split": declared})
    _assert_refused(capsys, ["-p", "prid2011/v2v@1", "--data", root, "--adapter", STRIPE,
                             "--checkpoint", str(tmp_path / "{split}.safetensors")],
                    tmp_path / "out", "split7.safetensors: expected the model trained on split7")


def test_options_and_modes_are_checked_before_any_work(synth_copy, features_for, tmp_path,
                                                       capsys):
    root = synth_copy("dukev")
    adapter = ["-p", "dukev/v2v@1", "--data", root, "--adapter", STRIPE]
    cases = [
        ([*adapter, "--config", '{"dimm": 4}'], "Did you mean 'dim'"),
        ([*adapter, "--config", "[4]"], "a JSON array"),
        ([*adapter, "--device", "tpu"], "--device"),
        ([*adapter, "--sampling", "evenlyy"], "Did you mean 'evenly'"),
        (["-p", "dukev/i2v@1", "--data", root, "--adapter", f"{__name__}:VideoOnly"],
         "mode 'i2v'"),
    ]
    if not torch.cuda.is_available():
        cases.append(([*adapter, "--device", "cuda"], "sees no CUDA device"))
    features_for(tmp_path / "f.npz", "dukev/v2v@1", root)
    feats = ["-p", "dukev/v2v@1", "--data", root, "--features", str(tmp_path / "f.npz")]
    cases += [([*feats, "--seq-len", "4"], "the features file was extracted elsewhere"),
              ([*feats, "--checkpoint", "x.pth"], "--checkpoint")]
    for k, (args, says) in enumerate(cases):
        _assert_refused(capsys, args, tmp_path / f"out{k}", says)
    # an --out that is a file is refused before anything is computed (no progress line)
    (tmp_path / "taken").write_text("x")
    rc, err = _run(capsys, adapter, tmp_path / "taken")
    assert rc == 2 and len(err) == 1 and "an existing file" in err[0]


def test_non_npz_features_file_is_our_error(synth_copy, tmp_path, capsys):
    root = synth_copy("dukev")
    (tmp_path / "f.npz").write_bytes(b"garbage here")
    _assert_refused(capsys, ["-p", "dukev/v2v@1", "--data", root, "--features",
                             str(tmp_path / "f.npz")], tmp_path / "out", "not a zip archive")


def test_an_error_after_progress_starts_on_its_own_line(synth_copy, tmp_path, capsys):
    root = synth_copy("dukev")
    FailsLater.calls = 0
    rc = main(["evaluate", "-p", "dukev/v2v@1", "--data", root, "--adapter",
               f"{__name__}:FailsLater", "--batch-size", "4", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and not (tmp_path / "out").exists()
    assert "extract tracklets" in err and ": 8/" in err  # two batches were drawn
    assert err.endswith("\n") and err.splitlines()[-1].startswith("error: clips in FailsLater")


def test_validate_refuses_what_evaluate_refuses(synth_copy, features_for, tmp_path, capsys):
    root = synth_copy("dukev")
    ids = features_for(tmp_path / "f.npz", "dukev/v2v@1", root)
    z = np.load(tmp_path / "f.npz")
    cases = {"flat.npz": np.zeros((len(ids), 0), np.float32),
             "huge.npz": z["features"].astype(np.float64) * 1e200}
    for name, feats in cases.items():
        np.savez(tmp_path / name, ids=z["ids"], features=feats)
        for args in (["validate", str(tmp_path / name), "--protocol", "dukev/v2v@1", "--data",
                      root],
                     ["evaluate", "-p", "dukev/v2v@1", "--data", root, "--features",
                      str(tmp_path / name), "--out", str(tmp_path / f"out-{name}")]):
            assert main(args) == 2, (name, args[0])
            err = capsys.readouterr().err
            assert "D >= 1" in err or "row norms below" in err
        assert not (tmp_path / f"out-{name}").exists()


def test_a_split_where_every_query_is_skipped_is_refused(synth_copy, features_for, tmp_path):
    root = synth_copy("dukev")
    ds = load("dukev", root)
    queries = build_evalset(ds, get_protocol("dukev/v2v@1"), "official").query
    # a protocol that drops every query's identity from the gallery leaves no positive at all
    proto = Protocol("test/no-positives", 1, "t",
                     Evaluation(dataset="dukev", junk_pids=(),
                                drop_pids=tuple(sorted({q.pid for q in queries}))))
    es = build_evalset(ds, proto, "official")
    assert es.gallery and not {g.pid for g in es.gallery} & {q.pid for q in es.query}
    ids = es.ids()
    np.savez(tmp_path / "f.npz", ids=np.array(ids), features=np.eye(len(ids), 4))
    with pytest.raises(DataError, match=f"all {len(queries)} skipped"):
        evaluate(proto, root, FeaturesSource(str(tmp_path / "f.npz")), bootstrap=0)
