"""Checkpoint metadata is untrusted input: every field reidbench reads is typed and bounded here.

:func:`check_meta_fields` runs on every checkpoint's metadata as it is read
(:func:`reidbench.adapters.load_checkpoint`, :func:`~reidbench.adapters.read_checkpoint_meta`), so
a file claiming ``input_size [100000, 100000]`` (frames of 30 GB), ``[1, 1]`` (no network can
look at one pixel) or ``config.seq_len = "six"`` is one :class:`~reidbench.errors.CheckpointError`
naming the field, before any model is built or any frame decoded.

Bounds (chosen well outside what any re-ID model uses: frames of 256 x 128, clips of 4-16):

=================  ==========================================================================
``input_size``     ``[height, width]``, integers in [16, 1024] (top level and in ``config``)
``seq_len``        an integer in [1, 256] (in ``config``)
other numbers      in ``config``: within +-1,000,000 (no option is a count beyond that)
strings            at most 1,000 characters (``baseline``, ``adapter``, ``split``, ...)
lists              at most 64 items
``config``         an object (the adapter's options)
``epoch``          an integer >= 0
=================  ==========================================================================

Whether a value has the type the adapter's option wants is the adapter's business: a stored
option its constructor rejects becomes one CheckpointError too (:func:`build_from_checkpoint`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reidbench.errors import (
    CheckpointError,
    InputError,
    ReidbenchError,
    describe,
    first_line,
    quote,
    shorten,
)

__all__ = ["check_meta_fields", "build_from_checkpoint", "check_owner", "check_input_size",
           "check_option_values", "INPUT_SIZE_RANGE", "SEQ_LEN_RANGE"]

INPUT_SIZE_RANGE = (16, 1024)
SEQ_LEN_RANGE = (1, 256)
_INT_LIMIT = 1_000_000
_STR_LIMIT = 1000
_LIST_LIMIT = 64
_STRING_FIELDS = ("baseline", "adapter", "split", "train_dataset", "dataset", "reidbench")
_FIX = "re-save the checkpoint with `reidbench train` (or reidbench.adapters.save_checkpoint)"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _fail(field: str, where: str, expected: str, got: Any) -> CheckpointError:
    return CheckpointError(describe(f"metadata {field!r}", where, expected, quote(got), _FIX))


def _fail_option(field: str, where: str, expected: str, got: Any) -> InputError:
    name = field.removeprefix("config.")
    return InputError(describe(f"option {name!r}", where, expected, quote(got),
                               "pass a value within bounds in the model options"), param="config")


def check_input_size(value: Any, field: str, where: str, fail: Any = _fail) -> tuple[int, int]:
    """``[height, width]`` within :data:`INPUT_SIZE_RANGE`, as a tuple.

    Raises:
        CheckpointError: Not two integers in range.
    """
    lo, hi = INPUT_SIZE_RANGE
    if not (isinstance(value, (list, tuple)) and len(value) == 2
            and all(_is_int(v) and lo <= v <= hi for v in value)):
        raise fail(field, where, f"[height, width] in pixels, each an integer in [{lo}, {hi}]",
                   value)
    return int(value[0]), int(value[1])


def _check_value(value: Any, field: str, where: str, fail: Any = _fail) -> None:
    if isinstance(value, str) and len(value) > _STR_LIMIT:
        raise fail(field, where, f"a string of at most {_STR_LIMIT} characters",
                   f"{len(value):,} characters")
    if _is_int(value) and abs(value) > _INT_LIMIT:
        raise fail(field, where, f"an integer within +-{_INT_LIMIT:,}", value)
    if isinstance(value, float) and not abs(value) <= _INT_LIMIT:
        raise fail(field, where, f"a finite number within +-{_INT_LIMIT:,}", value)
    if isinstance(value, (list, tuple)):
        if len(value) > _LIST_LIMIT:
            raise fail(field, where, f"a list of at most {_LIST_LIMIT} items",
                       f"{len(value):,} items")
        for i, v in enumerate(value):
            _check_value(v, f"{field}[{i}]", where, fail)
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_value(v, f"{field}.{k}", where, fail)


def _check_config(config: Mapping[str, Any], where: str, fail: Any) -> None:
    if config.get("input_size") is not None:
        check_input_size(config["input_size"], "config.input_size", where, fail)
    seq = config.get("seq_len")
    lo, hi = SEQ_LEN_RANGE
    if seq is not None and not (_is_int(seq) and lo <= seq <= hi):
        raise fail("config.seq_len", where, f"an integer in [{lo}, {hi}] (frames per clip)", seq)
    for key, value in config.items():
        _check_value(value, f"config.{key}", where, fail)


def check_option_values(config: Mapping[str, Any], where: str) -> None:
    """The bounds of a checkpoint's stored ``config``, for options a user gives (``--config``).

    An option such as ``M=10**12`` passes every type check and then asks torch for terabytes;
    ``seq_len`` and ``input_size`` have their ranges, every other number is within +-1,000,000.

    Raises:
        InputError: The first option out of its bounds, named (``param="config"``).
    """
    _check_config(config, where, _fail_option)


def check_meta_fields(meta: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Type and bound every metadata field reidbench reads (see the module docstring).

    Args:
        meta: Metadata already known to be a JSON object of plain values.
        where: The checkpoint path, for messages.

    Returns:
        ``meta`` as a dict (unchanged).

    Raises:
        CheckpointError: The first field out of its type or bounds, named.
    """
    for name in _STRING_FIELDS:
        v = meta.get(name)
        if v is not None and not (isinstance(v, str) and len(v) <= _STR_LIMIT):
            raise _fail(name, where, f"a string of at most {_STR_LIMIT} characters", v)
    if meta.get("input_size") is not None:
        check_input_size(meta["input_size"], "input_size", where)
    epoch = meta.get("epoch")
    if epoch is not None and not (_is_int(epoch) and 0 <= epoch <= _INT_LIMIT):
        raise _fail("epoch", where, "an integer >= 0", epoch)
    config = meta.get("config")
    if config is not None:
        if not isinstance(config, Mapping):
            raise _fail("config", where, "a JSON object of adapter options", config)
        _check_config(config, where, _fail)
    return dict(meta)


