"""`cpe test`: every policy's example cases, coverage, and the closing `N passed, N failed` line."""
from __future__ import annotations

import re

from engine.analysis.coverage import coverage
from engine.analysis.examples import run_policy_cases
from engine.language.suite import Suite
from tests.conftest import FIXTURES, ROOT, run_cpe

BROKEN_SUITE = FIXTURES / "broken" / "policies"
CLOSING = re.compile(r"^(\d+) passed, (\d+) failed$")


def test_shipped_suite_passes():
    p = run_cpe("test")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    last = p.stdout.strip().splitlines()[-1]
    m = CLOSING.match(last)
    assert m and int(m.group(1)) > 0 and m.group(2) == "0", last
    assert "Coverage" in p.stdout


def test_one_policy():
    p = run_cpe("test", "breast-implant-replacement")
    assert p.returncode == 0
    assert "breast-implant-replacement" in p.stdout and "assisted-conception" not in p.stdout
    s = Suite(ROOT / "policies")
    n = len(run_policy_cases(s, "breast-implant-replacement"))
    assert p.stdout.strip().splitlines()[-1] == f"{n} passed, 0 failed"


def test_wrong_expected_outcome_fails_with_location():
    p = run_cpe("test", "--policies", str(BROKEN_SUITE))
    assert p.returncode == 2
    assert p.stdout.strip().splitlines()[-1] == "2 passed, 1 failed"
    fail = next(x for x in p.stdout.splitlines() if x.startswith("FAIL"))
    assert "wrong-case/cases.yaml:11" in fail and "expected eligible, got not_eligible" in fail


def test_unknown_policy_is_bad_input():
    p = run_cpe("test", "no-such-policy")
    assert p.returncode == 2 and "no-such-policy" in p.stderr


def test_coverage_finds_criteria_never_seen_unmet():
    s = Suite(BROKEN_SUITE)
    runs = run_policy_cases(s, "wrong-case")
    [vc] = coverage("wrong-case", runs[:1], ["2020-01-01"])   # only the all-met case
    assert vc.gaps == {"adult": ["unmet"], "non_smoker": ["unmet"]}
    [vc] = coverage("wrong-case", runs, ["2020-01-01"])
    assert vc.gaps == {}
