"""The import rule of DESIGN.md, checked on the source.

Each layer imports only from layers below it, ``reidbench`` never imports ``baselines``, and only
``reidbench.report`` imports matplotlib.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Layer order, lowest first. A module may import from its own layer or any lower one.
LAYERS = [
    {"types", "errors", "registry", "fileio", "_version", "__init__"},
    {"metrics"},
    {"protocols"},
    {"datasets"},
    {"adapters"},
    {"engine"},
    {"leaderboard"},
    {"report"},
    {"demo"},
    {"cli", "__main__"},
]


def _layer_of(parts: list[str]) -> int:
    head = parts[0] if parts else "__init__"
    head = head.removesuffix(".py")
    for i, names in enumerate(LAYERS):
        if head in names:
            return i
    raise AssertionError(f"module reidbench/{'/'.join(parts)} is in no layer; add it to LAYERS")


def _imports(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def test_layers_import_only_downwards():
    problems = []
    for path in sorted((ROOT / "reidbench").rglob("*.py")):
        rel = path.relative_to(ROOT / "reidbench").parts
        layer = _layer_of(list(rel))
        for name in _imports(ast.parse(path.read_text())):
            if name.split(".")[0] == "reidbench_baselines":
                problems.append(f"{path}: imports {name} (reidbench never imports the baselines)")
            if name.split(".")[0] == "matplotlib" and rel[0] != "report":
                problems.append(f"{path}: imports matplotlib outside reidbench.report")
            if name.startswith("reidbench."):
                target = _layer_of(name.split(".")[1:2])
                if target > layer:
                    problems.append(f"{path}: layer {layer} imports {name} (layer {target})")
    assert not problems, "\n".join(problems)
