"""Writers for the two MATLAB file formats the official metadata uses, byte-deterministic.

* MAT v5 (``MATLAB 5.0 MAT-file``): what MARS ``info/*.mat`` and iLIDS-VID ``ls_set`` are. MATLAB
  saves a ``double`` array of whole numbers compactly, as an integer data element inside a
  double-class array: ``scipy.io.whosmat`` then says ``double`` while ``loadmat`` returns the stored
  integer type (int32 for the MARS track tables, uint16 for ``query_IDX``). :func:`write_mat_v5`
  writes exactly that (or plain doubles). ``scipy.io.savemat`` cannot, and stamps the current time
  into the header, which would break byte-identical output.
* MAT v7.3: an HDF5 file behind a 512-byte userblock whose first 128 bytes are the MATLAB header
  (``MATLAB 7.3 MAT-file ... HDF5 schema 1.00 .``), each variable a dataset with a ``MATLAB_class``
  attribute, stored transposed (a MATLAB ``N x 1`` column reads as ``(1, N)`` in h5py). LS-VID's
  ``info_test.mat`` is one; :func:`write_mat_v73` writes it with h5py.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = ["write_mat_v5", "write_mat_v73", "MAT_CREATED"]

# A fixed creation stamp keeps files byte-identical across runs.
MAT_CREATED = "Mon Jan 01 00:00:00 2018"
_MI = {np.dtype("int8"): 1, np.dtype("uint8"): 2, np.dtype("int16"): 3, np.dtype("uint16"): 4,
       np.dtype("int32"): 5, np.dtype("uint32"): 6, np.dtype("float64"): 9}
_MI_INT8, _MI_INT32, _MI_UINT32, _MI_MATRIX = 1, 5, 6, 14
_MX_DOUBLE_CLASS = 6


def _element(mi_type: int, payload: bytes) -> bytes:
    """One data element: 8-byte tag, payload, zero padding to 8 bytes."""
    pad = (-len(payload)) % 8
    return struct.pack("<II", mi_type, len(payload)) + payload + b"\0" * pad


def _header(version_text: str, version: int) -> bytes:
    text = f"MATLAB {version_text} MAT-file, Platform: GLNXA64, Created on: {MAT_CREATED}"
    if version == 0x0200:
        text += " HDF5 schema 1.00 ."
    head = text.encode("ascii").ljust(116, b" ")
    return head + b"\0" * 8 + struct.pack("<H", version) + b"IM"


def write_mat_v5(path: str | Path, variables: dict[str, tuple[np.ndarray, str]]) -> None:
    """Write 2-D numeric arrays as MATLAB ``double`` variables in a MAT v5 file.

    Args:
        path: Output file.
        variables: ``name -> (array, storage)``. ``storage`` is the numpy dtype name of the stored
            data element (``"float64"`` for plain doubles, or an integer type for MATLAB's compact
            storage of whole numbers). The MATLAB class is always ``double``.
    """
    out = [_header("5.0", 0x0100)]
    for name, (arr, storage) in variables.items():
        a = np.asarray(arr)
        if a.ndim != 2:
            a = a.reshape(1, -1)
        st = np.dtype(storage)
        data = np.asarray(a, dtype=st).astype(st.newbyteorder("<")).tobytes(order="F")
        body = (
            _element(_MI_UINT32, struct.pack("<II", _MX_DOUBLE_CLASS, 0))
            + _element(_MI_INT32, struct.pack("<ii", *a.shape))
            + _element(_MI_INT8, name.encode("ascii"))
            + _element(_MI[st], data)
        )
        out.append(struct.pack("<II", _MI_MATRIX, len(body)) + body)
    Path(path).write_bytes(b"".join(out))


def write_mat_v73(path: str | Path, variables: dict[str, np.ndarray]) -> None:
    """Write arrays as MATLAB ``double`` variables in a MAT v7.3 (HDF5) file.

    Args:
        path: Output file.
        variables: ``name -> array`` as h5py should read it back (MATLAB's transpose of it is what
            MATLAB would show). Stored as float64 with ``MATLAB_class = "double"``.
    """
    import h5py  # lazy: only LS-VID needs it

    path = Path(path)
    with h5py.File(path, "w", userblock_size=512, libver="earliest", track_order=False) as f:
        for name, arr in variables.items():
            ds = f.create_dataset(name, data=np.asarray(arr, dtype=np.float64), track_times=False)
            ds.attrs.create("MATLAB_class", np.bytes_("double"))
    with open(path, "r+b") as fh:
        fh.write(_header("7.3", 0x0200).ljust(512, b"\0"))
