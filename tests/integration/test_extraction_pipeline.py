"""The extraction pipeline (uint8 in workers, normalised on the device) against a plain reference.

The reference is the straightforward loop: every clip decoded to float32 and normalised on the host
(``load_clip``), embedded alone, clip features mean-pooled per tracklet.
"""

import numpy as np
import pytest
import torch

from reidbench.adapters import AdapterCard, ModuleAdapter
from reidbench.cli import main
from reidbench.datasets import load
from reidbench.datasets.decode import Uint8ClipDataset, collate_uint8, load_clip, normalize_clips
from reidbench.engine import AdapterSource, evaluate
from reidbench.engine.evalset import EvalItem
from reidbench.engine.extract import clip_plan, extract_features
from reidbench.engine.pipeline import resolve_workers
from reidbench.errors import DataError, InputError
from reidbench.protocols import Procedure

SIZE = (32, 16)


class TinyConv(ModuleAdapter):
    """Two convolutions per frame, averaged over space and the clip."""

    card = AdapterCard(name="tinyconv", modes=("v2v", "i2v"), input_size=SIZE)

    def __init__(self):
        torch.manual_seed(0)
        super().__init__(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1),
                                             torch.nn.ReLU(), torch.nn.Conv2d(8, 6, 3)))

    def forward_features(self, clips):
        b, t = clips.shape[:2]
        return self.model(clips.flatten(0, 1)).mean(dim=(2, 3)).view(b, t, -1).mean(dim=1)

    def procedure(self, default):
        return default.override(input_size=SIZE, seq_len=2)


TINY_CONV = f"{__name__}:TinyConv"


@pytest.fixture(scope="module")
def mars(synth_copy):
    return synth_copy("mars")


@pytest.fixture(scope="module")
def items(mars):
    ds = load("mars", mars)
    return [EvalItem(t.id, t.pid, t.camid, t.frames) for t in ds.tracklets[:12]]


def _reference(adapter, items, proc):
    owner, clips = clip_plan(items, proc)
    with torch.inference_mode():
        rows = [adapter.forward_features(load_clip(c, proc.input_size)[None]).numpy()[0]
                for c in clips]
    rows = np.stack(rows)
    return np.stack([rows[owner == i].mean(axis=0) for i in range(len(items))])


def test_device_normalisation_equals_host_normalisation_bit_for_bit(items):
    clips = [items[0].frames[:3], items[1].frames[:3]]
    batch = collate_uint8([Uint8ClipDataset(clips, SIZE)[i] for i in range(2)])
    assert batch.dtype == torch.uint8 and batch.shape == (2, 3, *SIZE, 3)
    host = torch.stack([load_clip(c, SIZE) for c in clips])
    assert torch.equal(normalize_clips(batch), host)
    view = normalize_clips(batch, contiguous=False)  # the GPU layout: same values
    assert torch.equal(view, host)
    assert view.flatten(0, 1).is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("sampling", ["all_clips", "rrs"])
def test_pipeline_features_equal_the_reference(items, workers, sampling):
    proc = Procedure(sampling=sampling, seq_len=2, input_size=SIZE)
    adapter = TinyConv().eval()
    feats, info = extract_features(adapter, items, procedure=proc, batch_size=5,
                                   num_workers=workers)
    np.testing.assert_allclose(feats, _reference(adapter, items, proc), rtol=1e-5, atol=1e-6)
    pipe = info["pipeline"]
    assert pipe["workers"] == workers and pipe["workers_requested"] == workers
    assert pipe["batch_dtype"] == "uint8"
    assert not pipe["pin_memory"] and not pipe["channels_last"] and pipe["autocast"] is None


