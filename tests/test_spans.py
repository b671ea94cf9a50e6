"""Source spans on the nodes: every node knows its file, line and column (1-based), through
copies, pickling and the suite snapshot; errors, lint findings and explanations name them; the
span is never content (dumps, digests and equality ignore it)."""
from __future__ import annotations

import copy
import pickle
import shutil

import pytest

from engine.analysis.lint import lint
from engine.errors import InputError
from engine.language.decide import decide
from engine.language.explain import decision_text, policy_text
from engine.language.span import Span
from engine.language.suite import Suite
from tests.conftest import ROOT
from tests.test_policy_errors import GOOD, make


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def test_every_node_carries_its_file_line_and_column(tmp_path):
    s = make(tmp_path, GOOD)
    node = s.select("demo", version="2020-01-01").criteria[0]
    assert isinstance(node.span, Span) and node.span.file.endswith("demo/policy.yaml")
    assert (node.span.line, node.span.column) == (13, 9)       # `id: age` after `      - `
    row = lines_of(GOOD)[node.span.line - 1]
    assert row[node.span.column - 1:].startswith("id: age")
    where = node.at("op")
    assert (where.line, where.column) == (18, 9) and lines_of(GOOD)[17][8:].startswith("op:")
    v = s.policy("demo").versions[0]
    assert (v.span.line, v.span.column) == (9, 5)              # `version:` after `  - `


def test_spans_survive_copies_and_pickling(tmp_path):
    node = make(tmp_path, GOOD).select("demo", version="2020-01-01").criteria[0]
    for other in (node.model_copy(), node.model_copy(update={"text": "Grown up."}), copy.copy(node),
                  copy.deepcopy(node), pickle.loads(pickle.dumps(node, protocol=pickle.HIGHEST_PROTOCOL))):
        assert other.span == node.span and other.span is not None


def test_a_span_is_not_content(tmp_path):
    s = make(tmp_path, GOOD)
    rv = s.select("demo", version="2020-01-01")
    node = rv.criteria[0]
    (tmp_path / "b").mkdir()
    moved = make(tmp_path / "b", "# moved down\n\n" + GOOD)
    other = moved.select("demo", version="2020-01-01")
    assert other.criteria[0].span != node.span
    assert other.criteria[0] == node and hash(other.criteria[0]) == hash(node)   # equal content, other place
    assert other.digest == rv.digest
    assert "span" not in str(node.model_dump()) and "13" not in str(node.model_dump(mode="json"))


def test_an_error_in_a_policy_file_names_file_line_and_column(tmp_path):
    s = make(tmp_path, GOOD.replace("attr: age", "attr: agee"))
    with pytest.raises(InputError) as e:
        s.select("demo", version="2020-01-01")
    assert "demo/policy.yaml:17:9: unknown-attribute:" in str(e.value)
    assert e.value.problems[0].to_json()["column"] == 9
    (tmp_path / "x").mkdir()
    s = make(tmp_path / "x", GOOD.replace('op: ">="', 'op: "=>"'))
    with pytest.raises(InputError) as e:
        s.select("demo", version="2020-01-01")
    assert "demo/policy.yaml:18:9:" in str(e.value) and "unknown operator" in str(e.value)


def test_a_yaml_syntax_error_names_its_column(tmp_path):
    s = make(tmp_path, GOOD.replace("title: Demo", "title: [Demo"))
    with pytest.raises(InputError) as e:
        s.policy("demo")
    p = e.value.problems[0]
    assert p.code == "invalid-yaml" and p.location.line and p.location.column


def test_a_lint_finding_names_file_line_and_column(tmp_path):
    f = tmp_path / "unknown.yaml"
    f.write_text(GOOD.replace("attr: age", "attr: body_mass_index"))
    findings = lint(Suite(ROOT / "policies"), [f])
    found = next(x for x in findings if x.code == "unknown-attribute")
    assert (found.location.line, found.location.column) == (17, 9)
    assert found.text(level=True).startswith(f"{found.location.file}:17:9: error: unknown-attribute:")


def test_lint_from_a_restored_snapshot_still_names_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("CPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CPE_NO_CACHE", raising=False)
    root = tmp_path / "policies"
    root.mkdir()
    shutil.copy(ROOT / "policies" / "attributes.yaml", root)
    (root / "demo").mkdir()
    # a dead criterion: lint's warning must point at it after the suite is restored from the snapshot
    (root / "demo" / "policy.yaml").write_text(GOOD.replace('        value: 18\n', '        value: 18\n'
                                                            '      - {id: adult, text: t, provenance: public, '
                                                            'citation: S, attr: age, op: ">=", value: 16}\n'))
    fresh = [x.text(level=True) for x in lint(Suite.cached(root))]
    assert list((tmp_path / "cache").glob("suite-*.pickle"))
    restored = Suite.cached(root)
    assert restored._resolved                 # from the snapshot
    again = [x.text(level=True) for x in lint(restored)]
    assert again == fresh and any(":20:9: warning:" in x for x in again), again


def test_explanations_say_where_each_criterion_is_written(tmp_path):
    rv = make(tmp_path, GOOD).select("demo", version="2020-01-01")
    words = "\n".join(t for _, t in policy_text(rv))
    assert "written at " in words and "demo/policy.yaml:13:9" in words
    d = decide(rv, {"age": 30})
    assert d.criteria[0].written_at.endswith("demo/policy.yaml:13:9")
    assert "written_at" not in str(d.to_json())          # the decision's JSON is unchanged
    assert any(t.strip().startswith("written at") for _, t in decision_text(d))


def test_a_change_naming_a_missing_criterion_names_where_the_change_is(tmp_path):
    text = GOOD + """  - version: "2021-01-01"
    status: ratified
    effective_from: "2021-01-01"
    based_on: "2020-01-01"
    changes:
      - remove: adult
"""
    s = make(tmp_path, text)
    with pytest.raises(InputError) as e:
        s.select("demo", version="2021-01-01")
    assert "demo/policy.yaml:25:9: invalid-policy:" in str(e.value) and "'adult'" in str(e.value)
    assert lines_of(text)[24][8:].startswith("remove: adult")


def test_patient_file_errors_name_line_and_column(tmp_path):
    from engine.language.patient import read_patient

    f = tmp_path / "patient.yaml"
    f.write_text("age: 30\n  # note\nbmii: 24\n")
    with pytest.raises(InputError) as e:
        read_patient(f, Suite(ROOT / "policies").attributes)
    assert "patient.yaml:3:1: unknown-attribute:" in str(e.value)
