"""The package's layers point one way and no module imports itself through others.

docs/design.md: ``kernels <- ops <- distributions <- models <- inference <- cli``; ``io``,
``ld``, ``simulate`` and ``prepare`` use only numpy/scipy/pandas/numba (and the kernels), so
they work without PyMC; data containers live in ``prepare``. Every import statement of every
module is read from its source (``ast``), function-level (lazy) imports included, so an
import that only runs on some code path counts too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"bayesmix": ROOT / "bayesmix", "bayesmix.models": ROOT / "models"}

CORE = {"core"}  # bayesmix/__init__.py, errors, interrupt, progress, distributed: any layer
NO_PYMC = {"core", "kernels", "io", "checkpoint", "ld", "simulate", "prepare", "data"}
BELOW_MODELS = {"core", "kernels", "io", "checkpoint", "ld", "prepare", "ops", "distributions"}
BELOW_CLI = BELOW_MODELS | {"simulate", "data", "models", "inference"}

#: layer -> the layers its modules may import (besides their own layer)
ALLOWED = {
    "core": CORE,
    "kernels": CORE,
    "io": CORE | {"kernels"},
    "checkpoint": CORE | {"kernels", "io"},
    "ld": CORE | {"kernels", "io", "checkpoint"},
    "simulate": CORE | {"kernels", "io", "checkpoint", "ld"},
    "prepare": CORE | {"kernels", "io", "checkpoint", "ld"},
    "data": CORE | {"kernels", "io", "checkpoint", "ld", "simulate"},
    "ops": CORE | {"kernels"},
    "distributions": CORE | {"kernels", "ops"},
    "models": BELOW_MODELS,
    "inference": BELOW_CLI,
    "plots": BELOW_CLI,
    "report": BELOW_CLI | {"plots"},
    "cli": BELOW_CLI | {"plots", "report", "cli"},
}
CORE_MODULES = {"bayesmix", "bayesmix.errors", "bayesmix.interrupt", "bayesmix.progress",
                "bayesmix.distributed"}
#: third-party packages a layer must not import (the probabilistic-programming stack)
PYMC_STACK = {"pymc", "pytensor", "arviz", "xarray"}


def module_files() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    modules = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def layer(module: str) -> str:
    if module in CORE_MODULES:
        return "core"
    return module.split(".")[1]


def imports(module: str) -> tuple[set[str], set[str]]:
    """(bayesmix modules, top-level third-party packages) that ``module`` imports anywhere."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    inside, outside = set(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import module` imports the module; `from module import name` the module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "bayesmix":
                outside.add(target.split(".")[0])
                continue
            while target not in MODULES:  # bayesmix.x.y.name -> the module that defines name
                target = target.rpartition(".")[0]
            if target != module:
                inside.add(target)
    return inside, outside


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_is_in_a_layer():
    assert {layer(m) for m in MODULES} <= set(ALLOWED)
    assert "bayesmix.models.sbayes" in MODULES and "bayesmix.inference.chain" in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    own = layer(module)
    wrong = sorted(f"{target} ({layer(target)})" for target in GRAPH[module][0]
                   if layer(target) != own and layer(target) not in ALLOWED[own])
    assert not wrong, f"{module} ({own}) may import only {sorted(ALLOWED[own])}, not {wrong}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) in NO_PYMC))
def test_data_layers_work_without_pymc(module):
    assert not GRAPH[module][1] & PYMC_STACK, f"{module} imports {GRAPH[module][1] & PYMC_STACK}"


def test_kernels_hold_no_pandas():
    users = sorted(m for m in MODULES if layer(m) == "kernels" and "pandas" in GRAPH[m][1])
    assert not users


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_cycle_finder_finds_a_known_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    graph = {m: set(targets) for m, (targets, _) in GRAPH.items()}
    assert import_cycles(graph) == []
