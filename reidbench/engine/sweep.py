"""Ablation sweeps: train and evaluate a baseline on every cell of a hyper-parameter grid.

``run_sweep`` trains ``trials`` seeded models per cell (``M=5,10,20 N=5,10,20``), evaluates each
under a protocol, and writes ``sweep.json`` (schema ``reidbench.sweep/1``): one row per (cell,
trial) with the axes, the seed and the headline metrics, plus each run's result record on disk.
It is resumable: a cell/trial whose result record exists is read back, not re-run, and a
half-trained one continues from its last checkpoint. Resuming is safe only under the same settings,
so the sweep stores what determines its runs (baseline, model config, training options, dataset
fingerprint, protocol and its fingerprint, procedure) with their hash in ``sweep.json`` and, per
cell, with the cell's axes and seed in ``cells/<cell>/cell.json``; a re-run whose settings differ
is refused before anything is trained (use a new ``--out``, or ``fresh=True`` / ``--fresh`` to
start over). Axis names are checked against the adapter's model options before training. The
report layer renders the grid figures from ``sweep.json``.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from reidbench.errors import DataError, InputError, ProtocolError, describe, first_line
from reidbench.fileio import loads_bounded, write_json_atomic
from reidbench.protocols.record import canonical_json
from reidbench.records.sweep import SWEEP_SCHEMA

__all__ = ["parse_grid", "run_sweep", "sweep_settings", "settings_hash", "check_axes"]

CELL_FILE = "cell.json"
Progress = Callable[[str, int, int], None]
# Run settings that do not change what a run computes (where it runs, whether it may resume).
_NOT_SETTINGS = ("device", "resume")
_FRESH_HINT = ("use a new folder for these settings, or pass fresh=true to delete the old cells "
               "and start over")


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if "+" in text:  # stage sets such as 4+5 -> [4, 5]
        return [_value(t) for t in text.split("+")]
    return text


def parse_grid(spec: str) -> dict[str, list[Any]]:
    """Parse ``"M=5,10,20 N=5,10"`` into ``{"M": [5, 10, 20], "N": [5, 10]}``.

    Values are ints, floats, booleans, ``a+b`` lists (e.g. COSAM stage sets) or strings.

    Raises:
        InputError: An axis without ``=`` or values, or a repeated axis.
    """
    grid: dict[str, list[Any]] = {}
    for part in spec.split():
        name, sep, values = part.partition("=")
        if not sep or not name or not values:
            raise InputError(describe("grid axis", repr(spec), "NAME=v1,v2,...", repr(part),
                                      "e.g. 'M=5,10,20 N=5,10'"), param="grid")
        if name in grid:
            raise InputError(describe(f"grid axis {name!r}", repr(spec), "each axis once",
                                      "a repeat", ""))
        grid[name] = [_value(v) for v in values.split(",") if v]
        cells = [_cell_name({name: v}, 0) for v in grid[name]]
        if len(set(cells)) != len(cells):  # M=5,5: two identical cells sharing one folder
            again = next(v for v, c in zip(grid[name], cells, strict=True) if cells.count(c) > 1)
            raise InputError(describe(f"grid axis {name!r}", repr(spec), "each value once",
                                      f"{again!r} more than once", "drop the repeat"),
                             param="grid")
    if not grid:
        raise InputError(describe("grid", "reidbench sweep", "at least one axis", "none", ""))
    return grid


def _cell_name(cell: dict[str, Any], trial: int) -> str:
    parts = [f"{k}={'+'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in cell.items()]
    return "_".join(parts) + f"_t{trial}"


def _json_ready(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: list(o) if isinstance(o, tuple) else
                                 str(o)))


def settings_hash(settings: dict[str, Any]) -> str:
    """sha256 (16 hex) of the canonical JSON of ``settings``."""
    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()[:16]


def sweep_settings(adapter_name: str, data_root: str | Path, dataset: str, protocol: str,
                   model_config: dict[str, Any] | None, train_options: Any,
                   procedure: dict[str, Any] | None) -> dict[str, Any]:
    """What determines every run of a sweep besides its axes and trial (JSON-ready).

    The dataset enters by its fingerprint (ids, labels, frame names, splits), not its path, so a
    moved copy resumes; the protocol by id and fingerprint.
    """
    from reidbench.datasets import load
    from reidbench.engine.evalset import dataset_fingerprint
    from reidbench.protocols import get_protocol

    proto = get_protocol(protocol)
    options = {k: v for k, v in asdict(train_options).items() if k not in _NOT_SETTINGS}
    return _json_ready({
        "baseline": adapter_name,
        "dataset": {"name": dataset, "fingerprint": dataset_fingerprint(load(dataset, data_root))},
        "protocol": {"id": proto.id, "fingerprint": proto.fingerprint},
        "model_config": model_config or {},
        "train_options": options,
        "procedure": procedure or {},
    })


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new)):
            out += _differences(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')} {old!r} -> {new!r}"]


def _refuse(where: Path, old: dict[str, Any] | None, new: dict[str, Any]) -> DataError:
    if old is None:
        got = "runs of unknown settings (no settings recorded)"
    else:
        diff = _differences(old, new)
        got = "other settings: " + "; ".join(diff[:4]) + (f"; {len(diff) - 4} more" if len(
            diff) > 4 else "")
    return DataError(describe("sweep folder", str(where), "runs made with the settings of this "
                              "command", got, _FRESH_HINT), param="fresh")


def _check_sweep_file(out: Path, settings: dict[str, Any]) -> None:
    path = out / "sweep.json"
    if not path.is_file():
        return
    try:
        old = loads_bounded(path.read_text())
    except (ValueError, UnicodeDecodeError):  # invalid, oversized or too deep: not ours
        old = {}
    old = old if isinstance(old, dict) else {}
    if old.get("settings_hash") != settings_hash(settings):
        raise _refuse(path, old.get("settings"), settings)


def _check_cell(folder: Path, cell_record: dict[str, Any]) -> bool:
    """Refuse a cell folder holding runs of other settings; True when it records these settings."""
    path = folder / CELL_FILE
    if path.is_file():
        try:
            old = loads_bounded(path.read_text())
        except (ValueError, UnicodeDecodeError):
            old = {}
        old = old if isinstance(old, dict) else {}
        if old.get("hash") != cell_record["hash"]:
            raise _refuse(path, old.get("settings"), cell_record["settings"])
        return True
    if folder.is_dir() and any(folder.iterdir()):
        raise _refuse(folder, None, cell_record["settings"])
    return False


def _option_names(cls: type, instance: Any) -> set[str]:
    names = set(getattr(instance, "config", {}) or {})
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    return names - {"self", "num_classes"}


def check_axes(adapter_name: str, grid: dict[str, list[Any]],
               model_config: dict[str, Any] | None = None) -> None:
    """Refuse grid axes (and shared options) that are not model options of the adapter.

    Builds the adapter once with the shared options (a cheap model, no training) and compares the
    axis names with its config keys and constructor keywords.

    Raises:
        InputError: A shared option or an axis the adapter does not take (with a did-you-mean).
        RegistryError: An unknown adapter.
    """
    from reidbench.adapters import TrainableAdapter, adapter_class
    from reidbench.adapters.meta import check_option_values
    from reidbench.registry import suggest

    check_option_values(model_config or {}, f"run_sweep {adapter_name}")
    for axis, values in grid.items():
        for value in values if isinstance(values, list) else [values]:
            check_option_values({axis: value}, f"run_sweep {adapter_name} grid")
    cls = adapter_class(adapter_name)
    if not issubclass(cls, TrainableAdapter):
        raise InputError(describe(f"adapter {adapter_name!r}", "run_sweep",
                                  "a TrainableAdapter", cls.__name__, "pick a trainable baseline"))
    try:
        instance = cls(num_classes=2, **(model_config or {}))
    except (TypeError, ValueError) as exc:
        reason = first_line(exc)
        raise InputError(describe("model_config", f"run_sweep {adapter_name}", "model options "
                                  f"{adapter_name} accepts", reason, "fix the shared options"),
                         param="model_config") from None
    known = sorted(_option_names(cls, instance))
    for axis in grid:
        if axis not in known:
            same_but_case = [k for k in known if k.lower() == axis.lower()]
            close = (f"Did you mean {same_but_case[0]!r}?" if same_but_case
                     else suggest(axis, known))
            hint = (close + " " if close else "") + f"Options: {', '.join(known)}"
            raise InputError(describe(f"grid axis {axis!r}", f"reidbench sweep {adapter_name}",
                                      f"a model option of {adapter_name}", "an unknown name",
                                      hint))
    _check_axis_values(cls, adapter_name, grid, model_config or {})


def _check_axis_values(cls: type, adapter_name: str, grid: dict[str, list[Any]],
                       model_config: dict[str, Any]) -> None:
    """Build the adapter once per grid value on torch's ``meta`` device (shapes only, no memory).

    A value its constructor refuses (``M=0``, ``M=true``, a string) is one line before any cell
    trains, not a failure of the first cell after the sweep folder is written.
    """
    import torch

    for axis, values in grid.items():
        for value in values if isinstance(values, list) else [values]:
            try:
                with torch.device("meta"):
                    cls(num_classes=2, **{**model_config, axis: value})
            except InputError as exc:
                raise InputError(f"{exc} (grid value {axis}={value!r})"[:600],
                                 param="grid") from None
            except (TypeError, ValueError, RuntimeError, AssertionError, OverflowError) as exc:
                reason = first_line(exc, 160)
                raise InputError(describe(f"grid value {axis}={value!r}"[:120],
                                          f"reidbench sweep {adapter_name}", "a value the model "
                                          "option takes", reason, "fix the grid"),
                                 param="grid") from None


def _stopped_early(summary: Path) -> bool:
    """Whether the cell's training was cut by ``max_minutes`` (its ``train.json`` says so)."""
    try:
        return bool(json.loads(summary.read_text(encoding="utf-8")).get("stopped_early"))
    except (OSError, ValueError, AttributeError):
        return False


