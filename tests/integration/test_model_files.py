"""`reidbench evaluate --model FILE`: ONNX and TorchScript networks, no submitter code run.

The reference numbers are computed here without the engine's model-file code: frames decoded,
normalised as the file declares, embedded directly with onnxruntime (or the TorchScript module),
pooled by hand, written as a features file and evaluated as one.
"""

import hashlib
import json
import warnings
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from reidbench.cli import main
from reidbench.datasets import load
from reidbench.datasets.decode import load_clip
from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine import FeaturesSource, build_evalset, evaluate, read_result
from reidbench.engine.extract import clip_plan
from reidbench.leaderboard.add import load_submissions
from reidbench.leaderboard.entries import evaluated_entry
from reidbench.protocols import Procedure, get_protocol

TINY = SynthConfig(height=32, width=16, min_len=3, max_len=7, median_len=5.0)
SIZE = (32, 16)
MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)
NORMALIZE = "0.5,0.4,0.3;0.25,0.2,0.3"


class TinyBNNeck(nn.Module):
    """A small BNNeck ResNet-like image re-ID net: stem, one residual block, GAP, BN neck."""

    def __init__(self, dim=12):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                   nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(8))
        self.proj = nn.Conv2d(8, dim, 1)
        self.neck = nn.BatchNorm1d(dim)

    def forward(self, x):
        h = self.stem(x)
        h = torch.relu(h + self.block(h))
        return self.neck(self.proj(h).mean(dim=(2, 3)))


class TinyClipNet(nn.Module):
    """Clips (B, T, 3, H, W) -> (B, D): frame features, mean and max over time."""

    def __init__(self):
        super().__init__()
        self.frames = TinyBNNeck()

    def forward(self, clips):
        b, t = clips.shape[0], clips.shape[1]
        f = self.frames(clips.reshape(b * t, 3, clips.shape[3], clips.shape[4])).reshape(b, t, -1)
        return f.mean(dim=1) + 0.5 * f.amax(dim=1)


def _net(cls, seed=0):
    torch.manual_seed(seed)
    net = cls()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def _meta(kind, seq_len=None, **extra):
    meta = {"reidbench.input": kind, "reidbench.input_size": f"{SIZE[0]},{SIZE[1]}",
            "reidbench.normalize": NORMALIZE, "reidbench.name": f"tiny-{kind}"}
    if seq_len:
        meta["reidbench.seq_len"] = str(seq_len)
    meta.update(extra)
    return meta


def export_onnx(net, example, path, meta, dynamic=True):
    axes = {"input": {0: "batch"}, "features": {0: "batch"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), str(path), dynamo=False, input_names=["input"],
                          output_names=["features"], dynamic_axes=axes, opset_version=17)
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, str(path))
    return path


def export_torchscript(net, example, path, meta):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(net, example)
    torch.jit.save(traced, str(path), _extra_files=meta)
    return path


@pytest.fixture(scope="module")
def mars(tmp_path_factory):
    return write_dataset("mars", tmp_path_factory.mktemp("m") / "MARS", ids=8, seed=6,
                         config=TINY).root


def _frames01(paths):
    """Frames (T, 3, H, W) on [0, 1], renormalised as the file declares."""
    x = load_clip(paths, SIZE, normalize=False).numpy()
    mean = np.array(MEAN, np.float32)[:, None, None]
    std = np.array(STD, np.float32)[:, None, None]
    return ((x - mean) / std).astype(np.float32)


def _by_hand(protocol, root, embed_clip, embed_image, seq_len):
    """Embeddings of every item of the protocol's split, pooled by hand, keyed by id."""
    proto = get_protocol(protocol)
    evalset = build_evalset(load("mars", root), proto, proto.evaluation.splits[0])
    proc = Procedure(sampling=proto.procedure.sampling, seq_len=seq_len, input_size=SIZE)
    rows = {}
    for item in dict.fromkeys(evalset.query + evalset.gallery):
        if item.kind == "image":
            rows[item.id] = embed_image(_frames01([item.frames[0]]))
            continue
        _, clips = clip_plan([item], proc)
        feats = np.stack([embed_clip(_frames01(clip)) for clip in clips])
        rows[item.id] = feats.mean(axis=0)
    ids = evalset.ids()
    return ids, np.stack([rows[i] for i in ids]).astype(np.float32)


def _torch_flops(net, shape):
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(shape))
    return counter.get_total_flops()


def _same_metrics(a, b):
    for key, cell in a["metrics"].items():
        assert cell["value"] == pytest.approx(b["metrics"][key]["value"], abs=1e-6), key
    for var, cells in a["metrics_by_variant"].items():
        for key, v in cells.items():
            assert v == pytest.approx(b["metrics_by_variant"][var][key], abs=1e-6), (var, key)


