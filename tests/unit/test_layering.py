"""Imports inside r1exp point only down the layers, and no modules import each other in a cycle.

Layers, lowest first: errors -> common -> rewards -> tasks -> models/generation/config/distributed ->
evaluation -> tracking/curriculum/trainer/coldstart/analysis/features/training -> cmd. A module may import its own
layer or any lower one. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "r1exp"

# Module name (or package prefix) -> layer; the longest matching prefix wins.
LAYERS = {
    "r1exp": 0,
    "r1exp.errors": 0,
    "r1exp.common": 1,
    "r1exp.rewards": 2,
    "r1exp.tasks": 3,
    "r1exp.models": 4,
    "r1exp.sampling": 4,
    "r1exp.grpo_args": 4,
    "r1exp.config": 4,
    "r1exp.schema": 3,
    "r1exp.sections": 4,
    "r1exp.distributed": 4,
    "r1exp.plan": 4,
    "r1exp.paged": 4,
    "r1exp.evaluation": 5,
    "r1exp.eval_sets": 5,
    "r1exp.tracking": 6,
    "r1exp.curriculum": 6,
    "r1exp.trainer": 6,
    "r1exp.coldstart": 6,
    "r1exp.analysis": 6,
    "r1exp.features": 6,
    "r1exp.training": 6,
    "r1exp.cmd": 7,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> int | None:
    """The layer of a module; None for a top-level module that the table does not place."""
    parts = name.split(".")
    for n in range(len(parts), 1, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return LAYERS[prefix]
    return LAYERS["r1exp"] if name == "r1exp" else None


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    """The import statements under `if TYPE_CHECKING:` (annotations only: never run)."""
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(
                n for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))
            )
    return guarded


def imports(name: str, path: Path, known: set[str], run_time_only: bool = False) -> set[str]:
    """The r1exp modules `name` imports (at any depth of its code); `from pkg import submodule` names it.
    `run_time_only`: leave out imports under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    skip = _type_checking_only(tree) if run_time_only else set()
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "r1exp")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "r1exp":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    found.discard(name)
    return found


def graph(run_time_only: bool = False) -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: {d for d in imports(name, path, known, run_time_only) if d in known} for name, path in mods.items()}


def test_every_module_has_a_layer():
    unplaced = sorted(name for name in modules() if layer(name) is None)
    assert not unplaced, f"place these modules in LAYERS of {Path(__file__).name}: {unplaced}"


def test_imports_only_point_down():
    upward = [
        f"{name} (layer {layer(name)}) imports {dep} (layer {layer(dep)})"
        for name, deps in graph().items()
        for dep in sorted(deps)
        if layer(name) is not None and layer(dep) is not None and layer(dep) > layer(name)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycle():
    # A cycle is a run-time matter: a name imported only for annotations (`if TYPE_CHECKING:`) is never
    # imported, so it closes none (r1exp.distributed annotates with Sections, which imports it lazily).
    # The layer check above still counts those imports.
    cycle = find_cycle(graph(run_time_only=True))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_catch_an_upward_import_and_a_cycle():
    assert layer("r1exp.common.jsonl") < layer("r1exp.tasks.math.data") < layer("r1exp.cmd.train")
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    guarded = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from r1exp.x import A\nimport r1exp.y\n"
    )
    assert {ast.unparse(n) for n in _type_checking_only(guarded)} == {"from r1exp.x import A"}


@pytest.mark.parametrize("package", ["r1exp.tasks", "r1exp.rewards"])
def test_importing_a_registry_loads_no_task(package):
    """Built-in entries are import paths resolved on use: nothing registers by import side effect."""
    code = (
        f"import sys, {package}; "
        "print(sorted(m for m in sys.modules if m.startswith(('r1exp.tasks.', 'r1exp.rewards.format'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
