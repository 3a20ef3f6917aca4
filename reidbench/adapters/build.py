"""Build an adapter from its name, a checkpoint's metadata and the user's options: one recipe.

A checkpoint written by ``reidbench train`` carries the architecture's config
(``meta["config"]``), so the same model is rebuilt; the user's options win over it. The
evaluation engine (one model per split) and ``reidbench export`` both build adapters this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reidbench.adapters.base import Adapter
from reidbench.errors import CheckpointError, describe

__all__ = ["build_adapter", "build_from_meta", "resolve_options"]


def resolve_options(name: str, meta: Mapping[str, Any], path: str | None,
                    options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(stored, resolved)``: the checkpoint's stored config and the constructor options.

    Raises:
        CheckpointError: Another model's checkpoint, or a stored config that is no JSON object.
    """
    from reidbench.adapters import adapter_class
    from reidbench.adapters.meta import check_owner

    stored = meta.get("config", {})
    if not isinstance(stored, dict):
        raise CheckpointError(describe("metadata 'config'", str(path), "a JSON object of "
                                       "adapter options", f"a {type(stored).__name__}",
                                       "re-save the checkpoint with a dict config"))
    if path:
        check_owner(name, meta, str(path))
    if stored:
        stored = adapter_class(name).checkpoint_config(stored)
    return dict(stored), {**stored, **options}


def build_from_meta(name: str, stored: Mapping[str, Any], options: Mapping[str, Any],
                    path: str | None, loaded: Any = None) -> Adapter:
    """Construct the adapter from ``{**stored, **options}`` and apply ``loaded``'s weights.

    Raises:
        CheckpointError, InputError: The constructor refused an option (named, with where it came
            from), or the weights do not fit.
    """
    from reidbench.adapters import get_adapter
    from reidbench.adapters.meta import build_from_checkpoint

    resolved = {**stored, **options}
    adapter = build_from_checkpoint(lambda: get_adapter(name, **resolved), stored, options,
                                    str(path), name)
    if loaded is not None:
        adapter.apply_checkpoint(loaded)
    return adapter


def build_adapter(name: str, checkpoint: str | None = None,
                  options: Mapping[str, Any] | None = None) -> Adapter:
    """The adapter ``name`` with ``checkpoint``'s weights, in eval mode on the CPU.

    Raises:
        CheckpointError: A missing, unsafe or mismatched checkpoint.
        InputError, RegistryError: An unknown adapter or option.
    """
    from reidbench.adapters.checkpoint import load_checkpoint

    loaded = load_checkpoint(checkpoint) if checkpoint else None
    stored, _ = resolve_options(name, loaded.meta if loaded else {}, checkpoint, options or {})
    return build_from_meta(name, stored, options or {}, checkpoint, loaded).to("cpu").eval()
