"""``.npy`` headers that numpy parses but cannot build an array from: one error, never a crash.

numpy's header parser accepts negative dimensions, more than 64 of them, a dimension beyond
what an index holds beside a 0, zero-sized and structured types, and raw UCS-4 text holding
values that are no Unicode code point. Every reader of untrusted ``.npz`` files (features files,
``per_query.npz``, ``metrics parity --distmat``) must refuse them in one line. The headers here are
generated, not fixed: shapes, types and payloads drawn by hypothesis.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reidbench.adapters import load_features_file
from reidbench.errors import DataError, ReidbenchError
from reidbench.fileio import NpzError, read_npz_bounded

_dims = st.one_of(st.integers(-3, 5), st.integers(2**31, 2**70), st.just(0),
                  st.integers(-(2**70), -(2**31)))
_shapes = st.one_of(st.lists(_dims, max_size=4).map(tuple),
                    st.integers(33, 80).map(lambda n: (1,) * n),
                    st.integers(33, 80).map(lambda n: (0,) * n))
_descrs = st.sampled_from(["<f4", "<f8", ">f8", "<i8", "|u1", "<U0", "|S0", "<U1", "<U3", "|b1",
                           "|V0", "<c8", [("a", "<f4"), ("b", "<f4")], [("a", "<f4", (3,))],
                           [("s", "<U2")]])


def _member(descr, shape, payload: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue() + payload


def _write(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(descr=_descrs, shape=_shapes, payload=st.binary(max_size=96),
       member=st.sampled_from(["ids", "features", "distmat", "query_pids"]))
@example(descr="<f4", shape=(-1, 4), payload=b"\0" * 64, member="features")
@example(descr="<f4", shape=(0, 2**63), payload=b"", member="features")
# nothing in it, but numpy cannot shape it (found by this test in CI)
@example(descr="<f4", shape=(0, 2**31, 2**31), payload=b"", member="ids")
@example(descr="<U0", shape=(2,), payload=b"", member="ids")
@example(descr="<U1", shape=(2,), payload=(0x110000).to_bytes(4, "little") * 2, member="ids")
@example(descr="<f4", shape=(1,) * 70, payload=b"\0" * 4, member="features")
def test_lying_headers_are_one_error_in_every_npz_reader(tmp_path, descr, shape, payload, member):
    from reidbench.cli._parity import load_parity_npz
    from reidbench.records.files import load_per_query

    members = {"ids.npy": _member("<U1", (2,), "ab".encode("utf-32-le")),
               "features.npy": _member("<f4", (2, 2), b"\0" * 16)}
    members[f"{member}.npy"] = _member(descr, shape, payload)
    p = _write(tmp_path / "f.npz", members)
    try:
        got = read_npz_bounded(p)
    except NpzError as exc:
        assert "\n" not in str(exc)
    else:
        for arr in got.values():
            arr.tolist()  # every array read is one Python can hold
    for reader in (load_features_file, load_per_query, load_parity_npz):
        try:
            reader(str(p))
        except ReidbenchError as exc:
            assert "\n" not in str(exc)


@pytest.mark.parametrize("code", [0x110000, 0x7FFFFFFF, 0xFFFFFFFF, 0xD800, 0xDFFF])
def test_text_that_is_no_unicode_is_refused(tmp_path, code):
    raw = "ab".encode("utf-32-le") + code.to_bytes(4, "little")
    p = _write(tmp_path / "f.npz", {"ids.npy": _member("<U1", (3,), raw),
                                    "features.npy": _member("<f4", (3, 2), b"\0" * 24)})
    with pytest.raises(DataError, match="not valid Unicode"):
        load_features_file(p)


def test_valid_text_beyond_the_bmp_is_kept(tmp_path):
    p = tmp_path / "ok.npz"
    np.savez(p, ids=np.array(["a\U0010FFFF", "b\u00e9"]), features=np.ones((2, 2), np.float32))
    assert load_features_file(p).ids == ("a\U0010FFFF", "b\u00e9")


@pytest.mark.parametrize("exponent", [400, 4000, 4900])
def test_features_beyond_float64_are_refused_without_warnings(tmp_path, exponent):
    import warnings

    p = tmp_path / "big.npz"
    value = np.longdouble(10) ** exponent  # finite in float128, inf in float64
    np.savez(p, ids=np.array(["a", "b"]), features=np.full((2, 3), -value))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="row norms"):
            load_features_file(p)


@pytest.mark.parametrize("columns", [2**20, 2**23])
def test_parity_distmat_disagreeing_with_its_pids_refused_before_inflating(tmp_path, columns):
    from reidbench.cli._parity import load_parity_npz

    p = tmp_path / "d.npz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for key, n in (("query_pids", 4), ("gallery_pids", 6), ("query_camids", 4),
                       ("gallery_camids", 6)):
            buf = io.BytesIO()
            np.save(buf, np.zeros(n, np.int64))
            z.writestr(f"{key}.npy", buf.getvalue())
        header = _member("<f8", (4, columns), b"")
        with z.open("distmat.npy", "w", force_zip64=True) as m:
            m.write(header)
            for _ in range(4 * columns * 8 // (8 << 20)):
                m.write(b"\0" * (8 << 20))
    with pytest.raises(DataError, match="where a distmat|inflating"):
        load_parity_npz(str(p))


# ----------------------------------------------------------------------------- damaged zip records
@pytest.mark.parametrize("fmt", ["pt", "torchscript"])
def test_every_byte_of_a_checkpoints_zip_end_records_damaged_is_one_error(tmp_path, fmt):
    """Each byte of the end-of-archive records (zip64 locator, central directory) altered.

    ``zipfile`` raises BadZipFile from ``is_zipfile`` on a zip64 locator naming another disk and
    NotImplementedError on an unknown "version needed"; neither may escape as a traceback.
    """
    torch = pytest.importorskip("torch")
    from reidbench.adapters import load_checkpoint
    from reidbench.errors import CheckpointError

    ok = tmp_path / f"ok.{fmt}"
    if fmt == "pt":
        torch.save({"state_dict": {"w": torch.arange(6.0)}, "meta": {"baseline": "stmn"}}, ok)
    else:
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(ok))
    data = ok.read_bytes()
    start = data.rfind(b"PK\x01\x02")  # the last central directory entry, then the end records
    bad = tmp_path / f"bad.{fmt}"
    for offset in range(start, len(data)):
        for mask in (0x5A, 0xFF):
            damaged = bytearray(data)
            damaged[offset] ^= mask
            bad.write_bytes(bytes(damaged))
            try:
                load_checkpoint(bad)
            except CheckpointError as exc:
                assert "\n" not in str(exc)


_TEXTS = ["import os, sys\nprint('hi')\n", '{"state_dict": {"w": [1, 2]}}\n', "id,feature\na,1\n",
          "cos\nsystem\n(S'echo'\ntR.", "mport this\n" * 50, "Ilarge\n" * 20]


@pytest.mark.parametrize("text", _TEXTS)
def test_text_files_are_not_reported_as_pickles_that_import_code(tmp_path, text):
    """A .py or .json passed as a checkpoint is "not a torch checkpoint", not a pickle of code.

    pickletools reads text as opcodes for a while ('i' is INST, 'c' is GLOBAL): only a stream
    that parses to its end is reported by the globals it names. A complete protocol-0 pickle
    naming os.system (the fourth text cut short at its STOP) stays "imports".
    """
    from reidbench.adapters import load_checkpoint
    from reidbench.errors import CheckpointError

    p = tmp_path / "x.pth"
    p.write_text(text)
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(p)
    msg = str(exc.value)
    assert "\n" not in msg
    if text.startswith("cos"):
        assert "imports" in msg
    else:
        assert "not a torch checkpoint" in msg and "imports" not in msg