def test_auto_workers_by_cores_and_job_size(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert resolve_workers("auto", 100, "cpu", cores=2) == 0  # tiny job: no start-up cost
    assert resolve_workers("auto", 50_000, "cpu", cores=2) == 1
    assert resolve_workers("auto", 50_000, "cpu", cores=1) == 1
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # torch's idle threads sleep
    assert resolve_workers("auto", 50_000, "cpu", cores=2) == 2
    assert resolve_workers("auto", 50_000, "cpu", cores=64) == 16
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")  # torchrun: 8 processes share the node's cores
    monkeypatch.setattr("reidbench.engine.pipeline.available_cores", lambda: 64)
    assert resolve_workers("auto", 50_000, "cuda") == 7
    assert resolve_workers("auto", 50_000, "cuda", cores=16) == 15
    assert resolve_workers("auto", 10**6, "cuda", cores=64) == 16
    assert resolve_workers(3, 10, "cpu") == 3
    for bad in (-1, 1.5, True, "four"):
        with pytest.raises(InputError, match="workers"):
            resolve_workers(bad, 10, "cpu")


def test_result_records_the_pipeline(mars, tmp_path):
    source = AdapterSource(TINY_CONV, device="cpu", num_workers=1)
    result = evaluate("mars/v2v@1", mars, source, bootstrap=0)
    extraction = result.record.splits[0].source["extraction"]["tracklets"]
    assert extraction["pipeline"]["workers"] == 1
    assert extraction["pipeline"]["device"] == "cpu"
    assert result.record.config["num_workers"] == 1
    auto = evaluate("mars/v2v@1", mars, AdapterSource(TINY_CONV, device="cpu"), bootstrap=0)
    pipe = auto.record.splits[0].source["extraction"]["tracklets"]["pipeline"]
    assert pipe["workers_requested"] == "auto" and pipe["workers"] == 0  # a tiny copy
    assert auto.record.metrics == result.record.metrics


def test_cli_workers_are_recorded_in_the_result(mars, tmp_path, capsys):
    from reidbench.engine import read_result

    code = main(["evaluate", "-p", "mars/v2v@1", "--data", str(mars), "--adapter", TINY_CONV,
                 "--device", "cpu", "--workers", "1", "--bootstrap", "0",
                 "--out", str(tmp_path / "res")])
    assert code == 0, capsys.readouterr().err
    record = read_result(tmp_path / "res").record
    assert record.config["num_workers"] == 1
    pipe = record.splits[0].source["extraction"]["tracklets"]["pipeline"]
    assert pipe["workers"] == 1 and pipe["workers_requested"] == 1


@pytest.fixture()
def corrupt(mars, tmp_path):
    """A copy of the tiny MARS whose one frame is truncated garbage."""
    import shutil

    root = tmp_path / "MARS"
    shutil.copytree(mars, root)
    ds = load("mars", root)
    victim = ds.tracklets[len(ds.tracklets) // 2].frames[1]
    with open(victim, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    return root, victim


@pytest.mark.parametrize("workers", [0, 2])
def test_a_corrupt_frame_is_one_line_from_a_worker_too(corrupt, workers):
    root, victim = corrupt
    source = AdapterSource(TINY_CONV, device="cpu", num_workers=workers)
    with pytest.raises(DataError) as err:
        evaluate("mars/v2v@1", root, source, bootstrap=0)
    msg = str(err.value)
    assert "\n" not in msg and "Traceback" not in msg and "worker" not in msg
    assert msg.startswith(f"frame in {victim}: expected a decodable image")


def test_an_error_raised_in_a_worker_outside_an_item_is_one_line_too(items, monkeypatch):
    from reidbench.datasets import decode
    from reidbench.engine.pipeline import Pipeline, device_batches

    def collate(batch):
        raise InputError("clips in collate: expected one shape, got two. Use one seq_len.")

    monkeypatch.setattr(decode, "collate_uint8", collate)  # the forked workers inherit it
    pipe = Pipeline("cpu", 2, 2, 1, False, False, None)
    with pytest.raises(InputError) as err:
        list(device_batches([items[0].frames[:2]] * 4, SIZE, 2, pipe))
    assert str(err.value) == "clips in collate: expected one shape, got two. Use one seq_len."


def test_a_decompression_bomb_frame_is_one_line_in_evaluate(corrupt):
    import struct
    import zlib

    root, victim = corrupt

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", 15000, 15000, 8, 2, 0, 0, 0)
    with open(victim, "wb") as f:  # a 15000 x 15000 PNG header behind a .jpg name
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
                + chunk(b"IEND", b""))
    with pytest.raises(DataError) as err:
        evaluate("mars/v2v@1", root, AdapterSource(TINY_CONV, device="cpu", num_workers=2),
                 bootstrap=0)
    assert str(err.value).startswith(f"frame in {victim}: expected an image of at most")
    assert "\n" not in str(err.value)


def test_cli_worker_error_is_one_line(corrupt, tmp_path, capsys):
    root, victim = corrupt
    code = main(["evaluate", "-p", "mars/v2v@1", "--data", str(root), "--adapter", TINY_CONV,
                 "--device", "cpu", "--workers", "2", "--out", str(tmp_path / "res")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len([line for line in err if "frame in" in line]) == 1
    assert victim in err[-1] and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("bad", ["-1", "x", "1.5"])
def test_cli_workers_must_be_auto_or_a_count(mars, tmp_path, capsys, bad):
    code = main(["evaluate", "-p", "mars/v2v@1", "--data", str(mars), "--adapter", TINY_CONV,
                 "--workers", bad, "--out", str(tmp_path / "res")])
    assert code == 2 and "--workers" in capsys.readouterr().err
