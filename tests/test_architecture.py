"""The tree shows the architecture: the core never imports the tools built on it, and no cycles."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

ENGINE = ROOT / "engine"
CORE = {"errors", "source", "load", "model", "resolve", "check", "versions", "suite", "logic", "evaluate",
        "decide", "decision", "patient", "explain", "cases"}


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("engine"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("engine")}
    return out


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def top(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_core_never_imports_tooling():
    for path in ENGINE.rglob("*.py"):
        mod = module_name(path)
        if top(mod) not in CORE:
            continue
        for imp in imports(path):
            assert top(imp) in CORE or imp == "engine", f"{mod} (core) imports {imp} (tooling)"


def test_no_import_cycles_between_modules():
    graph: dict[str, set[str]] = {}
    for path in ENGINE.rglob("*.py"):
        graph[module_name(path)] = {i for i in imports(path)}
    mods = set(graph)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges = {m: {r for i in deps if (r := resolve(i)) and r != m} for m, deps in graph.items()}
    # package __init__ re-exporting its own submodules is not a cycle worth failing on
    seen, stack, cycle = set(), [], []

    def visit(m: str) -> bool:
        if m in stack:
            cycle.extend(stack[stack.index(m):] + [m])
            return True
        if m in seen:
            return False
        seen.add(m)
        stack.append(m)
        for n in edges.get(m, ()):
            if not n.startswith(m + ".") and visit(n):
                return True
        stack.pop()
        return False

    for m in sorted(edges):
        if visit(m):
            break
    assert not cycle, " → ".join(cycle)
