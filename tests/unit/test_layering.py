"""The import rules of the README's Layout section, checked on the source of both packages.

One table, :data:`FORBIDDEN`, says which layers each layer must not import. Every import counts:
module-level and lazy (inside a function), ``import a.b``, ``from a import b`` (``b`` may be a
submodule), relative imports (resolved against the importing module), ``importlib.import_module``
with a literal name, and the names ``reidbench/__init__.py`` resolves lazily (``from reidbench
import evaluate`` imports the engine). Besides the table: ``reidbench`` never imports
``reidbench_baselines``, only ``reidbench.report`` imports matplotlib, and the core and records
layers import nothing outside the standard library but numpy.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reidbench", "reidbench_baselines")

# Which layer each first component below reidbench/ belongs to.
LAYER_OF = {
    "types": "core", "errors": "core", "registry": "core", "fileio": "core", "_version": "core",
    "metrics": "metrics", "protocols": "protocols", "datasets": "datasets",
    "adapters": "adapters", "engine": "engine", "records": "records",
    "leaderboard": "leaderboard", "report": "report", "demo": "demo", "cli": "cli",
    "__main__": "cli",
}
_ABOVE_ADAPTERS = {"engine", "records", "leaderboard", "report", "demo", "cli"}
_ALL = {"metrics", "protocols", "datasets", "adapters", "demo", *_ABOVE_ADAPTERS}

# layer -> the layers it must not import. "facade" is reidbench/__init__.py (lazy re-exports);
# "baselines" is the reidbench_baselines package, which reaches the suite as a third-party model
# would: through the core, metrics, protocols, datasets and adapters layers, never the engine's
# (or any higher layer's) internals.
FORBIDDEN: dict[str, set[str]] = {
    "core": _ALL,
    "metrics": {"protocols", "datasets", "adapters", *_ABOVE_ADAPTERS},
    "protocols": {"datasets", "adapters", *_ABOVE_ADAPTERS},
    "datasets": {"adapters", *_ABOVE_ADAPTERS},
    "adapters": _ABOVE_ADAPTERS,
    "records": {"datasets", "adapters", "engine", "leaderboard", "report", "demo", "cli"},
    "engine": {"leaderboard", "report", "demo", "cli"},
    "leaderboard": {"engine", "report", "demo", "cli"},
    "report": {"engine", "demo", "cli"},
    "demo": {"cli"},  # the demo pipeline as a library function: every layer but the CLI
    "cli": set(),
    "facade": set(),
    "baselines": _ABOVE_ADAPTERS,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str | None:
    """The layer of a module name, None outside both packages."""
    parts = module.split(".")
    if parts[0] == "reidbench_baselines":
        return "baselines"
    if parts[0] != "reidbench":
        return None
    if len(parts) == 1:
        return "facade"
    layer = LAYER_OF.get(parts[1])
    assert layer, f"module {module} is in no layer; add reidbench/{parts[1]} to LAYER_OF"
    return layer


def _lazy_names() -> dict[str, str]:
    """``reidbench/__init__.py``'s ``_LAZY`` table: attribute name -> module it imports."""
    tree = ast.parse((ROOT / "reidbench" / "__init__.py").read_text())
    for node in ast.walk(tree):
        targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
                isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets):
            return ast.literal_eval(node.value)
    return {}


LAZY = _lazy_names()

# Layers that may import no third-party package but these (the standard library always).
THIRD_PARTY_ALLOWED = {"core": {"numpy"}, "records": {"numpy"}}


def imports_of(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import in ``source``, at any depth."""
    package = module if is_package else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            for a in node.names:
                if target == "reidbench" and a.name in LAZY:
                    out.append((node.lineno, LAZY[a.name]))
                else:
                    out.append((node.lineno, f"{target}.{a.name}"))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) == "import_module" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value))
    return out


def problems_of(path: Path, source: str | None = None) -> list[str]:
    """Every broken import rule in one file (``source`` defaults to the file's text)."""
    module = _module_name(path)
    layer = _layer(module)
    text = path.read_text() if source is None else source
    found: list[str] = []
    seen: set[tuple[int, str | None]] = set()
    for line, name in imports_of(text, module, path.name == "__init__.py"):
        where = f"{path.relative_to(ROOT)}:{line}"
        head = name.split(".")[0]
        if head == "matplotlib" and not module.startswith("reidbench.report"):
            found.append(f"{where}: imports {name} (only reidbench.report imports matplotlib)")
        allowed = THIRD_PARTY_ALLOWED.get(layer)
        if (allowed is not None and head not in sys.stdlib_module_names and head not in allowed
                and head not in PACKAGES and head != "__future__"):
            found.append(f"{where}: layer {layer} imports {name} (stdlib and "
                         f"{', '.join(sorted(allowed))} only)")
        if head == "reidbench_baselines" and layer != "baselines":
            found.append(f"{where}: imports {name} (reidbench never imports the baselines)")
        if head != "reidbench" or name == "reidbench":
            continue
        target = LAYER_OF.get(name.split(".")[1])
        if target in FORBIDDEN[layer] and (line, target) not in seen:
            seen.add((line, target))
            found.append(f"{where}: layer {layer} imports {name} (layer {target}), which "
                         f"FORBIDDEN says it must not")
    return found


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_no_module_imports_a_forbidden_layer():
    problems = [msg for path in _sources() for msg in problems_of(path)]
    assert not problems, "\n".join(problems)


def test_every_layer_has_a_rule():
    assert set(LAYER_OF.values()) | {"facade", "baselines"} == set(FORBIDDEN)
    assert all(_layer(_module_name(p)) for p in _sources())


def test_the_rules_catch_lazy_relative_and_facade_imports():
    report = ROOT / "reidbench" / "report" / "site.py"
    for bad in ("def f():\n    from reidbench.engine import evaluate\n",
                "def f():\n    from ..engine import evaluate\n",
                "def f():\n    from reidbench import engine\n",
                "def f():\n    from reidbench import evaluate\n",
                "import importlib\nimportlib.import_module('reidbench.engine.sweep')\n"):
        assert any("layer report imports reidbench.engine" in m
                   for m in problems_of(report, bad)), bad
    assert problems_of(report, "def f():\n    from reidbench.records import read_result\n") == []
    records = ROOT / "reidbench" / "records" / "files.py"
    assert problems_of(records, "from .result import ResultRecord\n") == []
    assert problems_of(records, "from ..leaderboard import build\n")
    baseline = ROOT / "reidbench_baselines" / "stmn" / "model.py"
    assert problems_of(baseline, "from reidbench.adapters import Adapter\n") == []
    assert problems_of(baseline, "from reidbench.engine.train import train\n")
    assert problems_of(records, "def f():\n    import torch\n")
    assert problems_of(records, "import numpy as np\nimport json\n") == []
    core = ROOT / "reidbench" / "errors.py"
    assert problems_of(core, "import reidbench_baselines\n")
    assert problems_of(core, "import matplotlib.pyplot\n")
