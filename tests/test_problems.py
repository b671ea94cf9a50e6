"""One problem type with one registry of codes: bad input, lint findings and register findings
are all engine.errors.Problem, and every code the engine writes is listed in engine.problems."""
from __future__ import annotations

import ast
import re

from engine.analysis.lint import lint
from engine.errors import Location, Problem
from engine.language.suite import Suite
from engine.problems import CODES, LINT, REGISTER, Level, level_of
from tests.conftest import FIXTURES, ROOT

CODE = re.compile(r"^[a-z]+(-[a-z0-9]+)*$")
# call name -> the positional index of its code argument
CODE_ARG = {"Problem": 0, "of": 0, "finding": 1, "Refused": 1, "_error": 1, "_bad": 2, "cds_error": 2}


def codes_written() -> dict[str, set[str]]:
    """Every string literal passed as a problem code in engine/ (calls, `code=` keywords, and the
    defaults of parameters named `code`), with where it is written."""
    out: dict[str, set[str]] = {}

    def add(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value):
            out.setdefault(node.value, set()).add(where)

    for path in (ROOT / "engine").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in CODE_ARG and len(node.args) > CODE_ARG[name]:
                    add(node.args[CODE_ARG[name]], where)
                for k in node.keywords:
                    if k.arg == "code":
                        add(k.value, where)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args + node.args.kwonlyargs
                defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults \
                    + node.args.kw_defaults
                for a, d in zip(args, defaults):
                    if a.arg == "code" and d is not None:
                        add(d, where)
    return out


def test_every_code_the_engine_writes_is_registered():
    written = codes_written()
    assert len(written) > 60                       # the scan sees the engine's codes
    missing = {c: sorted(w) for c, w in written.items() if c not in CODES}
    assert missing == {}
    assert sorted(set(CODES) - set(written)) == []   # and the registry lists no code nothing writes


def test_codes_are_stable_words_and_levels_come_from_the_registry():
    assert all(CODE.match(c) for c in CODES)
    assert {c.level for c in LINT.values()} == {Level.error, Level.warning}
    assert level_of("always-met") == "warning" and level_of("unsatisfiable") == "error"
    assert all(level_of(c) == "error" for c in REGISTER)
    assert level_of("no-such-code") == "error"     # never hidden as a warning
    assert Problem("never-changes-outcome", "m").level == "warning"


def test_lint_findings_are_problems():
    findings = lint(Suite(ROOT / "policies"), [FIXTURES / "broken" / "contradiction.yaml"])
    assert findings and all(type(f) is Problem for f in findings)
    f = next(x for x in findings if x.code == "contradiction")
    assert f.level == "error" and f.text(level=True).startswith(f"{f.location}: error: contradiction: ")
    assert str(f) == f.text() and ": error:" not in str(f)   # the plain form, as for bad input


def test_a_record_at_fault_reads_as_before_with_its_code():
    p = Problem("altered-row", "was altered after audit entry #3 recorded it", subject="case IFR-000001")
    assert str(p) == "case IFR-000001: altered-row: was altered after audit entry #3 recorded it"
    assert p.to_json()["subject"] == "case IFR-000001"
    located = Problem("invalid-policy", "m", Location("p.yaml", 3, 7))
    assert str(located) == "p.yaml:3:7: invalid-policy: m"
    assert located.to_json() == {"code": "invalid-policy", "message": "m", "file": "p.yaml", "line": 3, "column": 7}
