"""Synthetic dataset: the knob record and the MATLAB file writers."""

import hashlib

import h5py
import numpy as np
import pytest
import scipy.io as sio

from reidbench.datasets.synthetic import SynthConfig
from reidbench.datasets.synthetic.matfiles import write_mat_v5, write_mat_v73
from reidbench.errors import InputError


def test_config_validates_each_knob_with_its_name():
    with pytest.raises(InputError, match="occlusion_prob in SynthConfig"):
        SynthConfig(occlusion_prob=1.5)
    with pytest.raises(InputError, match="noise in SynthConfig"):
        SynthConfig(noise=-1)
    with pytest.raises(InputError, match="max_len"):
        SynthConfig(max_len=1000)
    with pytest.raises(InputError, match="knob"):
        SynthConfig().replace(occlusion=0.3)


def test_clean_switches_every_nuisance_off_and_replace_turns_one_on():
    c = SynthConfig.clean()
    assert c.occlusion_prob == c.misalignment == c.noise == c.blur == c.id_similarity == 0
    one = c.replace(occlusion_prob=0.5)
    assert one.occlusion_prob == 0.5 and one.noise == 0
    assert SynthConfig().to_dict()["height"] == 128


def test_mat_v5_compact_integers_read_back_like_the_real_mars_files(tmp_path):
    info = np.array([[1, 3, -1, 1], [4, 9, 0, 2], [10, 12, 2, 6]])
    write_mat_v5(tmp_path / "t.mat", {"track_test_info": (info, "int32")})
    write_mat_v5(tmp_path / "q.mat", {"query_IDX": (np.array([[2, 3]]), "uint16")})
    # MATLAB class double, stored as integers: whosmat says double, loadmat gives the int type.
    assert sio.whosmat(tmp_path / "t.mat") == [("track_test_info", (3, 4), "double")]
    t = sio.loadmat(tmp_path / "t.mat")["track_test_info"]
    assert t.dtype == np.int32 and t.tolist() == info.tolist()
    q = sio.loadmat(tmp_path / "q.mat")["query_IDX"]
    assert q.dtype == np.uint16 and q.shape == (1, 2) and q.tolist() == [[2, 3]]
    assert (tmp_path / "t.mat").read_bytes()[:19] == b"MATLAB 5.0 MAT-file"


def test_mat_v5_float64_variant_and_column_major_order(tmp_path):
    a = np.arange(1, 7).reshape(2, 3)
    write_mat_v5(tmp_path / "a.mat", {"ls_set": (a, "float64")})
    back = sio.loadmat(tmp_path / "a.mat")["ls_set"]
    assert back.dtype == np.float64 and back.tolist() == a.tolist()


def test_mat_v73_is_hdf5_with_matlab_userblock_and_is_deterministic(tmp_path):
    p = tmp_path / "info_test.mat"
    write_mat_v73(p, {"query": np.array([[1.0, 4.0, 5.0]])})
    head = p.read_bytes()[:128]
    assert head.startswith(b"MATLAB 7.3 MAT-file") and b"HDF5 schema 1.00" in head
    assert head[124:128] == b"\x00\x02IM"
    assert h5py.is_hdf5(p)
    with h5py.File(p, "r") as f:
        assert f.userblock_size == 512
        assert f["query"].shape == (1, 3) and f["query"].dtype == np.float64
        assert f["query"].attrs["MATLAB_class"] == b"double"
        assert f["query"][0, :].tolist() == [1.0, 4.0, 5.0]
    with pytest.raises(NotImplementedError):  # exactly what scipy does on the real file
        sio.loadmat(p)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    write_mat_v73(p, {"query": np.array([[1.0, 4.0, 5.0]])})
    assert hashlib.sha256(p.read_bytes()).hexdigest() == digest