def check_mode(adapter_name: str, protocol: str) -> None:
    """Refuse, before anything is trained, a protocol whose mode the adapter cannot evaluate.

    Raises:
        ProtocolError: The protocol's mode (``v2v``, ``i2v``) is not among the adapter's modes.
        RegistryError: An unknown adapter or protocol.
    """
    from reidbench.adapters import adapter_class
    from reidbench.protocols import get_protocol

    proto = get_protocol(protocol)
    modes = list(adapter_class(adapter_name).card.modes)
    mode = proto.evaluation.mode
    if mode not in modes:
        raise ProtocolError(describe("protocol", f"run_sweep {adapter_name}",
                                     f"a protocol of a mode {adapter_name} evaluates ({modes})",
                                     f"{proto.id} ({mode})", f"pick a {'/'.join(modes)} "
                                     "protocol"), param="protocol")


def _cell_record(settings: dict[str, Any], cell: dict[str, Any], trial: int, seed: int
                 ) -> dict[str, Any]:
    record = {**settings, "axes": _json_ready(cell), "trial": trial, "seed": seed}
    return {"settings": record, "hash": settings_hash(record)}


def _start_fresh(out: Path) -> None:
    shutil.rmtree(out / "cells", ignore_errors=True)
    (out / "sweep.json").unlink(missing_ok=True)


