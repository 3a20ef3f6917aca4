"""One CLI grammar: every option documented, one spelling per concept, shared short flags."""

import re

import pytest
import typer

from reidbench.cli import build_app, main


def _commands():
    """(path, click command) of every command, groups walked."""
    root = typer.main.get_command(build_app())
    out = []

    def walk(cmd, path):
        if hasattr(cmd, "commands"):  # a group (typer vendors click)
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            out.append((" ".join(path), cmd))

    walk(root, [])
    return out


COMMANDS = _commands()


def _is_option(param):
    return param.param_type_name == "option"


def test_there_are_commands_to_check():
    names = {path for path, _ in COMMANDS}
    assert {"evaluate", "train", "sweep", "demo", "data synth", "data verify",
            "leaderboard build", "report gallery", "protocols ids", "validate"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_option_has_help_and_no_rst_markup(path, cmd):
    assert (cmd.help or "").strip(), f"{path} has no help"
    for param in cmd.params:
        if getattr(param, "hidden", False):
            continue
        text = getattr(param, "help", None)
        assert text and text.strip(), f"{path}: {param.opts or param.name} has no help text"
        assert "``" not in text, f"{path}: {param.opts}: literal double backticks"
    assert "``" not in (cmd.help or ""), f"{path}: literal double backticks in its help"
    # typer prints a paragraph's line breaks as they are: each paragraph must be one line
    assert all("\n" not in par for par in cmd.help.split("\n\n")), \
        f"{path}: a help paragraph broken over several lines"


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_one_spelling_per_concept(path, cmd):
    opts = {o: p for p in cmd.params if _is_option(p) and not p.hidden
            for o in p.opts}
    if "--protocol" in opts:
        assert "-p" in opts["--protocol"].opts, f"{path}: --protocol without -p"
    if "--out" in opts:
        assert "-o" in opts["--out"].opts, f"{path}: --out without -o"
    if "--device" in opts:
        assert opts["--device"].default == "auto", f"{path}: --device does not default to auto"
    assert "--layout" not in opts, f"{path}: the dataset layout is --dataset"
    for p in cmd.params:
        if not _is_option(p):
            assert p.name not in ("layout", "dataset", "name"), f"{path}: dataset as a positional"


def test_version(capsys):
    import reidbench

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"reidbench {reidbench.__version__}"


def test_help_of_every_command_renders(capsys):
    for path, _ in COMMANDS:
        assert main([*path.split(), "--help"]) == 0, path
        out = capsys.readouterr().out
        assert "Usage" in out and not re.search(r"``", out), path


def test_old_spellings_still_work_with_a_note(tmp_path, capsys):
    assert main(["data", "synth", "--layout", "mars", "-o", str(tmp_path / "m"), "--ids", "5"]) == 0
    assert "--layout is deprecated" in capsys.readouterr().err
    assert main(["data", "verify", "mars", str(tmp_path / "m")]) == 0
    assert "positional NAME is deprecated" in capsys.readouterr().err
    assert main(["data", "verify", "--dataset", "mars", "--data", str(tmp_path / "m")]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["data", "verify", "--data", str(tmp_path / "m")]) == 2
    assert "--dataset in reidbench data verify" in capsys.readouterr().err


def test_library_errors_are_printed_with_the_flag(tmp_path, capsys):
    assert main(["leaderboard", "build", "-o", str(tmp_path / "o"), "--sort-by", "bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --sort-by in "), err
    assert main(["leaderboard", "build", "-o", str(tmp_path / "o"), "--format", "doc"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --format in ") and "--format md,latex" in err[-1], err


def test_usage_errors_are_one_line_too(capsys):
    for args, says in ((["evaluate", "--bogus"], "No such option: --bogus"),
                       (["train", "stmn", "--epochs", "x"], "Invalid value for '--epochs'"),
                       (["protocols", "show"], "Missing argument"),
                       (["no-such-command"], "No such command")):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], err
        assert "--help`)" in err[0]
