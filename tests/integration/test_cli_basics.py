import subprocess
import sys

from reidbench.cli import main


def test_reidbench_error_is_one_line_and_nonzero(capsys):
    assert main(["protocols", "show", "mars/v2w@1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: protocol 'mars/v2w@1'")
    assert "Did you mean 'mars/v2v@1'" in err[0]


def test_usage_errors_exit_2(capsys):
    assert main(["protocols", "show"]) == 2
    assert main(["no-such-command"]) == 2


def test_protocols_list_and_show(capsys):
    assert main(["protocols", "list"]) == 0
    out = capsys.readouterr().out
    assert "mars/v2v@1" in out and "mars/v2v-torchreid@1" in out
    assert main(["protocols", "show", "mars/v2v"]) == 0
    assert '"gallery": "with_query"' in capsys.readouterr().out


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "reidbench", "protocols", "list"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "prid2011/v2v@1" in r.stdout


def test_demo_quick_runs_the_whole_product(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the checkout: the published records are package data
    rc = main(["demo", "--quick", "--out", str(tmp_path / "d"), "--ids", "10"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "protocol  mars/v2v@1" in out and "untrained ->" in out
    assert (tmp_path / "d" / "reports" / "index.html").is_file()
    board = (tmp_path / "d" / "reports" / "leaderboards" / "leaderboard-mars-v2v-1.md").read_text()
    assert "synthetic mars copy" in board  # never ranked against the real MARS papers
    assert "published: DenseIL T2" in board  # ranked beside the papers' rows
    for label in ("untrained", "trained"):
        assert (tmp_path / "d" / "results" / f"stmn-{label}" / "results.json").is_file()
    assert (tmp_path / "d" / "runs" / "stmn" / "model.safetensors").is_file()