def run_sweep(adapter_name: str, data_root: str | Path, dataset: str, protocol: str,
              grid: dict[str, list[Any]], out_dir: str | Path, *, trials: int = 1,
              model_config: dict[str, Any] | None = None, train_options: Any = None,
              procedure: dict[str, Any] | None = None, fresh: bool = False,
              progress: Progress | None = None) -> dict[str, Any]:
    """Train and evaluate every (cell, trial); write and return the ``sweep.json`` record.

    The returned record also says how many of its rows were ``resumed`` (an earlier run into
    ``out_dir`` had already evaluated them); that count is not written to ``sweep.json``.

    Args:
        adapter_name: Trainable adapter, e.g. ``"stmn"``.
        data_root: Dataset copy to train and evaluate on.
        dataset: Its layout name.
        protocol: Protocol id to evaluate under.
        grid: Axis name -> values; axes are model options of the adapter.
        out_dir: Sweep folder (``sweep.json``, ``cells/<cell>/{cell.json,run,result}``).
        trials: Seeds per cell (seed = ``train_options.seed + trial``).
        model_config: Options shared by every cell (e.g. ``{"backbone": "small"}``).
        train_options: :class:`reidbench.engine.train.TrainOptions` shared by every cell.
        procedure: Procedure overrides for the evaluation.
        fresh: Delete the folder's ``cells/`` and ``sweep.json`` first instead of resuming.
        progress: ``callback(stage, done, total)``.

    Raises:
        InputError: A run setting out of range, or an axis that is not a model option of the
            adapter (checked before anything is trained).
        ProtocolError: A protocol of a mode the adapter cannot evaluate (checked first too).
        DataError: ``out_dir`` holds runs made with other settings (and ``fresh`` is False).
    """
    from reidbench.engine.evaluate import evaluate
    from reidbench.engine.sources import AdapterSource
    from reidbench.engine.train import TrainOptions, check_train_options, train
    from reidbench.records import read_result

    base = check_train_options(train_options or TrainOptions())
    if not isinstance(trials, int) or isinstance(trials, bool) or not 1 <= trials <= 1000:
        raise InputError(describe("trials", "run_sweep", "a whole number in 1..1000", trials, ""),
                         param="trials")
    out = Path(out_dir)
    check_axes(adapter_name, grid, model_config)
    check_mode(adapter_name, protocol)
    settings = sweep_settings(adapter_name, data_root, dataset, protocol, model_config, base,
                              procedure)
    if fresh:
        _start_fresh(out)
    _check_sweep_file(out, settings)
    cells = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    jobs = [(cell, trial) for cell in cells for trial in range(trials)]
    for cell, trial in jobs:  # every folder checked before anything is trained
        _check_cell(out / "cells" / _cell_name(cell, trial),
                    _cell_record(settings, cell, trial, base.seed + trial))
    rows: list[dict[str, Any]] = []
    resumed = 0
    if progress:  # the line's clock starts now, not when the first cell is done
        progress("sweep", 0, len(jobs))
    for cell, trial in jobs:
        folder = out / "cells" / _cell_name(cell, trial)
        seed = base.seed + trial
        cell_record = _cell_record(settings, cell, trial, seed)
        if not _check_cell(folder, cell_record):
            write_json_atomic(folder / CELL_FILE, cell_record)
        result_dir = folder / "result"
        if not (result_dir / "results.json").is_file():
            summary = train(adapter_name, data_root, dataset, folder / "run",
                            model_config={**(model_config or {}), **cell},
                            options=replace(base, seed=seed, resume=True))
            res = evaluate(protocol, data_root,
                           AdapterSource(adapter_name, summary["checkpoint"], device=base.device),
                           procedure=procedure, bootstrap=0, seed=seed)
            res.write(result_dir)
        else:
            resumed += 1
        record = read_result(result_dir).record
        rows.append({"axes": cell, "trial": trial, "seed": seed,
                     "metrics": {k: v.value for k, v in record.metrics.items()},
                     "result": str(result_dir.relative_to(out)),
                     "stopped_early": _stopped_early(folder / "run" / "train.json")})
        if progress:
            progress("sweep", len(rows), len(jobs))
    sweep = {"schema": SWEEP_SCHEMA, "baseline": adapter_name, "dataset": dataset,
             "protocol": protocol, "grid": grid, "trials": trials,
             "model_config": model_config or {}, "train_options": {
                 k: (list(v) if isinstance(v, tuple) else v)
                 for k, v in base.__dict__.items()},
             "settings": settings, "settings_hash": settings_hash(settings), "rows": rows}
    write_json_atomic(out / "sweep.json", json.loads(json.dumps(sweep)))
    return {**sweep, "resumed": resumed}

