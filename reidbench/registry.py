"""A small generic registry: name -> object, with lazy ``"module:attr"`` targets.

Adapters, datasets, protocols, metric presets and AP variants all register in a :class:`Registry`.
A registry refuses duplicates, checks an optional base class, resolves lazy targets on first use and
suggests close names when a lookup fails.

Example:
    >>> r = Registry("ap variant")
    >>> _ = r.register("noninterp", "math:sqrt")  # lazy: imported on first get
    >>> r.get("noninterp")(4.0)
    2.0
    >>> "Did you mean 'noninterp'?" in suggest("noninterpp", r.names())
    True
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from reidbench.errors import RegistryError, describe

__all__ = ["Registry", "resolve_target", "suggest"]

T = TypeVar("T")


def suggest(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """Return a "Did you mean ...?" sentence for ``name`` among ``choices``, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return "Did you mean " + " or ".join(repr(c) for c in close) + "?"


def resolve_target(target: str) -> Any:
    """Import ``"package.module:attr"`` (attr may be dotted) and return the attribute.

    Raises:
        RegistryError: If the string is malformed, the module cannot be imported or lacks the attr.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise RegistryError(
            describe("target", "registry", "'package.module:attr'", repr(target), "")
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(
            describe(
                "module", repr(target), "an importable module", f"ImportError ({exc})",
                "install the package that provides it",
            )
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise RegistryError(
                describe("attribute", repr(target), f"{module_name} to define {attr}", "nothing",
                         "check the spelling of the target")
            ) from exc
    return obj


class Registry(Generic[T]):
    """A named collection of objects of one kind.

    Args:
        kind: What the registry holds, in words (used in error messages), e.g. ``"adapter"``.
        base: Optional class every resolved object must be (or subclass, for classes).
    """

    def __init__(self, kind: str, base: type | None = None) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, Any] = {}
        self._frozen = False

    def register(self, name: str, obj: T | str | None = None, *, overwrite: bool = False) -> Any:
        """Register ``obj`` (an object or a lazy ``"module:attr"`` string) under ``name``.

        Called with only ``name`` it returns a decorator.

        Raises:
            RegistryError: If ``name`` is taken (and ``overwrite`` is false) or the registry is
                frozen.
        """
        if obj is None:
            def decorator(o: T) -> T:
                self.register(name, o, overwrite=overwrite)
                return o
            return decorator
        if self._frozen:
            raise RegistryError(describe(self.kind, "registry", "an open registry", "a frozen one",
                                         "register before calling freeze()"))
        if name in self._entries and not overwrite:
            raise RegistryError(
                describe(f"{self.kind} {name!r}", "registry", "a new name",
                         "a name that is already registered", "choose another name")
            )
        if not _is_lazy(obj):
            self._check(name, obj)
        self._entries[name] = obj
        return obj

    def _check(self, name: str, obj: Any) -> None:
        if self.base is None:
            return
        ok = issubclass(obj, self.base) if isinstance(obj, type) else isinstance(obj, self.base)
        if not ok:
            raise RegistryError(
                describe(f"{self.kind} {name!r}", "registry", f"a {self.base.__name__}",
                         type(obj).__name__ if not isinstance(obj, type) else obj.__name__, "")
            )

    def get(self, name: str) -> T:
        """Return the object registered under ``name``, importing a lazy target on first use.

        Raises:
            RegistryError: If ``name`` is unknown (with close-match suggestions).
        """
        if name not in self._entries:
            names = sorted(self._entries)
            raise RegistryError(
                describe(f"{self.kind} {name!r}", "registry", f"one of {names}", "an unknown name",
                         suggest(name, names))
            )
        obj = self._entries[name]
        if _is_lazy(obj):
            obj = resolve_target(obj)
            self._check(name, obj)
            self._entries[name] = obj
        return obj

    def freeze(self) -> None:
        """Refuse further registrations."""
        self._frozen = True

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        """Yield ``(name, object)`` pairs, resolving lazy targets."""
        for name in self.names():
            yield name, self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"




def _is_lazy(obj: object) -> bool:
    return isinstance(obj, str) and ":" in obj
