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
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn reidbench errors into one line on stderr and a non-zero exit code.

    Usage errors (unknown command, missing option) are reported by typer itself (exit code 2).
    """
    app = build_app()
    try:
        app(args=argv, prog_name="reidbench")
    except SystemExit as exc:  # typer's standalone mode always ends with SystemExit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ReidbenchError as exc:
        from reidbench.cli._common import render_error

        print(f"error: {render_error(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
