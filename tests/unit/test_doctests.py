"""Every docstring example in reidbench and reidbench_baselines runs and prints what it shows.

Modules are found by their source (any ``>>>`` line), so a new example is tested without being
listed here.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reidbench", "reidbench_baselines")


def _modules_with_examples() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ">>> " not in path.read_text(encoding="utf-8"):
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


MODULES = _modules_with_examples()


def test_examples_are_found():
    # the modules known to hold examples today; a rename must not make the test vacuous
    assert {"reidbench.errors", "reidbench.registry", "reidbench.metrics.query_expansion",
            "reidbench.metrics.stats", "reidbench_baselines.common.backbones"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    source = Path(module.__file__).read_text(encoding="utf-8")
    examples = [line for line in source.splitlines() if line.strip().startswith(">>> ")]
    if any("doctest: +SKIP" not in line for line in examples):
        assert result.attempted > 0, f"{name}: no example ran"
