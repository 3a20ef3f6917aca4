"""Adapters: the one interface between reidbench and any model.

``get_adapter("stmn")`` finds an adapter registered under the ``reidbench.adapters`` entry-point
group (the five baselines register there exactly as a third-party package would);
``get_adapter("mypkg.module:MyAdapter")`` loads an unregistered one.
"""

from __future__ import annotations

import inspect
import re
from importlib.metadata import entry_points
from typing import Any

from reidbench.adapters.base import Adapter, AdapterCard
from reidbench.adapters.checkpoint import (
    Checkpoint,
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
    sha256_file,
)
from reidbench.adapters.features import FeaturesFile, load_features_file
from reidbench.adapters.imported import ImportedWeights, import_weights, rename_tensors
from reidbench.adapters.module import ModuleAdapter
from reidbench.adapters.trainable import TrainableAdapter, TrainRecipe
from reidbench.errors import InputError, RegistryError, describe, first_line, is_allocation_failure
from reidbench.registry import Registry, resolve_target, suggest

__all__ = [
    "Adapter",
    "AdapterCard",
    "Checkpoint",
    "FeaturesFile",
    "ImportedWeights",
    "ModuleAdapter",
    "TrainRecipe",
    "TrainableAdapter",
    "adapter_class",
    "adapter_registry",
    "get_adapter",
    "import_weights",
    "list_adapters",
    "load_checkpoint",
    "load_features_file",
    "read_checkpoint_meta",
    "rename_tensors",
    "save_checkpoint",
    "sha256_file",
]

ENTRY_POINT_GROUP = "reidbench.adapters"


def adapter_registry() -> Registry[Any]:
    """Return a fresh registry of the adapters installed under the entry-point group (lazy)."""
    reg: Registry[Any] = Registry("adapter")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in reg:
            reg.register(ep.name, ep.value)
    return reg


def list_adapters() -> list[str]:
    """Names of the installed adapters."""
    return adapter_registry().names()


def get_adapter(name: str, **config: Any) -> Adapter:
    """Instantiate an adapter by registered name or ``"module:Class"`` target.

    Args:
        name: Registered name (``"stmn"``) or import target (``"pkg.mod:Class"``).
        **config: Passed to the adapter's constructor.

    Raises:
        RegistryError: Unknown name (with suggestions) or a target that is not an Adapter.
        InputError: An option the adapter does not take, or a required one left out.
    """
    from reidbench.adapters.meta import check_option_values

    cls = adapter_class(name)
    _check_options(cls, name, config)
    check_option_values(config, f"adapter {name!r}")
    try:
        return cls(**config)
    except (MemoryError, RuntimeError) as exc:
        if not is_allocation_failure(exc):
            raise
        raise InputError(describe("options", f"adapter {name!r}", "options building a model "
                                  "that fits in memory", first_line(exc), "pass smaller sizes "
                                  "in the model options"), param="config") from None
    except TypeError as exc:
        # adapters that forward **options to a config dataclass refuse unknown keys only there
        match = re.search(r"unexpected keyword argument '(\w+)'|missing \d+ required", str(exc))
        if not match:
            raise
        raise InputError(describe(f"option {match.group(1)!r}" if match.group(1) else "options",
                                  f"adapter {name!r}", "options the adapter takes",
                                  str(exc), "check the model options and the checkpoint's "
                                  "stored config"), param="config") from None


def _check_options(cls: type[Adapter], name: str, config: dict[str, Any]) -> None:
    """Refuse options that the constructor's signature cannot take (one line, with suggestions)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    takes = [n for n, p in list(params.items())[1:]
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    unknown = sorted(set(config) - set(takes))
    if unknown:
        raise InputError(describe(f"option {unknown[0]!r}", f"adapter {name!r}",
                                  f"one of {takes}" if takes else "no options",
                                  f"unknown option(s) {unknown[:3]}",
                                  suggest(unknown[0], takes) or "check the model options"),
                         param="config")


def adapter_class(name: str) -> type[Adapter]:
    """Return the adapter class for a registered name or ``"module:Class"`` target.

    Raises:
        RegistryError: Unknown name (with suggestions) or a target that is not an Adapter.
    """
    cls = resolve_target(name) if ":" in name else adapter_registry().get(name)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise RegistryError(describe(f"adapter {name!r}", "get_adapter", "a subclass of "
                                     "reidbench.adapters.Adapter", repr(cls), ""))
    return cls
