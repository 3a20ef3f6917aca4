"""The CLI's shared helpers: --config parsing, --split names, the parameter -> flag rendering."""

import io
import json
import random

import pytest

from reidbench.cli._common import (
    PARAM_FLAGS,
    ProgressLine,
    flag_for,
    parse_config,
    parse_protocols,
    render_error,
    split_name,
)
from reidbench.errors import InputError


def test_config_json_and_pairs_read_the_same():
    as_json = parse_config('{"backbone": "small", "M": 10, "flip": false, "input_size": [64, 32]}',
                           "cmd")
    pairs = parse_config("backbone=small, M=10,flip=false,input_size=[64,32]", "cmd")
    assert as_json == pairs == {"backbone": "small", "M": 10, "flip": False, "input_size": [64, 32]}
    assert parse_config('name="a,b",x=1.5', "cmd") == {"name": "a,b", "x": 1.5}
    assert parse_config(None, "cmd") == {} == parse_config("  ", "cmd")


def test_config_variants_that_are_not_an_object_are_one_input_error():
    rng = random.Random(0)
    bad = ["[1,2]", "5", '"text"', "true", "null", "{bad", '{"a": 1', "a", "=1", "a=1,a=2",
           "1x=2", "a b=1", "[" * 5000]
    # generated: random JSON values that are not objects, and random garbled objects
    for _ in range(40):
        value = rng.choice([rng.randint(-9, 9), [rng.random()], "s" * rng.randint(1, 5), None])
        bad.append(json.dumps(value))
        text = json.dumps({"k": rng.randint(0, 9)})
        cut = rng.randint(1, len(text) - 1)
        bad.append(text[:cut])
    for text in bad:
        with pytest.raises(InputError, match=r"^--config in cmd: expected"):
            parse_config(text, "cmd")


def test_split_names_and_protocol_lists():
    assert split_name("3") == "split3" == split_name(" 3 ") == split_name("split3")
    assert split_name(None) is None
    assert parse_protocols(["a,b", "b", " c "]) == ["a", "b", "c"]


def test_errors_name_parameters_and_the_cli_names_flags():
    err = InputError("device in resolve_device: expected a device, got 'tpu'. Use device=cpu.",
                     param="device")
    assert render_error(err) == ("--device in resolve_device: expected a device, got 'tpu'. Use "
                                 "--device cpu.")
    err = InputError("out_dir in x: expected a folder, got a file.", param="out_dir")
    assert render_error(err).startswith("--out in x:")
    err = InputError("last.pt in train (resume): expected ... Start over with resume=false.",
                     param="resume")
    assert render_error(err).endswith("Start over with --no-resume.")
    err = InputError("option 'Q' in adapter 'stmn': expected one of [...].", param="config")
    assert render_error(err).endswith("(option --config)")
    assert render_error(InputError("plain message")) == "plain message"
    assert flag_for("iters_per_epoch") == "--iters-per-epoch" and flag_for("out_dir") == "--out"
    assert all(flag.startswith("--") for flag in PARAM_FLAGS.values())


def test_command_modules_share_helpers_only_through_private_helper_modules():
    import ast
    from pathlib import Path

    import reidbench.cli

    problems = []
    for path in Path(reidbench.cli.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            if module.startswith("reidbench.cli."):
                target = module.split(".")[2]
                if not target.startswith("_"):
                    problems.append(f"{path.name} imports {module}")
    assert not problems, problems


def test_progress_eta_counts_only_the_items_done_since_the_stage_restarted():
    # training's second epoch: the stage restarts at 31/60 after a validation pass, then runs at
    # 0.5 s per iteration; the ETA must come from that rate, not from 31 items in no time
    clock = iter([0.0, 10.0, 10.5, 11.0])
    out = io.StringIO()
    line = ProgressLine(out, clock=lambda: next(clock))
    line("extract validation", 20, 20)
    line("train | loss 3.9", 31, 60)
    line("train | loss 3.8", 32, 60)
    line("train | loss 3.7", 33, 60)
    shown = [part.strip() for part in out.getvalue().split("\r") if part.strip()]
    assert shown[0] == "extract validation: 20/20    0.0s  eta   0.0s"
    assert shown[1] == "train | loss 3.9: 31/60    0.0s  eta      ?"
    assert shown[2] == "train | loss 3.8: 32/60    0.5s  eta  14.0s"
    assert shown[3] == "train | loss 3.7: 33/60    1.0s  eta  13.5s"
