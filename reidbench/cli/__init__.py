"""The ``reidbench`` command line: a thin typer app.

Each verb group lives in its own module (``reidbench/cli/<group>.py``) that defines a
``typer.Typer`` named ``app`` (or single commands registered onto the root); :func:`build_app`
assembles them. The library is imported lazily inside commands so ``reidbench --help`` stays fast.
Every :class:`~reidbench.errors.ReidbenchError` becomes one line on stderr and a non-zero exit;
what the commands share (option parsing, checks, progress, the parameter -> flag table) lives in
:mod:`reidbench.cli._common`, and no command module imports another.
"""

from __future__ import annotations

import importlib
import inspect
import sys

import typer

from reidbench.errors import ReidbenchError

__all__ = ["build_app", "main"]

# (module, name of the sub-command group or None to merge its commands into the root)
_GROUPS: list[tuple[str, str | None]] = [
    ("reidbench.cli.metrics", "metrics"),
    ("reidbench.cli.data", "data"),
    ("reidbench.cli.protocols", "protocols"),
    ("reidbench.cli.evaluate", None),
    ("reidbench.cli.export", None),
    ("reidbench.cli.train", None),
    ("reidbench.cli.import_weights", None),
    ("reidbench.cli.sweep", None),
    ("reidbench.cli.demo", None),
    ("reidbench.cli.validate", None),
    ("reidbench.cli.leaderboard", "leaderboard"),
    ("reidbench.cli.report", "report"),
]


def build_app() -> typer.Typer:
    """Assemble the root typer app from the verb-group modules."""
    app = typer.Typer(
        name="reidbench",
        help="Benchmark and leaderboard suite for video-based person re-identification.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    def _version(value: bool) -> None:
        if value:
            import reidbench

            typer.echo(f"reidbench {reidbench.__version__}")
            raise typer.Exit()

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                     help="Print the version and exit."),
    ) -> None:
        """Benchmark and leaderboard suite for video-based person re-identification."""

    for module_name, group in _GROUPS:
        module = importlib.import_module(module_name)  # a missing group module is a bug: fail
        if group is None:
            for cmd in module.app.registered_commands:
                app.registered_commands.append(cmd)
        else:
            app.add_typer(module.app, name=group)
    _unwrap_help(app)
    return app


def _unwrap_help(app: typer.Typer) -> None:
    """Join each paragraph of every command's docstring into one line, as click does.

    typer's rich help keeps a docstring's line breaks inside a paragraph, so text wrapped at the
    source's 100 columns came out as ragged lines ("... the entry is" / "self-reported; ...").
    Paragraphs (separated by a blank line) stay apart; the terminal re-wraps each one.
    """
    for info in app.registered_commands:
        doc = info.help if info.help is not None else inspect.getdoc(info.callback)
        if doc:
            info.help = "\n\n".join(" ".join(par.split()) for par in doc.split("\n\n"))
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _unwrap_help(group.typer_instance)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error is one line on stderr and a non-zero exit code.

    A :class:`~reidbench.errors.ReidbenchError` prints its message (parameters spelled as flags,
    exit 2); a usage error (unknown command or option, a value of the wrong type, a missing
    option) prints the parser's message and where to find the help (exit 2).
    """
    app = build_app()
    try:
        rv = app(args=argv, prog_name="reidbench", standalone_mode=False)
    except SystemExit as exc:  # a command that exits itself
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ReidbenchError as exc:
        from reidbench.cli._common import render_error

        print(f"error: {render_error(exc)}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort) as exc:
        if isinstance(exc.__cause__, EOFError):  # click turns any EOFError into Abort: that is a
            raise exc.__cause__ from None  # bug to show where it is, never an "interrupted" run
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # the parser's own errors (click's, vendored or not in typer's versions): duck-typed
        if not (hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None),
                                                              int)):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # `reidbench` or a group alone: help
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        print(f"error: {exc.format_message()}{where}", file=sys.stderr)
        return int(exc.exit_code)  # type: ignore[attr-defined]
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
