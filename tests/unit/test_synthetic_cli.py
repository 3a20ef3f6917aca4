"""`reidbench data synth` end to end (tiny frames)."""

import json
from pathlib import Path

import pytest

from reidbench.cli import main


def test_synth_cli_writes_a_copy_and_reports(tmp_path, capsys):
    out = tmp_path / "lsvid"
    rc = main(["data", "synth", "--dataset", "lsvid", "--out", str(out), "--ids", "5", "--seed",
               "1", "--height", "32", "--width", "16", "--clean", "--knob", "occlusion_prob=1",
               "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["layout"] == "lsvid" and s["num_tracklets"] > 0
    m = json.loads((out / "_reidbench_synth.json").read_text())
    assert m["config"]["occlusion_prob"] == 1 and m["config"]["noise"] == 0
    assert all(t["nuisances"]["occluder"] for t in m["tracklets"])
    assert (Path(out) / "test/data/info_test.mat").is_file()


def test_synth_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["data", "synth", "--layout", "marz", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean 'mars'" in capsys.readouterr().err
    assert main(["data", "synth", "--layout", "mars", "--out", str(tmp_path / "x"),
                 "--knob", "noise=loud"]) == 2
    assert "--knob noise" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_synth_cli_existing_out_names_the_flag(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    args = ["data", "synth", "--dataset", "lsvid", "--out", str(out), "--ids", "5", "--height",
            "32", "--width", "16"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "overwrite=True" not in err
    assert (out / "keep.txt").is_file()
    from reidbench.datasets.synthetic import write_dataset
    from reidbench.errors import InputError

    with pytest.raises(InputError, match="pass overwrite=True"):  # the Python API's own words
        write_dataset("lsvid", out, ids=5)
    assert main(args + ["--overwrite"]) == 0 and not (out / "keep.txt").exists()
