"""`cpe lint`: silent on the shipped suite, and a clear, located error for each broken fixture."""
from __future__ import annotations

import pytest

from engine.analysis.lint import lint
from engine.language.suite import Suite
from tests.conftest import FIXTURES, ROOT, run_cpe

BROKEN = FIXTURES / "broken"


def test_shipped_suite_lints_clean():
    p = run_cpe("lint")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1].startswith("0 errors")


def test_shipped_suite_has_no_errors_via_api():
    findings = lint(Suite(ROOT / "policies"))
    assert [f for f in findings if f.level == "error"] == []


@pytest.mark.parametrize("name,code,needles", [
    ("contradiction.yaml", "contradiction", ["age, young", "contradiction.yaml:15"]),
    ("unsatisfiable.yaml", "unsatisfiable", ["age_band", "can never be met", "unsatisfiable.yaml:14"]),
    ("out-of-range.yaml", "threshold-out-of-range", ["300", "from 10 to 90", "out-of-range.yaml:22"]),
    ("out-of-range.yaml", "overlapping-versions", ["2020-01-01", "2021-01-01"]),
    ("unknown-attribute.yaml", "unknown-attribute", ["body_mass_index", "unknown-attribute.yaml:19"]),
    ("unknown-attribute.yaml", "missing-provenance", ["'age'", "unknown-attribute.yaml:22"]),
])
def test_broken_fixture_fails_with_a_clear_message(name, code, needles):
    p = run_cpe("lint", str(BROKEN / name))
    assert p.returncode == 2, p.stdout + p.stderr
    line = next((x for x in p.stdout.splitlines() if f"error: {code}:" in x), None)
    assert line is not None, p.stdout
    for n in needles:
        assert n in line, (n, line)
    assert "Traceback" not in p.stderr


def test_dead_criterion_is_a_warning_not_an_error():
    p = run_cpe("lint", str(BROKEN / "dead-criterion.yaml"))
    assert p.returncode == 0
    assert "warning: never-changes-outcome:" in p.stdout and "'adult'" in p.stdout


def test_each_check_is_quiet_on_a_sound_file_and_reports_once():
    s = Suite(ROOT / "policies")
    findings = lint(s, [BROKEN / "unknown-attribute.yaml"])
    codes = [f.code for f in findings]
    assert codes.count("unknown-attribute") == 1 and codes.count("missing-provenance") == 1


def test_missing_file_is_bad_input():
    p = run_cpe("lint", "no-such-policy.yaml")
    assert p.returncode == 2 and "no-such-policy.yaml" in (p.stdout + p.stderr)


def test_criteria_of_a_not_routinely_commissioned_version_are_dead_wording(tmp_path):
    f = tmp_path / "nrc.yaml"
    f.write_text("""id: nrc-with-criteria
title: t
intervention: x
scope: x
commissioning: not_routinely_commissioned
sources: [{id: f, kind: public, title: t}]
versions:
  - version: "2020-01-01"
    status: ratified
    effective_from: "2020-01-01"
    criteria:
      - {id: adult, text: t, provenance: public, citation: c, attr: age, op: ">=", value: 18}
""")
    findings = lint(Suite(ROOT / "policies"), [f])
    assert [(x.level, x.code) for x in findings] == [("warning", "never-changes-outcome")]
    assert "(adult)" in findings[0].message and findings[0].location.line == 12