def _evaluate_cli(protocol, root, out, *args):
    return main(["evaluate", "-p", protocol, "--data", str(root), "--out", str(out),
                 "--bootstrap", "0", "--device", "cpu", *args])


@pytest.mark.parametrize("protocol", ["mars/v2v@1", "mars/i2v@1"])
def test_an_onnx_frame_model_equals_its_features_by_hand(protocol, mars, tmp_path, capsys):
    net = _net(TinyBNNeck)
    path = export_onnx(net, torch.randn(2, 3, *SIZE), tmp_path / "net.onnx", _meta("frame"))
    assert _evaluate_cli(protocol, mars, tmp_path / "out", "--model", str(path)) == 0, \
        capsys.readouterr().err
    got = read_result(tmp_path / "out").record.to_json()

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def frames(x):
        return sess.run(None, {"input": x})[0]

    seq_len = get_protocol(protocol).procedure.seq_len
    ids, feats = _by_hand(protocol, mars, lambda c: frames(c).mean(axis=0),
                          lambda im: frames(im)[0], seq_len)
    np.savez(tmp_path / "hand.npz", ids=np.array(ids), features=feats)
    want = evaluate(protocol, mars, FeaturesSource(str(tmp_path / "hand.npz")), bootstrap=0)
    _same_metrics(got, want.record.to_json())
    src = got["source"]
    assert src["kind"] == "model" and src["model"]["format"] == "onnx"
    assert src["model"]["runtime"] == "onnxruntime"
    assert src["model"]["runtime_version"] == ort.__version__
    assert src["model"]["metadata"]["reidbench.normalize"] == NORMALIZE
    assert src["model"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert src["adapter"]["checkpoint_sha256"] == src["model"]["sha256"]
    # the graph's convolutions and products, counted as torch counts the same network
    cost, t = src["adapter"]["cost"], seq_len
    assert cost["gflops_per_clip"] == pytest.approx(_torch_flops(net, (t, 3, *SIZE)) / 1e9)
    assert cost["clip_shape"] == [1, t, 3, *SIZE] and "onnx" in cost["flops_counter"]
    if protocol.endswith("i2v@1"):
        assert cost["gflops_per_image"] == pytest.approx(_torch_flops(net, (1, 3, *SIZE)) / 1e9)
    assert got["procedure"]["input_size"] == list(SIZE)
    # filed like any other result; the leaderboard shows the format beside the name
    boards = tmp_path / "leaderboards"
    assert main(["leaderboard", "add", str(tmp_path / "out"), "--leaderboards",
                 str(boards)]) == 0, capsys.readouterr().err
    (sub,) = load_submissions(boards)
    assert evaluated_entry(sub.record, sub.name).label == "tiny-frame [onnx]"


@pytest.mark.parametrize("protocol", ["mars/v2v@1", "mars/i2v@1"])
def test_a_torchscript_clip_model_equals_its_features_by_hand(protocol, mars, tmp_path, capsys):
    net = _net(TinyClipNet)
    seq_len = 4
    path = export_torchscript(net, torch.randn(2, seq_len, 3, *SIZE), tmp_path / "clip.pt",
                              _meta("clip", seq_len, **{"reidbench.train_dataset": "mars"}))
    assert _evaluate_cli(protocol, mars, tmp_path / "out", "--model", str(path)) == 0, \
        capsys.readouterr().err
    got = read_result(tmp_path / "out").record.to_json()
    module = torch.jit.load(str(path))

    def clip(x):
        with torch.inference_mode():
            return module(torch.from_numpy(x)[None]).numpy()[0]

    ids, feats = _by_hand(protocol, mars, clip, lambda im: clip(np.repeat(im, seq_len, 0)),
                          seq_len)
    np.savez(tmp_path / "hand.npz", ids=np.array(ids), features=feats)
    want = evaluate(protocol, mars, FeaturesSource(str(tmp_path / "hand.npz")), bootstrap=0)
    _same_metrics(got, want.record.to_json())
    assert got["source"]["model"]["format"] == "torchscript"
    assert got["source"]["model"]["runtime"] == "torch.jit"
    # a TorchScript file's convolutions are counted as an adapter's are: T frames per clip
    assert got["source"]["adapter"]["cost"]["gflops_per_clip"] > 0
    assert got["source"]["adapter"]["n_parameters"] == sum(p.numel() for p in net.parameters())
    assert got["source"]["train_dataset"] == "mars"
    assert got["procedure"]["seq_len"] == seq_len


def test_a_sidecar_supplies_and_overrides_metadata(mars, tmp_path, capsys):
    net = _net(TinyBNNeck)
    meta = _meta("frame")
    meta.pop("reidbench.name")
    path = export_onnx(net, torch.randn(2, 3, *SIZE), tmp_path / "net.onnx", meta)
    (tmp_path / "net.onnx.json").write_text(json.dumps({"reidbench.name": "from-sidecar"}))
    assert _evaluate_cli("mars/v2v@1", mars, tmp_path / "out", "--model", str(path)) == 0, \
        capsys.readouterr().err
    record = read_result(tmp_path / "out").record.to_json()
    assert record["source"]["adapter"]["name"] == "from-sidecar"


# ---- bad input: one line each, non-zero exit, nothing written ----

def _external_outside(tmp_path):
    path = export_onnx(_net(TinyBNNeck), torch.randn(2, 3, *SIZE), tmp_path / "ext.onnx",
                       _meta("frame"))
    model = onnx.load(str(path))
    t = model.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    onnx.save(model, str(path))
    return path


def _external_link(tmp_path):
    """External data named inside the folder, but through a link that resolves outside it."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside.bin"
    outside.write_bytes(b"\0" * 4096)
    path = _external_outside(tmp_path)
    (tmp_path / "weights.bin").symlink_to(outside)
    model = onnx.load(str(path), load_external_data=False)
    model.graph.initializer[0].external_data[0].value = "weights.bin"
    onnx.save(model, str(path))
    return path


def _custom_domain(tmp_path):
    path = export_onnx(_net(TinyBNNeck), torch.randn(2, 3, *SIZE), tmp_path / "dom.onnx",
                       _meta("frame"))
    model = onnx.load(str(path))
    last = model.graph.output[0].name
    model.graph.node[-1].output[0] = "pre"
    model.graph.node.append(onnx.helper.make_node("Run", ["pre"], [last], domain="evil.ops"))
    model.opset_import.append(onnx.helper.make_opsetid("evil.ops", 1))
    onnx.save(model, str(path))
    return path


class _NaN(nn.Module):
    def forward(self, x):
        return torch.log(x.mean(dim=(2, 3)) - 100.0)


class _Spatial(nn.Module):
    def forward(self, x):
        return x[:, :, ::4, ::4]


def _torch_global(tmp_path):
    path = export_torchscript(_net(TinyBNNeck), torch.randn(2, 3, *SIZE), tmp_path / "g.pt",
                              _meta("frame"))
    import pickle

    evil = pickle.dumps(print, protocol=2)  # names builtins.print: a Python global
    with zipfile.ZipFile(path) as zin:
        members = [(i, zin.read(i)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for info, data in members:
            zout.writestr(info, evil if info.filename.endswith("constants.pkl") else data)
    return path


def _setstate(tmp_path):
    path = export_torchscript(_net(TinyBNNeck), torch.randn(2, 3, *SIZE), tmp_path / "s.pt",
                              _meta("frame"))
    with zipfile.ZipFile(path) as zin:
        members = [(i, zin.read(i)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for info, data in members:
            if info.filename.endswith(".py") and b"class TinyBNNeck" in data:
                data += b"\n  def __setstate__(self, state: Tuple[bool]) -> None:\n    pass\n"
            zout.writestr(info, data)
    return path


def _pt2(tmp_path):
    path = tmp_path / "m.pt2"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("m/archive_format", "pt2")
        z.writestr("m/data/constants/c.pt", b"\x80\x02")
    return path


def _garbage(tmp_path):
    path = tmp_path / "x.onnx"
    path.write_bytes(b"\x00not a model\xff" * 40)
    return path


BAD = {
    "missing metadata": (lambda p: export_onnx(
        _net(TinyBNNeck), torch.randn(2, 3, *SIZE), p / "m.onnx",
        {k: v for k, v in _meta("frame").items() if k != "reidbench.input"}),
        "metadata 'reidbench.input'"),
    "wrong input rank": (lambda p: export_onnx(
        _net(TinyClipNet), torch.randn(2, 4, 3, *SIZE), p / "r.onnx", _meta("frame")),
        "rank 4"),
    "fixed batch axis": (lambda p: export_onnx(
        _net(TinyBNNeck), torch.randn(2, 3, *SIZE), p / "b.onnx", _meta("frame"),
        dynamic=False), "dynamic_axes"),
    "output not (N, D)": (lambda p: export_onnx(
        _Spatial(), torch.randn(2, 3, *SIZE), p / "o.onnx", _meta("frame")), "features (N, D)"),
    "NaN output": (lambda p: export_onnx(
        _NaN(), torch.randn(2, 3, *SIZE), p / "n.onnx", _meta("frame")), "NaN"),
    "external data outside the folder": (_external_outside, "inside the model's folder"),
    "external data through a link leaving the folder": (_external_link,
                                                        "inside the model's folder"),
    "unknown operator domain": (_custom_domain, "domain 'evil.ops'"),
    "neither format": (_garbage, "neither"),
    "TorchScript pickle naming a Python global": (_torch_global,
                                                  "print (refused, never unpickled)"),
    "TorchScript code running at load": (_setstate, "__setstate__"),
    "torch.export archive": (_pt2, "torch.export archive (.pt2), refused"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_model_files_are_one_line_and_write_nothing(case, mars, tmp_path, capsys):
    make, needle = BAD[case]
    path = make(tmp_path)
    capsys.readouterr()
    rc = _evaluate_cli("mars/v2v@1", mars, tmp_path / "out", "--model", str(path))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_query_model_embeds_the_i2v_queries(mars, tmp_path, capsys):
    """Two networks (--query-model): gallery tracklets by one file, query images by the other."""
    gallery = export_onnx(_net(TinyBNNeck, seed=0), torch.randn(2, 3, *SIZE),
                          tmp_path / "video.onnx", _meta("frame"))
    query = export_onnx(_net(TinyBNNeck, seed=1), torch.randn(2, 3, *SIZE),
                        tmp_path / "image.onnx", _meta("frame", **{"reidbench.name": "img"}))
    assert _evaluate_cli("mars/i2v@1", mars, tmp_path / "out", "--model", str(gallery),
                         "--query-model", str(query)) == 0, capsys.readouterr().err
    got = read_result(tmp_path / "out").record.to_json()
    sess_g, sess_q = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
                      for p in (gallery, query))
    ids, feats = _by_hand("mars/i2v@1", mars,
                          lambda c: sess_g.run(None, {"input": c})[0].mean(axis=0),
                          lambda im: sess_q.run(None, {"input": im})[0][0],
                          get_protocol("mars/i2v@1").procedure.seq_len)
    np.savez(tmp_path / "hand.npz", ids=np.array(ids), features=feats)
    want = evaluate("mars/i2v@1", mars, FeaturesSource(str(tmp_path / "hand.npz")), bootstrap=0)
    _same_metrics(got, want.record.to_json())
    assert got["source"]["model"]["query_model"]["sha256"] != got["source"]["model"]["sha256"]
    # V2V has no query images: a query model there is refused in one line, nothing written
    capsys.readouterr()
    rc = _evaluate_cli("mars/v2v@1", mars, tmp_path / "v2v", "--model", str(gallery),
                       "--query-model", str(query))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "I2V" in err[0] and not (tmp_path / "v2v").exists()


def test_multi_split_protocols_take_one_file_per_split(tmp_path, capsys):
    """A {split} template picks each split's file; a single file is refused in one line."""
    root = write_dataset("ilidsvid", tmp_path / "ilids", ids=8, seed=4, config=TINY).root
    models = tmp_path / "models"
    models.mkdir()
    export_onnx(_net(TinyBNNeck), torch.randn(2, 3, *SIZE), models / "split3.onnx",
                _meta("frame"))
    rc = _evaluate_cli("ilidsvid/v2v@1", root, tmp_path / "out", "--model",
                       str(models / "{split}.onnx"), "--split", "3")
    assert rc == 0, capsys.readouterr().err
    record = read_result(tmp_path / "out").record.to_json()
    assert [s["split"] for s in record["splits"]] == ["split3"]
    capsys.readouterr()
    rc = _evaluate_cli("ilidsvid/v2v@1", root, tmp_path / "one", "--model",
                       str(models / "split3.onnx"), "--split", "3")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "one model per split" in err[0]
    assert not (tmp_path / "one").exists()


class _NoNorm(nn.Module):
    """Convolution, pooling, a linear layer: nothing the exporter folds away."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 6)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def test_an_onnx_file_counts_its_parameters(tmp_path):
    from reidbench.adapters.modelfile import open_model_file

    net = _net(_NoNorm)
    path = export_onnx(net, torch.randn(2, 3, *SIZE), tmp_path / "n.onnx", _meta("frame"))
    assert open_model_file(path).adapter().n_parameters() == sum(
        p.numel() for p in net.parameters()) == 4 * 3 * 9 + 4 + 4 * 6 + 6
    # eval-mode BatchNorm after a convolution is folded into it (the convolution gains a bias);
    # the neck's BatchNorm1d stays, with its running statistics: counted as the file stores them
    path = export_onnx(_net(TinyBNNeck), torch.randn(2, 3, *SIZE), tmp_path / "b.onnx",
                       _meta("frame"))
    convs = (8 * 3 * 9 + 8) + 2 * (8 * 8 * 9 + 8) + (8 * 12 + 12)
    assert open_model_file(path).adapter().n_parameters() == convs + 4 * 12
