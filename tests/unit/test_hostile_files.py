"""Files built to lie or to exhaust memory: one ReidbenchError each, decided before reading.

Families: checkpoint metadata that lies (every field typed and bounded), .npz members whose .npy
header declares a huge shape, .npz zip bombs, torch zips whose pickle inflates, JSON nested deeply.
Each test generates variants rather than one exact input. A hypothesis fuzz test over the
features-file and checkpoint-metadata readers asserts "a result or one ReidbenchError", never
another exception.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reidbench.adapters import load_checkpoint, load_features_file, read_checkpoint_meta
from reidbench.adapters.checkpoint import save_checkpoint
from reidbench.adapters.meta import INPUT_SIZE_RANGE, check_meta_fields
from reidbench.errors import CheckpointError, DataError, ReidbenchError
from reidbench.fileio import NpzError, json_depth, loads_bounded, read_npz_bounded


def _torch():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------- metadata that lies
BAD_SIZES = [[100000, 100000], [1, 1], [0, 0], [-5, 128], [256], [256, 128, 3], ["256", "128"],
             [256.0, 128.0], [True, True], "256x128", {"h": 256}, [2**40, 128],
             [INPUT_SIZE_RANGE[1] + 1, 128], [INPUT_SIZE_RANGE[0] - 1, 64]]
BAD_CONFIGS = [{"seq_len": "six"}, {"seq_len": 0}, {"seq_len": 10**6}, {"seq_len": 6.5},
               {"seq_len": None, "input_size": [1, 1]}, {"input_size": [100000, 100000]},
               {"M": 10**12}, {"backbone": "x" * 5000}, {"cosam_stages": list(range(1000))}]


@pytest.mark.parametrize("size", BAD_SIZES)
def test_input_size_out_of_bounds_is_one_checkpoint_error(tmp_path, size):
    torch = _torch()
    p = tmp_path / "m.safetensors"
    save_checkpoint(p, {"w": torch.ones(2)}, {"baseline": "stmn", "input_size": size})
    with pytest.raises(CheckpointError, match="input_size") as exc:
        read_checkpoint_meta(p)
    assert "\n" not in str(exc.value)
    with pytest.raises(CheckpointError, match="input_size"):
        load_checkpoint(p)


@pytest.mark.parametrize("config", BAD_CONFIGS)
def test_config_fields_typed_and_bounded(tmp_path, config):
    torch = _torch()
    p = tmp_path / "m.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "meta": {"baseline": "stmn",
                                                            "config": config}}, p)
    with pytest.raises(CheckpointError, match="config"):
        load_checkpoint(p)


def test_good_metadata_passes_unchanged():
    meta = {"baseline": "stmn", "input_size": [256, 128], "epoch": 3, "split": "split0",
            "config": {"seq_len": 6, "M": 10, "backbone": "small", "cosam_stages": [4, 5],
                       "alpha": 0.3, "pretrained": None}}
    assert check_meta_fields(meta, "x") == meta


def test_another_baselines_checkpoint_names_its_owner(tmp_path):
    torch = _torch()
    from reidbench.engine import AdapterSource
    from reidbench.protocols import get_protocol

    p = tmp_path / "cosam.safetensors"
    save_checkpoint(p, {"w": torch.ones(2)}, {"baseline": "cosam",
                                              "config": {"cosam_stages": [4, 5],
                                                         "attention": "both"}})
    src = AdapterSource("stmn", str(p))
    with pytest.raises(CheckpointError, match="weights of 'cosam'"):
        src.prepare(get_protocol("mars/v2v@1"), ["official"])


@pytest.mark.parametrize("value", ["six", "6", 6.5, [6], {"n": 6}])
def test_stored_option_of_the_wrong_type_is_a_checkpoint_error(tmp_path, value):
    torch = _torch()
    from reidbench.engine import AdapterSource
    from reidbench.protocols import get_protocol

    p = tmp_path / "stmn.safetensors"
    # seq_len is bounded up front; M of the wrong type reaches STMNConfig and is refused there
    save_checkpoint(p, {"w": torch.ones(2)}, {"baseline": "stmn",
                                              "config": {"backbone": "small", "M": value}})
    with pytest.raises(ReidbenchError) as exc:
        AdapterSource("stmn", str(p)).prepare(get_protocol("mars/v2v@1"), ["official"])
    assert "\n" not in str(exc.value) and str(p) in str(exc.value)


# ----------------------------------------------------------------------------- .npz bombs
def _npz_with_header(path: Path, name: str, shape: tuple[int, ...], dtype: str = "<f4",
                     payload: int = 64) -> Path:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ids.npy", _npy(np.array(["a", "b"])))
        z.writestr(f"{name}.npy", buf.getvalue() + b"\0" * payload)
    return path


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


@pytest.mark.parametrize("shape", [(28, 2**40), (2**31, 2**31), (2, 2**33), (2**62,),
                                   (2, 70000), (3, 4, 2**40)])
def test_npy_header_declaring_a_huge_shape_refused_before_reading(tmp_path, shape):
    p = _npz_with_header(tmp_path / "f.npz", "features", shape)
    with pytest.raises(DataError) as exc:
        load_features_file(p)
    assert "\n" not in str(exc.value)


def test_more_rows_than_the_protocol_has_refused_from_the_header(tmp_path):
    p = tmp_path / "f.npz"
    np.savez(p, ids=np.array([f"i{k}" for k in range(50)]), features=np.ones((50, 4)))
    assert load_features_file(p, expected_n=50).features.shape == (50, 4)
    with pytest.raises(DataError, match="50 rows|50 ids"):
        load_features_file(p, expected_n=10)


@pytest.mark.parametrize("megabytes", [40, 64])
def test_zip_bomb_refused_from_the_declared_size(tmp_path, monkeypatch, megabytes):
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("ids.npy", _npy(np.array(["a"])))
        header = io.BytesIO()
        n = megabytes * (1 << 20) // 8
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (1, n)})
        with z.open("features.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            block = b"\0" * (8 << 20)
            for _ in range(megabytes // 8 + 1):
                member.write(block)
    assert p.stat().st_size < 1 << 20
    with pytest.raises(NpzError, match="inflating"):
        read_npz_bounded(p, max_array_bytes=32 << 20)
    from reidbench.adapters import features
    from reidbench.records import files as results

    monkeypatch.setattr(results, "MAX_PER_QUERY_BYTES", 32 << 20)
    monkeypatch.setattr(features, "MAX_ARRAY_BYTES", 32 << 20)
    with pytest.raises(DataError, match="inflating"):
        results.load_per_query(p)
    with pytest.raises(DataError, match="inflating"):
        load_features_file(p)


def test_member_shorter_than_its_header_says_is_truncated(tmp_path):
    p = tmp_path / "t.npz"
    data = _npy(np.ones((4, 4)))
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("features.npy", data[:-40])
    with pytest.raises(NpzError):
        read_npz_bounded(p)


def test_bounded_reader_equals_numpy_on_plain_archives(tmp_path):
    p = tmp_path / "ok.npz"
    arrays = {"a": np.arange(12, dtype=np.int32).reshape(3, 4), "b": np.array(["x", "yy"]),
              "c": np.asfortranarray(np.random.default_rng(0).normal(size=(5, 3))),
              "d": np.array([True, False]), "e": np.zeros((0, 4))}
    np.savez_compressed(p, **arrays)
    got = read_npz_bounded(p)
    for k, v in arrays.items():
        assert np.array_equal(got[k], v) and got[k].dtype == v.dtype
    got["a"][0, 0] = 99  # writable, as np.load's arrays are


# ----------------------------------------------------------------------------- torch pickle bomb
def test_torch_zip_whose_pickle_inflates_is_refused_fast(tmp_path):
    torch = _torch()
    ok = tmp_path / "ok.pt"
    torch.save({"w": torch.ones(3)}, ok)
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(ok) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED,
                                                     compresslevel=1) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                with z.open(info.filename, "w", force_zip64=True) as member:
                    member.write(data)
                    for _ in range(9):
                        member.write(b"\0" * (8 << 20))
            else:
                z.writestr(info, data)
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(CheckpointError, match="inflating"):
        load_checkpoint(bomb)


# ----------------------------------------------------------------------------- nested JSON
@pytest.mark.parametrize("depth", [65, 1000, 200_000])
def test_deeply_nested_json_refused_without_recursion(tmp_path, depth):
    text = "[" * depth + "]" * depth
    assert json_depth(text) == 65
    with pytest.raises(ValueError, match="nested deeper"):
        loads_bounded(text)
    d = tmp_path / "res"
    d.mkdir()
    (d / "results.json").write_text('{"schema": "reidbench.result/1", "x": ' + text + "}")
    from reidbench.cli import main

    assert main(["validate", str(d)]) == 2
    assert main(["leaderboard", "add", str(d), "--leaderboards", str(tmp_path / "lb")]) == 2
    assert main(["compare", str(d), str(d)]) == 2
    lb = tmp_path / "board.json"
    lb.write_text('{"schema": "reidbench.leaderboard/1", "records": ' + text + "}")
    assert main(["validate", str(lb)]) == 2


def test_json_depth_ignores_brackets_in_strings():
    assert json_depth(json.dumps({"a": "[[[{{{", "b": ["\\\"[", {"c": 1}]})) == 3
    assert json_depth(json.dumps([[[]]])) == 3


def test_checkpoint_metadata_nested_deeply_is_one_error(tmp_path):
    torch = _torch()
    from safetensors.torch import save_file

    p = tmp_path / "deep.safetensors"
    save_file({"w": torch.ones(2)}, str(p),
              metadata={"reidbench_meta": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(CheckpointError, match="nested deeper"):
        read_checkpoint_meta(p)


# ----------------------------------------------------------------------------- fuzz
_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                       st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
_json = st.recursive(_json_leaf, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)), max_leaves=12)
_meta = st.one_of(_json, st.fixed_dictionaries({}, optional={
    "baseline": _json, "input_size": _json, "epoch": _json, "split": _json,
    "config": st.one_of(_json, st.dictionaries(st.sampled_from(
        ["seq_len", "input_size", "M", "backbone", "alpha"]), _json, max_size=4))}))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=_meta)
def test_fuzz_checkpoint_metadata_reader(tmp_path, meta):
    torch = _torch()
    from safetensors.torch import save_file

    p = tmp_path / "fuzz.safetensors"
    try:
        text = json.dumps(meta)
    except ValueError:
        text = str(meta)
    save_file({"w": torch.ones(1)}, str(p), metadata={"reidbench_meta": text})
    pt = tmp_path / "fuzz.pt"  # the same metadata as a torch.save dict (read weights_only)
    torch.save({"state_dict": {"w": torch.ones(1)}, "meta": meta}, pt)
    for path in (p, pt):
        try:
            got = read_checkpoint_meta(path)
        except ReidbenchError as exc:
            assert "\n" not in str(exc)
        else:
            assert isinstance(got, dict)


_arrays = st.dictionaries(
    st.sampled_from(["ids", "features", "x"]),
    st.one_of(
        st.builds(lambda n, d: np.ones((n, d), np.float32), st.integers(0, 4), st.integers(0, 4)),
        st.builds(lambda n: np.array([f"i{k % 3}" for k in range(n)]), st.integers(0, 5)),
        st.builds(lambda v: np.full((2, 2), v), st.floats(allow_nan=True, allow_infinity=True)),
        st.just(np.zeros(3, dtype=np.complex64)), st.just(np.array(5))),
    max_size=3)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrays=_arrays, cut=st.one_of(st.none(), st.integers(0, 400)),
       flip=st.one_of(st.none(), st.integers(0, 400)))
def test_fuzz_features_file_reader(tmp_path, arrays, cut, flip):
    p = tmp_path / "fuzz.npz"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = bytearray(buf.getvalue())
    if flip is not None and data:
        data[flip % len(data)] ^= 0xFF
    if cut is not None:
        data = data[: cut * len(data) // 400]
    p.write_bytes(bytes(data))
    try:
        ff = load_features_file(p)
    except ReidbenchError as exc:
        assert "\n" not in str(exc)
    else:
        assert ff.features.ndim == 2 and len(ff.ids) == ff.features.shape[0]


_pq_value = st.sampled_from([
    np.array([]), np.array(["a", "b", "c"]), np.array([1.5, np.nan, np.inf]), np.ones((3, 2)),
    np.array([True, False, True]), np.array([2**40, -5, 0]), np.array(5),
    np.zeros(3, np.complex64), np.array([1, 2, 3, 4]), np.array([0.2, 0.3, 0.4], np.float16)])
_rec_value = st.one_of(st.none(), st.integers(-2, 2**70), st.floats(), st.text(max_size=4),
                       st.lists(st.integers(0, 3), max_size=3), st.just({}))


_PQ_KEYS = ["official/" + k for k in ("ap", "ap_noninterp", "counted", "first_rank", "inp",
                                      "query_ids", "gallery_ids", "topk_index", "query_pids")]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(_PQ_KEYS), st.one_of(_pq_value, st.none())),
                      max_size=3),
       rec_edits=st.lists(st.tuples(st.integers(0, 10**6), _rec_value), max_size=2))
@example(edits=[("official/ap_noninterp", np.array([1, 2, 3, 4]))], rec_edits=[])
@example(edits=[("official/query_ids", None)], rec_edits=[])
@example(edits=[("official/gallery_ids", np.array(5))], rec_edits=[])
def test_fuzz_result_record_checks(tmp_path_factory, edits, rec_edits):
    """validate and compare on a mangled record: a report or one ReidbenchError, nothing else."""
    import hashlib

    from test_report_fixtures import write_result

    from reidbench.engine.compare import compare_results
    from reidbench.leaderboard.validate import validate_file

    base = tmp_path_factory.mktemp("fuzz")
    good = write_result(base / "good")
    bad = write_result(base / "bad")
    with np.load(bad / "per_query.npz") as z:
        arrays = {k: z[k] for k in z.files}
    for key, value in edits:
        if value is None:
            arrays.pop(key, None)
        else:
            arrays[key] = value
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (bad / "per_query.npz").write_bytes(buf.getvalue())
    rec = json.loads((bad / "results.json").read_text())
    rec["per_query_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    leaves = [("metrics", "mAP", "value"), ("splits", 0, "n_queries"), ("splits", 0, "cmc"),
              ("n_skipped",), ("metrics_by_variant", "noninterp", "rank1"),
              ("splits", 0, "split"), ("headline_ap",)]
    for i, value in rec_edits:
        *path, last = leaves[i % len(leaves)]
        holder = rec
        for k in path:
            holder = holder[k]
        holder[last] = value
    (bad / "results.json").write_text(json.dumps(rec))
    for run in (lambda: validate_file(bad), lambda: compare_results(good, bad),
                lambda: compare_results(bad, good)):
        try:
            run()
        except ReidbenchError as exc:
            assert "\n" not in str(exc)


def test_deeply_nested_sweep_record_is_one_line(tmp_path):
    from reidbench.records.sweep import read_sweep

    p = tmp_path / "sweep.json"
    p.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(DataError, match="nested deeper"):
        read_sweep(p)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["pt", "safetensors"]), cut=st.one_of(st.none(), st.integers(0, 400)),
       flips=st.lists(st.integers(0, 10**6), max_size=3))
def test_fuzz_damaged_checkpoint_files(tmp_path, fmt, cut, flips):
    """A valid checkpoint cut short or with bytes flipped: a checkpoint or one CheckpointError."""
    torch = _torch()
    p = tmp_path / f"ok.{fmt}"
    meta = {"baseline": "stmn", "config": {"seq_len": 6}, "input_size": [256, 128]}
    if fmt == "pt":
        torch.save({"state_dict": {"w": torch.arange(6.0)}, "meta": meta}, p)
    else:
        save_checkpoint(p, {"w": torch.arange(6.0)}, meta)
    data = bytearray(p.read_bytes())
    for f in flips:
        data[f % len(data)] ^= 0x5A
    if cut is not None:
        data = data[: cut * len(data) // 400]
    bad = tmp_path / f"bad.{fmt}"
    bad.write_bytes(bytes(data))
    try:
        ckpt = load_checkpoint(bad)
    except ReidbenchError as exc:
        assert "\n" not in str(exc)
    else:
        assert ckpt.state_dict and isinstance(ckpt.meta, dict)


@pytest.mark.parametrize("option,value", [("M", 900_000), ("N", 500_000), ("width", 4096)])
def test_stored_options_building_a_model_far_larger_than_the_checkpoint_refused(
        tmp_path, option, value):
    torch = _torch()
    from reidbench.adapters import get_adapter
    from reidbench.engine import AdapterSource
    from reidbench.protocols import get_protocol

    stmn = get_adapter("stmn", backbone="small", width=4)
    p = tmp_path / "stmn.safetensors"
    save_checkpoint(p, stmn.model.state_dict(),
                    {"baseline": "stmn", "config": {**stmn.config, option: value}})
    with pytest.raises(CheckpointError, match="bytes of weights"):
        AdapterSource("stmn", str(p)).prepare(get_protocol("mars/v2v@1"), ["official"])
    assert torch.ones(1).device.type == "cpu"  # the meta-device build left no trace
