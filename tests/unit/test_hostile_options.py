"""Option values built to break the parsers or to allocate terabytes: one InputError each.

``--config`` (evaluate, train, sweep), ``--grid`` values, and JSON read from disk: integers past
Python's digit limit, NaN/Infinity and numbers that overflow to them, nesting, and values that
pass every type check yet build a model of terabytes (``M=10**12``). Variants are generated.
"""

from __future__ import annotations

import random

import pytest

from reidbench.cli._common import parse_config
from reidbench.errors import InputError, ReidbenchError
from reidbench.fileio import JSONBoundError, loads_bounded


def _hostile_numbers(seed: int) -> list[str]:
    rng = random.Random(seed)
    digits = rng.randint(4301, 20000)
    return [rng.choice("123456789") + "7" * digits, "-" + "9" * digits,
            f"1e{rng.randint(309, 10**6)}", f"-1e{rng.randint(309, 999)}", "NaN", "Infinity",
            "-Infinity", f"{rng.randint(1, 9)}.{'5' * rng.randint(10, 50)}e400"]


@pytest.mark.parametrize("seed", range(4))
def test_numbers_json_cannot_hold_are_one_bound_error(seed):
    for literal in _hostile_numbers(seed):
        text = f'{{"a": [1, {literal}]}}'
        with pytest.raises(JSONBoundError):
            loads_bounded(text, finite=True)
        if literal.lstrip("-").isdigit():
            with pytest.raises(JSONBoundError, match="Python refuses"):
                loads_bounded(text)  # even without finite=True: a ValueError json lets out
    assert loads_bounded('{"a": 1e308, "b": -5}', finite=True) == {"a": 1e308, "b": -5}


@pytest.mark.parametrize("seed", range(4))
def test_config_values_json_cannot_hold_are_one_input_error(seed):
    rng = random.Random(seed)
    for literal in _hostile_numbers(seed):
        key = rng.choice(["M", "alpha", "seq_len", "width"])
        deep = "[" * 70 + "]" * 70
        for text in (f'{{"{key}": {literal}}}', f"backbone=small,{key}={literal}",
                     f"{key}=[1,{literal}]", f'{{"x": {deep}}}',
                     f"{key}={'[' * 100_000}"):
            with pytest.raises(InputError) as exc:
                parse_config(text, "reidbench train")
            assert "\n" not in str(exc.value) and "--config" in str(exc.value), text[:60]


@pytest.mark.parametrize("seed", range(3))
def test_option_values_out_of_bounds_refused_before_building(seed):
    from reidbench.adapters import get_adapter

    rng = random.Random(seed)
    big = [10 ** rng.randint(7, 30), -(10 ** rng.randint(7, 30)), float(10 ** rng.randint(7, 300))]
    for name, option in (("stmn", "M"), ("stmn", "N"), ("cosam", "width"), ("stan", "width")):
        for value in big:
            with pytest.raises(InputError) as exc:
                get_adapter(name, backbone="small", **{option: value})
            assert option in str(exc.value) and exc.value.param == "config"
    for bad_len in (0, -1, 257, 10**9, 6.5):
        with pytest.raises(InputError, match="seq_len"):
            get_adapter("stmn", backbone="small", seq_len=bad_len)


@pytest.mark.parametrize("grid", ["M=1000000000000", "M=5,1e300", "M=0", "M=-3", "M=true",
                                  "M=abc", "M=5,5", "N=5,1+2", "seq_len=0", "seq_len=4,99999"])
def test_sweep_grid_values_refused_before_any_cell(tmp_path, grid):
    from reidbench.engine.sweep import check_axes, parse_grid

    try:
        check_axes("stmn", parse_grid(grid), {"backbone": "small"})
    except ReidbenchError as exc:
        assert "\n" not in str(exc)
    else:
        pytest.fail(f"{grid} was accepted")


def test_train_refuses_a_model_of_terabytes_before_writing(tmp_path, capsys):
    from reidbench.cli import main

    out = tmp_path / "run"
    for cfg in ('{"backbone": "small", "M": 1000000000000}', "backbone=small,N=100000000",
                '{"alpha": NaN}', "M=" + "9" * 5000):
        capsys.readouterr()
        rc = main(["train", "stmn", "--data", str(tmp_path), "--dataset", "mars", "--out",
                   str(out), "--config", cfg, "--device", "cpu", "--epochs", "1"])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
        assert rc == 2 and len(err) == 1 and "--config" in err[0], err
        assert not out.exists()
