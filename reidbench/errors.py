"""One exception hierarchy for reidbench, with one message style.

Every message reads ``"<what> <where>: expected <x>, got <y>. <how to fix>"`` so that a user who
sees only the last line of a traceback (the CLI prints only that line) knows what is wrong and what
to do.
Build messages with :func:`describe` rather than by hand.

Example:
    >>> describe("distmat", "rank_metrics", "a finite 2-D array", "NaN at (3, 7)",
    ...          "check the features")
    'distmat in rank_metrics: expected a finite 2-D array, got NaN at (3, 7). Check the features.'
"""

from __future__ import annotations

__all__ = [
    "ReidbenchError",
    "InputError",
    "DataError",
    "CheckpointError",
    "ProtocolError",
    "RegistryError",
    "IncomparableResultsError",
    "describe",
    "first_line",
    "is_allocation_failure",
    "quote",
    "shorten",
]

#: Longest stretch of a message that names a submitted value (ids, file names, reasons).
MAX_QUOTED = 200


def shorten(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was.

    Example:
        >>> shorten("x" * 1000, 12)
        'xxxxxxxxxxxx... (1,000 characters)'
    """
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def first_line(exc: BaseException, limit: int = MAX_QUOTED) -> str:
    r"""The first non-blank line of an exception's message (else its type's name), cut to ``limit``.

    For quoting a third-party error (torch, onnxruntime, numpy) inside one of ours: their messages
    run to many lines (a traceback of the worker, a whole graph).

    Example:
        >>> first_line(ValueError("\n  bad header\nmore detail"))
        'bad header'
        >>> first_line(KeyError())
        'KeyError'
    """
    line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return line[:limit]


def is_allocation_failure(exc: BaseException) -> bool:
    """Whether building something failed for lack of memory (Python's or torch's allocator).

    torch reports a refused allocation as a ``RuntimeError`` ("... can't allocate memory ...",
    "DefaultCPUAllocator"), Python as ``MemoryError``.
    """
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "alloc" in str(exc))


def quote(value: object, limit: int = 80) -> str:
    """``repr(value)`` for a message, shortened (a submitted id may be a million characters long).

    Example:
        >>> quote("abc")
        "'abc'"
        >>> quote("a" * 100, 10)
        "'aaaaaaaaa... (102 characters)"
    """
    return shorten(repr(value), limit)


def describe(what: str, where: str, expected: str, got: object, fix: str = "") -> str:
    """Format an error message in the project's one style.

    Args:
        what: The argument, field, file or tracklet that is wrong.
        where: The function, file or command where it was found.
        expected: What was expected, in words.
        got: What was found instead (formatted with ``str``).
        fix: How to fix it; a short imperative sentence.

    Returns:
        ``"<what> in <where>: expected <expected>, got <got>. <fix>"``; ``what``, ``where`` and
        ``got`` are shortened (:func:`shorten`) so a hostile value never floods the line.
    """
    what, where, got = shorten(what), shorten(where, 2 * MAX_QUOTED), shorten(str(got), 400)
    msg = f"{what} in {where}: expected {expected}, got {got}."
    if fix:
        msg += f" {fix[0].upper()}{fix[1:]}" + ("" if fix.endswith((".", "?", "!")) else ".")
    return msg


class ReidbenchError(Exception):
    """Base class of every error reidbench raises on purpose.

    The CLI catches this class, prints the message on one line and exits non-zero.

    Args:
        message: The one-line message (built with :func:`describe`).
        param: The library parameter the message is about (``"device"``, ``"out_dir"``), when it
            is about one. Library messages name parameters, never command-line flags; the CLI
            maps ``param`` (and ``name=value`` mentions of it) to its flag when it prints.

    Example:
        >>> err = InputError("device in evaluate: expected 'cpu', got 'tpu'.", param="device")
        >>> err.param
        'device'
    """

    exit_code: int = 2

    def __init__(self, *args: object, param: str | None = None) -> None:
        super().__init__(*args)
        self.param = param


class InputError(ReidbenchError, ValueError):
    """An argument or array has the wrong shape, type, value or content."""


class DataError(ReidbenchError):
    """A dataset copy, features file or result record on disk is unusable.

    It is missing, malformed or inconsistent.
    """


class CheckpointError(ReidbenchError):
    """A checkpoint cannot be used.

    It is unreadable, unsafe (would need unpickling code) or belongs to another model.
    """


class ProtocolError(ReidbenchError):
    """A protocol is unknown, malformed, or not satisfied by the inputs given."""


class RegistryError(ReidbenchError, KeyError):
    """A registry lookup or registration failed.

    The name is unknown to the registry, registered twice, or resolves to the wrong kind of object.
    """

    def __str__(self) -> str:  # KeyError quotes its message; keep ours readable.
        return str(self.args[0]) if self.args else ""


class IncomparableResultsError(ReidbenchError):
    """Two results were computed under protocols whose fingerprints differ."""
