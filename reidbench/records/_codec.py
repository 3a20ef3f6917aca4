"""The machinery behind every record type: frozen JSON values, fields with docs, one codec.

A record type is a frozen, keyword-only dataclass deriving from :class:`Record` whose fields are
declared with :func:`spec` (a meaning for the generated schema doc, a default when the field may
be absent, ``omit_none`` when a None value is left out of the JSON). The field's type annotation
is the schema: :meth:`Record.from_json` checks every value against it (recursing into nested
records, lists and objects) and collects every problem, one line each, before anything is built;
:meth:`Record.to_json` writes the fields in declaration order. A type may add checks that the
annotation cannot say by overriding :meth:`Record._rules`.

Supported annotations: ``str``, ``int``, ``float`` (finite; an int is accepted and kept as it is),
``bool``, ``Any`` (any JSON value), a :class:`Record` subclass, ``tuple[T, ...]`` and
``tuple[T1, T2]`` (JSON lists), ``Mapping[str, T]`` (JSON objects) and unions (``T | None``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from reidbench.errors import DataError, describe

__all__ = ["FrozenDict", "Problems", "Record", "RecordError", "spec", "type_text"]

R = TypeVar("R", bound="Record")
_FIX = "re-run the evaluation"


class FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes: the JSON objects inside a frozen record.

    It is still a ``dict`` (``json.dumps`` writes it, ``isinstance(x, dict)`` holds), it pickles
    and copies, and every mutating method raises ``TypeError``.
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a record's JSON objects are frozen: build a new record instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: kv[0])))


def freeze(value: Any) -> Any:
    """Deep-freeze a JSON value: dicts become :class:`FrozenDict`, lists become tuples."""
    if isinstance(value, FrozenDict) or isinstance(value, Record):
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON form of a frozen value: records, dicts and lists all the way down."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def spec(doc: str, *, default: Any = dataclasses.MISSING, omit_none: bool = False) -> Any:
    """Declare a record field.

    Args:
        doc: What the field means (one or more sentences); it goes into the generated schema doc.
        default: The value when the field is absent from the JSON (no default: required). Dicts
            and lists are frozen and copied per record.
        omit_none: Leave the key out of the JSON when the value is None.
    """
    meta = {"doc": doc, "omit_none": omit_none}
    if isinstance(default, (dict, list)):
        frozen = freeze(default)
        return dataclasses.field(default_factory=lambda: frozen, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class Problems:
    """Collects one-line problems about one file, each naming the field."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[str] = []

    def add(self, at: str, expected: str, got: object, fix: str = _FIX) -> None:
        """Record that the value at ``at`` is not what was expected."""
        what = f"field {at}" if at else "the top level"
        self.items.append(describe(what, self.where, expected, got, fix))

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)


class RecordError(DataError):
    """A record that breaks its schema; :attr:`problems` lists every problem, one line each.

    The message is the first problem, with a count of the others.
    """

    def __init__(self, problems: list[str], hint: str = "") -> None:
        self.problems = tuple(problems)
        more = len(problems) - 1
        tail = f" ({more} more problem(s){'; ' + hint if hint else ''})" if more > 0 else ""
        super().__init__(problems[0] + tail)


