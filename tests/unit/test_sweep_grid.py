import pytest

from reidbench.engine.sweep import parse_grid
from reidbench.errors import InputError


def test_parse_grid_types():
    g = parse_grid("M=5,10,20 alpha=0.1,0.3 cosam_stages=4+5,3+4+5 flip=true name=a")
    assert g == {"M": [5, 10, 20], "alpha": [0.1, 0.3], "cosam_stages": [[4, 5], [3, 4, 5]],
                 "flip": [True], "name": ["a"]}


@pytest.mark.parametrize("bad", ["M", "M=", "=5", "M=1 M=2", ""])
def test_parse_grid_rejects(bad):
    with pytest.raises(InputError):
        parse_grid(bad)


@pytest.mark.parametrize("grid, hint", [("Q=1", "Options: M, N, addressing, alpha"),
                                        ("m=5,10", "Did you mean 'M'"),
                                        ("M=5 alpah=0.1", "Did you mean 'alpha'")])
def test_cli_sweep_refuses_unknown_axes_before_training(tmp_path, capsys, grid, hint):
    from reidbench.cli import main

    out = tmp_path / "sw"
    code = main(["sweep", "stmn", "--grid", grid, "--data", str(tmp_path / "nodata"),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "grid axis" in lines[0] and hint in lines[0], err
    assert "Traceback" not in err and not out.exists()


def test_check_axes_accepts_options_and_refuses_bad_shared_config():
    from reidbench.engine.sweep import check_axes

    check_axes("stmn", {"M": [5], "N": [5], "alpha": [0.1]}, {"backbone": "small"})
    with pytest.raises(InputError, match=r"model_config .*bogus"):
        check_axes("stmn", {"M": [5]}, {"backbone": "small", "bogus": 1})
    with pytest.raises(InputError, match="num_classes"):  # set by training, not an axis
        check_axes("stmn", {"num_classes": [5]}, {"backbone": "small"})
