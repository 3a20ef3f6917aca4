"""Ablation sweeps: train and evaluate a baseline on every cell of a hyper-parameter grid.

``run_sweep`` trains ``trials`` seeded models per cell (``M=5,10,20 N=5,10,20``), evaluates each
under a protocol, and writes ``sweep.json`` (schema ``reidbench.sweep/1``): one row per (cell,
trial) with the axes, the seed and the headline metrics, plus each run's result record on disk.
It is resumable: a cell/trial whose result record exists is read back, not re-run. The report layer
renders the grid figures from ``sweep.json``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from reidbench.errors import InputError, describe
from reidbench.fileio import write_json_atomic

__all__ = ["SWEEP_SCHEMA", "parse_grid", "run_sweep"]

SWEEP_SCHEMA = "reidbench.sweep/1"
Progress = Callable[[str, int, int], None]


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
                                      "e.g. --grid 'M=5,10,20 N=5,10'"))
        if name in grid:
            raise InputError(describe(f"grid axis {name!r}", repr(spec), "each axis once",
                                      "a repeat", ""))
        grid[name] = [_value(v) for v in values.split(",") if v]
    if not grid:
        raise InputError(describe("grid", "reidbench sweep", "at least one axis", "none", ""))
    return grid


def _cell_name(cell: dict[str, Any], trial: int) -> str:
    parts = [f"{k}={'+'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in cell.items()]
    return "_".join(parts) + f"_t{trial}"


def run_sweep(adapter_name: str, data_root: str | Path, dataset: str, protocol: str,
              grid: dict[str, list[Any]], out_dir: str | Path, *, trials: int = 1,
              model_config: dict[str, Any] | None = None, train_options: Any = None,
              procedure: dict[str, Any] | None = None, progress: Progress | None = None
              ) -> dict[str, Any]:
    """Train and evaluate every (cell, trial); write and return the ``sweep.json`` record.

    Args:
        adapter_name: Trainable adapter, e.g. ``"stmn"``.
        data_root: Dataset copy to train and evaluate on.
        dataset: Its layout name.
        protocol: Protocol id to evaluate under.
        grid: Axis name -> values; axes are model options of the adapter.
        out_dir: Sweep folder (``sweep.json``, ``cells/<cell>/{run,result}``).
        trials: Seeds per cell (seed = ``train_options.seed + trial``).
        model_config: Options shared by every cell (e.g. ``{"backbone": "small"}``).
        train_options: :class:`reidbench.engine.train.TrainOptions` shared by every cell.
        procedure: Procedure overrides for the evaluation.
        progress: ``callback(stage, done, total)``.
    """
    from reidbench.engine.evaluate import evaluate
    from reidbench.engine.results import read_result
    from reidbench.engine.sources import AdapterSource
    from reidbench.engine.train import TrainOptions, train

    base = train_options or TrainOptions()
    out = Path(out_dir)
    cells = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    rows: list[dict[str, Any]] = []
    total = len(cells) * trials
    for cell in cells:
        for trial in range(trials):
            folder = out / "cells" / _cell_name(cell, trial)
            seed = base.seed + trial
            result_dir = folder / "result"
            if not (result_dir / "results.json").is_file():
                summary = train(adapter_name, data_root, dataset, folder / "run",
                                model_config={**(model_config or {}), **cell},
                                options=replace(base, seed=seed, resume=True))
                res = evaluate(protocol, data_root,
                               AdapterSource(adapter_name, summary["checkpoint"]),
                               procedure=procedure, bootstrap=0, seed=seed)
                res.write(result_dir)
            record = read_result(result_dir).record
            rows.append({"axes": cell, "trial": trial, "seed": seed,
                         "metrics": {k: v["value"] for k, v in record["metrics"].items()},
                         "result": str(result_dir.relative_to(out))})
            if progress:
                progress("sweep", len(rows), total)
    sweep = {"schema": SWEEP_SCHEMA, "baseline": adapter_name, "dataset": dataset,
             "protocol": protocol, "grid": grid, "trials": trials,
             "model_config": model_config or {}, "train_options": {
                 k: (list(v) if isinstance(v, tuple) else v)
                 for k, v in base.__dict__.items()}, "rows": rows}
    write_json_atomic(out / "sweep.json", json.loads(json.dumps(sweep)))
    return sweep