def check_owner(adapter_name: str, meta: Mapping[str, Any], where: str) -> None:
    """Refuse another model's checkpoint before its stored options reach this adapter.

    A checkpoint names the model it holds (``meta["baseline"]`` or ``meta["adapter"]``); given to
    another adapter, its options would otherwise read as unknown options of that adapter.

    Raises:
        CheckpointError: ``"expected weights of 'stmn', got weights of 'cosam'"``.
    """
    from reidbench.adapters import adapter_class

    owner = meta.get("baseline") or meta.get("adapter")
    if not isinstance(owner, str) or not owner:
        return
    card = getattr(adapter_class(adapter_name), "card", None)
    name = getattr(card, "name", None)
    if name and name != "unnamed" and owner != name:
        raise CheckpointError(describe("checkpoint", where, f"weights of {name!r}",
                                       f"weights of {quote(owner)}",
                                       f"use it with adapter {shorten(owner, 60)}, or "
                                       "give the right checkpoint"))


#: A model may hold this many times its checkpoint file's bytes (float16 files, buffers) plus
#: :data:`_SIZE_SLACK` before its options are taken to be lying.
_SIZE_FACTOR = 2
_SIZE_SLACK = 64 << 20


def _check_model_size(build: Any, where: str, adapter_name: str, stored: bool) -> None:
    """Refuse options that build a model far larger than the checkpoint at ``where``.

    The model is built on the ``meta`` device (shapes only); an adapter that cannot be built
    there (it computes with real tensors in its constructor) is not checked.
    """
    from pathlib import Path

    path = Path(where)
    if not path.is_file():
        return
    try:
        import torch

        with torch.device("meta"):
            adapter = build()
        model = getattr(adapter, "model", None)
        if not isinstance(model, torch.nn.Module):
            return
        need = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    except Exception:  # noqa: BLE001 - any failure here just skips the size check
        return
    have = path.stat().st_size
    if need > _SIZE_FACTOR * have + _SIZE_SLACK:
        source = "the checkpoint's stored config" if stored else "--config"
        raise CheckpointError(describe(
            "model size", where, f"a model whose weights fit the checkpoint ({have:,} bytes)",
            f"options ({source}) that build {adapter_name!r} with {need:,} bytes of weights",
            "use the config the checkpoint was trained with"))


def build_from_checkpoint(build: Any, stored: Mapping[str, Any], options: Mapping[str, Any],
                          where: str, adapter_name: str) -> Any:
    """Call ``build()`` (the adapter's constructor); a refusal of a stored option is one line.

    Args:
        build: Zero-argument callable constructing the adapter from the resolved options.
        stored: The options the checkpoint's metadata stored (``meta["config"]``).
        options: The options the user gave (``--config``); they win over ``stored``.
        where: The checkpoint path.
        adapter_name: The adapter, for messages.

    Before the real construction the model is built on torch's ``meta`` device (no memory), and
    refused when its weights would need far more bytes than the checkpoint file holds
    (:func:`_check_model_size`): options such as a memory of 900,000 items pass every type and
    range check yet would allocate gigabytes, and such a model could never load the checkpoint.

    Raises:
        CheckpointError: The constructor refused an option the checkpoint stored (a wrong type or
            value), with the exception's first line; or the options build a model far larger
            than the checkpoint.
        InputError: The constructor refused, and every option came from the user.
    """
    try:
        _check_model_size(build, where, adapter_name, bool(stored))
        return build()
    except ReidbenchError as exc:
        if stored and isinstance(exc, InputError) and not options:
            raise CheckpointError(f"{exc} (the option comes from the checkpoint's stored config "
                                  f"in {where})") from None
        raise
    except (TypeError, ValueError, OverflowError, AssertionError, ArithmeticError) as exc:
        reason = first_line(exc)
        from_user = sorted(set(options))
        if stored and not from_user:
            raise CheckpointError(describe("metadata 'config'", where, f"options adapter "
                                           f"{adapter_name!r} can build its model from",
                                           f"{type(exc).__name__}: {reason}", _FIX)) from None
        raise InputError(describe("options", f"adapter {adapter_name!r}", "options of the types "
                                  "the adapter takes", f"{type(exc).__name__}: {reason}",
                                  "check --config" + (" and the checkpoint's stored config"
                                                      if stored else ""))) from None