def show(value: Any) -> str:
    """A short description of a JSON value for a message: the value, or its kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def join(at: str, key: object) -> str:
    """The path of ``key`` below ``at`` (``metrics.mAP``, ``splits[0]``)."""
    if isinstance(key, int):
        return f"{at}[{key}]"
    return f"{at}.{key}" if at else str(key)


def _hints(cls: type) -> dict[str, Any]:
    cache = cls.__dict__.get("_hints_cache")
    if cache is None:
        cache = typing.get_type_hints(cls)
        type.__setattr__(cls, "_hints_cache", cache)
    return cache


def _is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Record)


def type_text(tp: Any) -> str:
    """The JSON type an annotation stands for, in words (for messages and the schema doc)."""
    if tp is Any:
        return "any JSON value"
    if _is_record(tp):
        return f"an object ({tp.__name__})"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        alts = [type_text(a) for a in args if a is not type(None)]
        text = " or ".join(alts)
        return f"null or {text}" if type(None) in args else text
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} {_plural(args[0])}"
    if origin in (Mapping, dict):
        return "an object" if args[1] is Any else f"an object of {_plural(args[1])}"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            type(None): "null"}.get(tp, getattr(tp, "__name__", str(tp)))


def _plural(tp: Any) -> str:
    return _plural_text(type_text(tp))


def _plural_text(text: str) -> str:
    if text.startswith("null or "):
        return _plural_text(text[len("null or "):]) + " or nulls"
    for article in ("an ", "a "):
        if text.startswith(article):
            text = text[len(article):]
            break
    for word in ("string", "integer", "number", "object", "list"):
        if text.startswith(word):
            return word + "s" + text[len(word):]
    return {"true or false": "booleans", "any JSON value": "JSON values"}.get(text, text)


_BAD = object()  # a value that did not parse (its problem is recorded)


def _scalar_ok(tp: Any, raw: Any) -> bool:
    if tp is bool:
        return isinstance(raw, bool)
    if tp is int:
        return isinstance(raw, int) and not isinstance(raw, bool)
    if tp is float:
        return (isinstance(raw, (int, float)) and not isinstance(raw, bool)
                and math.isfinite(raw))
    if tp is str:
        return isinstance(raw, str)
    if tp is type(None):
        return raw is None
    raise TypeError(f"unsupported record annotation {tp!r}")


def parse(tp: Any, raw: Any, at: str, p: Problems, ctx: dict[str, Any]) -> Any:
    """Check ``raw`` against ``tp``: the frozen value, or ``_BAD`` (problem added)."""
    if tp is Any:
        return freeze(raw)
    if _is_record(tp):
        return tp._parse(raw, at, p, ctx)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        alts = [a for a in args if a is not type(None)]
        if len(alts) == 1:
            if raw is None:
                p.add(at, type_text(tp), "null")
                return _BAD
            return parse(alts[0], raw, at, p, ctx)
        for alt in alts:
            scratch = Problems(p.where)
            value = parse(alt, raw, at, scratch, ctx)
            if value is not _BAD:
                return value
        p.add(at, type_text(tp), show(raw))
        return _BAD
    if origin is tuple:
        fixed = not (len(args) == 2 and args[1] is Ellipsis)
        if not isinstance(raw, list) or (fixed and len(raw) != len(args)):
            p.add(at, type_text(tp), show(raw) if not isinstance(raw, list) else
                  f"a list of {len(raw)}")
            return _BAD
        items = [parse(args[i] if fixed else args[0], v, join(at, i), p, ctx)
                 for i, v in enumerate(raw)]
        return _BAD if any(v is _BAD for v in items) else tuple(items)
    if origin in (Mapping, dict):
        if not isinstance(raw, dict):
            p.add(at, type_text(tp), show(raw))
            return _BAD
        values = {k: parse(args[1], v, join(at, k), p, ctx) for k, v in raw.items()}
        return _BAD if any(v is _BAD for v in values.values()) else FrozenDict(values)
    if not _scalar_ok(tp, raw):
        p.add(at, type_text(tp), show(raw))
        return _BAD
    return raw


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
    """Base of the record types: frozen, typed, written and read by one codec (see module doc)."""

    #: Shown in the schema doc as the record's heading (defaults to the class name).
    doc_title: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, freeze(getattr(self, f.name)))

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON data (dicts and lists), fields in declaration order."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = thaw(value)
        return out

    @classmethod
    def from_json(cls: type[R], data: Any, where: str = "record", hint: str = "") -> R:
        """Check and build a record from JSON data; the validator.

        Args:
            data: Parsed JSON (``json.loads`` output).
            where: The file it came from, named in every problem.
            hint: Added to the message when there is more than one problem.

        Raises:
            RecordError: Listing every problem found (``exc.problems``), one line each.
        """
        record, problems = cls.validate(data, where)
        if record is None:
            raise RecordError(problems, hint)
        return record

    @classmethod
    def validate(cls: type[R], data: Any, where: str = "record") -> tuple[R | None, list[str]]:
        """``(record, [])`` for valid data, else ``(None, every problem)``."""
        p = Problems(where)
        value = cls._parse(data, "", p, {})
        if value is _BAD or p.items:
            return None, p.items or [describe("record", where, "a valid record", "invalid")]
        return value, []

    @classmethod
    def _parse(cls: type[R], raw: Any, at: str, p: Problems, ctx: dict[str, Any]) -> Any:
        if not isinstance(raw, dict):
            p.add(at, f"an object ({cls.__name__})", show(raw))
            return _BAD
        before = len(p)
        cls._prepare(raw, ctx)
        hints = _hints(cls)
        values: dict[str, Any] = {}
        bad: set[str] = set()
        for f in dataclasses.fields(cls):
            if f.name not in raw:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    p.add(join(at, f.name), type_text(hints[f.name]), "nothing (missing)")
                    bad.add(f.name)
                continue
            value = parse(hints[f.name], raw[f.name], join(at, f.name), p, ctx)
            if value is _BAD:
                bad.add(f.name)
            else:
                values[f.name] = value
        known = {f.name for f in dataclasses.fields(cls)}
        for key in raw:
            if key not in known:
                p.add(join(at, key), f"a field of {cls.__name__} ({', '.join(sorted(known))})",
                      "an unknown field", "remove it, or add the field to the record type in "
                      "reidbench/records")
        cls._rules(raw, values, at, p, ctx)
        if len(p) > before or bad:
            return _BAD
        return cls(**values)

    @classmethod
    def _prepare(cls, raw: dict[str, Any], ctx: dict[str, Any]) -> None:
        """Set facts in ``ctx`` that the fields below need before they are read (override)."""

    @classmethod
    def _rules(cls, raw: dict[str, Any], values: dict[str, Any], at: str, p: Problems,
               ctx: dict[str, Any]) -> None:
        """Checks the annotations cannot express (override in a record type).

        Args:
            raw: The JSON object being read.
            values: The fields that passed their type check, already frozen.
            at: The object's path (``splits[0]``; ``""`` at the top level).
            p: Where to add problems.
            ctx: Facts shared down the tree (e.g. the registered protocol), set by a parent.
        """
