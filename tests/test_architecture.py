"""The tree shows the architecture, and this test holds it there.

Layers, bottom up: the base (errors, settings, data, extras), the language core, the policy
tools (analysis, formulary, ifr) and reports, then the adapters (compile, cohort, fhir, register,
service, cli). A package imports only what its rule allows; no package cycle; no module cycle;
each package's __init__ says what it is and what it may import; no module over 400 lines.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

ENGINE = ROOT / "engine"
BASE = {"errors", "problems", "settings", "data", "extras", "keyfiles"}
# package -> the engine packages it may import (besides itself and the base layer)
ALLOWED: dict[str, set[str]] = {
    "": {"language", "analysis", "formulary"},  # engine/__init__.py: the public API (lazy)
    "language": set(),
    "analysis": {"language"},
    "formulary": {"language"},
    "ifr": {"language"},
    "reports": {"language", "analysis", "formulary", "ifr"},
    "fhir": {"language"},
    "compile": {"language"},
    "cohort": {"language", "analysis", "compile"},
    "register": {"language", "analysis", "ifr", "reports", "fhir"},
    "service": {"language", "analysis", "formulary", "ifr", "reports", "fhir", "compile", "cohort", "register"},
    "cli": {"language", "analysis", "formulary", "ifr", "reports", "fhir", "compile", "cohort", "register",
            "service"},
}


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("engine"):
            out.add(node.module)
            out |= {f"engine.{a.name}" for a in node.names if node.module == "engine"
                    and ((ENGINE / a.name).is_dir() or (ENGINE / f"{a.name}.py").exists())}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("engine")}
    return out


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def modules() -> list[Path]:
    return [p for p in ENGINE.rglob("*.py") if "migrations" not in p.parts]


def test_every_package_imports_only_what_its_rule_allows():
    bad = []
    for path in modules():
        mod = module_name(path)
        own = package(mod)
        if own in BASE:
            allowed = BASE
        else:
            assert own in ALLOWED, f"{mod}: package {own!r} has no rule in tests/test_architecture.py"
            allowed = ALLOWED[own] | BASE | {own}
        bad += [f"{mod} imports {imp}" for imp in sorted(imports(path))
                if imp != "engine" and package(imp) not in allowed]
    assert bad == []


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for path in modules():
        mod = module_name(path)
        graph.setdefault(package(mod), set()).update(
            package(i) for i in imports(path) if i != "engine" and package(i) != package(mod))
    graph.pop("", None)  # the public API sits on top of everything
    _assert_acyclic(graph)


def test_no_import_cycles_between_modules():
    graph = {module_name(p): imports(p) for p in modules()}
    mods = set(graph)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges = {m: {r for i in deps if (r := resolve(i)) and r != m and not r.startswith(m + ".")}
             for m, deps in graph.items()}
    edges.pop("engine", None)
    _assert_acyclic(edges)


def _assert_acyclic(edges: dict[str, set[str]]) -> None:
    seen: set[str] = set()
    stack: list[str] = []
    cycle: list[str] = []

    def visit(m: str) -> bool:
        if m in stack:
            cycle.extend(stack[stack.index(m):] + [m])
            return True
        if m in seen:
            return False
        seen.add(m)
        stack.append(m)
        if any(visit(n) for n in sorted(edges.get(m, ()))):
            return True
        stack.pop()
        return False

    for m in sorted(edges):
        if visit(m):
            break
    assert not cycle, " → ".join(cycle)


def test_each_package_says_what_it_is_and_what_it_may_import():
    for init in ENGINE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc, f"{init.relative_to(ROOT)} has no docstring"
        if init.parent.name in {"language", "analysis", "formulary", "ifr", "reports", "fhir"}:
            assert re.search(r"May import:", doc), f"{init.relative_to(ROOT)} does not say what it may import"


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in modules() if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_docs_map_names_every_package():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for init in ENGINE.glob("*/__init__.py"):
        assert f"engine/{init.parent.name}/" in doc, f"docs/architecture.md does not map engine/{init.parent.name}/"
