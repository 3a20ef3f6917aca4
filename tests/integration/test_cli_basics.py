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
