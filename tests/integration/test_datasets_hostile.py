"""Datasets refuse what they cannot read, one rule for all layouts (docs/datasets.md).

Generated variants: a random person folder emptied (or left with only an OS artefact), a stray
file in a random tracklet folder of each folder-listing layout, PRID-2011 folders beyond the first
200 of each camera, DukeV given the archive's folder or torchreid's root, and LS-VID under both
gallery readings.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from reidbench.datasets import load
from reidbench.engine import build_evalset, dataset_fingerprint
from reidbench.errors import DataError
from reidbench.protocols import get_protocol

#: Where each folder-listing layout keeps its tracklet (or person) folders.
FRAME_FOLDERS = {"dukev": "*/*/*", "ilidsvid": "i-LIDS-VID/sequences/cam*/person*",
                 "prid2011": "prid_2011/multi_shot/cam_*/person_*"}


def _copy(synth_copy, layout: str, dst: Path) -> Path:
    src = Path(synth_copy(layout))
    shutil.copytree(src, dst)
    return dst


def _folders(root: Path, layout: str) -> list[Path]:
    return sorted(p for p in root.glob(FRAME_FOLDERS[layout]) if p.is_dir())


@pytest.mark.parametrize("layout", ["ilidsvid", "prid2011", "dukev"])
@pytest.mark.parametrize("leftover", [None, "Thumbs.db"])
def test_empty_person_folder_refused(synth_copy, tmp_path, layout, leftover):
    root = _copy(synth_copy, layout, tmp_path / layout)
    folder = random.Random(f"{layout}{leftover}").choice(_folders(root, layout))
    for f in folder.iterdir():
        f.unlink()
    if leftover:
        (folder / leftover).write_bytes(b"\0" * 16)
    with pytest.raises(DataError, match="no frames") as exc:
        load(layout, root)
    assert folder.name in str(exc.value)


@pytest.mark.parametrize("layout", ["ilidsvid", "prid2011", "dukev"])
@pytest.mark.parametrize("stray", ["notes.txt", "0001.jpg.bak", "extra.png", "sub"])
def test_stray_file_refused_alike_in_every_folder_layout(synth_copy, tmp_path, layout, stray):
    root = _copy(synth_copy, layout, tmp_path / layout)
    folder = random.Random(f"{layout}{stray}").choice(_folders(root, layout))
    if stray == "sub":
        (folder / stray).mkdir()
    else:
        (folder / stray).write_bytes(b"x")
    with pytest.raises(DataError, match="(?i)remove files") as exc:
        load(layout, root)
    assert stray in str(exc.value)


@pytest.mark.parametrize("layout", ["ilidsvid", "prid2011", "dukev"])
def test_os_artefacts_ignored_in_every_folder_layout(synth_copy, tmp_path, layout):
    root = _copy(synth_copy, layout, tmp_path / layout)
    before = dataset_fingerprint(load(layout, root))
    rng = random.Random(layout)
    for folder in rng.sample(_folders(root, layout), 3):
        for name in (".DS_Store", "Thumbs.db", "desktop.ini", "._0001.png"):
            (folder / name).write_bytes(b"\0")
    assert dataset_fingerprint(load(layout, root)) == before


def test_prid_folders_beyond_the_first_200_never_share_a_pid(synth_copy, tmp_path):
    root = _copy(synth_copy, "prid2011", tmp_path / "prid")
    base = root / "prid_2011" / "multi_shot"
    frame = next((base / "cam_a").glob("person_*/*.png"))
    have = {cam: {p.name for p in (base / cam).iterdir()} for cam in ("cam_a", "cam_b")}
    for cam, last in (("cam_a", 385), ("cam_b", 749)):
        for n in range(1, last + 1):
            name = f"person_{n:04d}"
            if name not in have[cam]:
                (base / cam / name).mkdir()
                shutil.copy(frame, base / cam / name / "0001.png")
    ds = load("prid2011", root)
    pid = {t.id: t.pid for t in ds.tracklets}
    assert pid["cam_a/person_0001"] == pid["cam_b/person_0001"] == 1
    assert pid["cam_a/person_0200"] == pid["cam_b/person_0200"] == 200
    for n in (201, 300, 385):
        a, b = pid[f"cam_a/person_{n:04d}"], pid[f"cam_b/person_{n:04d}"]
        assert a != b, n
    beyond_a = {p for t, p in pid.items() if t.startswith("cam_a/") and p > 200}
    beyond_b = {p for t, p in pid.items() if t.startswith("cam_b/") and p > 200}
    assert not beyond_a & beyond_b and not beyond_a & set(range(1, 201))


@pytest.mark.parametrize("shape", ["archive_folder", "torchreid_root", "itself"])
def test_dukev_accepts_the_folder_its_archive_extracts_into(synth_copy, tmp_path, shape):
    src = Path(synth_copy("dukev"))
    want = dataset_fingerprint(load("dukev", src))
    holder = tmp_path / "data"
    inner = {"archive_folder": holder / "DukeMTMC-VideoReID",
             "torchreid_root": holder / "dukemtmc-vidreid" / "DukeMTMC-VideoReID",
             "itself": holder}[shape]
    inner.parent.mkdir(parents=True, exist_ok=True)
    if shape == "itself":
        shutil.copytree(src, inner)
    else:
        inner.symlink_to(src, target_is_directory=True)
    ds = load("dukev", holder)
    assert dataset_fingerprint(ds) == want
    with pytest.raises(DataError, match="train folder"):
        load("dukev", tmp_path / "data" / "..")


def test_lsvid_two_gallery_readings(synth_copy, tmp_path):
    """The whole test list vs the test list minus the queries: other galleries, other numbers."""
    from reidbench.cli import main

    root = Path(synth_copy("lsvid", ids=12, seed=4))
    ds = load("lsvid", root)
    with_q = build_evalset(ds, get_protocol("lsvid/v2v@1"), "official")
    without_q = build_evalset(ds, get_protocol("lsvid/v2v-without-query@1"), "official")
    assert len(without_q.gallery) == len(with_q.gallery) - len(with_q.query)
    assert not {i.id for i in without_q.gallery} & {i.id for i in with_q.query}
    rng = np.random.default_rng(0)
    centres = {}
    ids = with_q.ids()
    rows = []
    for i in ids:
        pid = ds.tracklet(i).pid
        centres.setdefault(pid, rng.normal(size=8))
        rows.append(centres[pid] + 1.2 * rng.normal(size=8))
    feats = tmp_path / "f.npz"
    np.savez(feats, ids=np.array(ids), features=np.array(rows, np.float32))
    maps = {}
    for proto in ("lsvid/v2v@1", "lsvid/v2v-without-query@1"):
        out = tmp_path / proto.replace("/", "_")
        assert main(["evaluate", "--protocol", proto, "--data", str(root), "--features",
                     str(feats), "--out", str(out), "--bootstrap", "0", "--json"]) == 0
        import json

        rec = json.loads((out / "results.json").read_text())
        maps[proto] = rec["metrics"]["mAP"]["value"]
        assert rec["splits"][0]["n_gallery"] == len(
            with_q.gallery if proto == "lsvid/v2v@1" else without_q.gallery)
    assert maps["lsvid/v2v@1"] != maps["lsvid/v2v-without-query@1"]


@pytest.mark.parametrize("depth", [100, 200_000])
def test_deeply_nested_json_files_of_a_copy_are_one_line(synth_copy, tmp_path, depth):
    from reidbench.datasets.verify import check_manifest

    root = _copy(synth_copy, "prid2011", tmp_path / "prid")
    (root / "splits_prid2011.json").write_text("[" * depth + "]" * depth)
    with pytest.raises(DataError, match="nested deeper"):
        load("prid2011", root)
    manifest = tmp_path / "m.json"
    manifest.write_text('{"files": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(DataError, match="manifest"):
        check_manifest(root, manifest)
