"""`reidbench leaderboard add`: validated, filed atomically, duplicates refused, concurrency."""

from __future__ import annotations

import json
import threading

import pytest
from test_report_fixtures import write_result

from reidbench.cli import main
from reidbench.errors import DataError, ReidbenchError
from reidbench.leaderboard.add import add_submission, load_submissions
from reidbench.leaderboard.io import SHIPPED_PUBLISHED


def _edit(result_dir, fn):
    p = result_dir / "results.json"
    rec = json.loads(p.read_text())
    fn(rec)
    p.write_text(json.dumps(rec))
    return result_dir


def test_add_files_a_copy(tmp_path):
    res = write_result(tmp_path / "res")
    sub = add_submission(res, tmp_path / "lb")
    assert sub.path.parent == tmp_path / "lb" / "submissions"
    assert sub.name.startswith("mars-v2v-1--") and ("--" + "ab" * 8 + "--") in sub.name
    assert sorted(p.name for p in sub.path.iterdir()) == ["per_query.npz", "results.json"]
    assert [s.name for s in load_submissions(tmp_path / "lb")] == [sub.name]


def test_duplicate_refused(tmp_path):
    add_submission(write_result(tmp_path / "a"), tmp_path / "lb")
    # same protocol and checkpoint, other numbers: still the same submission
    with pytest.raises(DataError, match="duplicate"):
        add_submission(write_result(tmp_path / "b", map_value=0.5), tmp_path / "lb")
    # same checkpoint under another protocol is a new submission
    add_submission(write_result(tmp_path / "c", protocol="mars/v2v-torchreid@1"), tmp_path / "lb")
    assert len(load_submissions(tmp_path / "lb")) == 2


@pytest.mark.parametrize("edit, field", [
    (lambda r: r["metrics"]["mAP"].update(value=1.5), "metrics.mAP.value"),
    (lambda r: r["protocol"].update(fingerprint="0" * 16), "protocol.fingerprint"),
    (lambda r: (r["source"]["adapter"].update(checkpoint_sha256=None),
                r["splits"][0]["source"].update(checkpoint_sha256=None)), "checkpoint_sha256"),
])
def test_invalid_records_refused(tmp_path, edit, field):
    res = _edit(write_result(tmp_path / "res"), edit)
    with pytest.raises(DataError, match=field.replace(".", r"\.")):
        add_submission(res, tmp_path / "lb")
    assert load_submissions(tmp_path / "lb") == []
    sub_dir = tmp_path / "lb" / "submissions"
    assert not sub_dir.exists() or not any(sub_dir.iterdir())  # nothing half-written


def test_unknown_protocol_refused(tmp_path):
    res = _edit(write_result(tmp_path / "res"), lambda r: r["protocol"].update(id="mars/v9@1"))
    with pytest.raises(ReidbenchError, match="mars/v9@1"):
        add_submission(res, tmp_path / "lb")


def test_concurrent_adds_file_once(tmp_path):
    dirs = [write_result(tmp_path / f"r{i}") for i in range(4)]
    barrier = threading.Barrier(len(dirs))
    outcomes: list[str] = []

    def run(d):
        barrier.wait()
        try:
            add_submission(d, tmp_path / "lb")
            outcomes.append("ok")
        except DataError as exc:
            outcomes.append("dup" if "duplicate" in str(exc) else str(exc))

    threads = [threading.Thread(target=run, args=(d,)) for d in dirs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["dup", "dup", "dup", "ok"]
    names = [p.name for p in (tmp_path / "lb" / "submissions").iterdir()]
    assert len(names) == 1 and not names[0].startswith(".")


def test_cli_add_then_build(tmp_path, capsys):
    lb = tmp_path / "lb"
    (lb / "published").mkdir(parents=True)
    import shutil

    shutil.copy(SHIPPED_PUBLISHED / "denseil-table2.json", lb / "published")
    assert main(["leaderboard", "add", str(write_result(tmp_path / "res")),
                 "--leaderboards", str(lb)]) == 0
    assert main(["leaderboard", "add", str(tmp_path / "res"), "--leaderboards", str(lb)]) == 2
    assert "duplicate" in capsys.readouterr().err
    assert main(["leaderboard", "build", "--leaderboards", str(lb), "--out", str(tmp_path / "o"),
                 "--format", "md", "--protocol", "mars/v2v@1"]) == 0
    md = (tmp_path / "o" / "leaderboards" / "leaderboard-mars-v2v-1.md").read_text()
    assert "| tiny | self-reported: mars-v2v-1--" in md
    assert "**75.00 [70.00, 80.00]**" not in md  # 75 < DenseIL's 87.0: not best
    assert "75.00 [70.00, 80.00]" in md
