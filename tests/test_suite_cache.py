"""The snapshot of a validated suite: same answers as a fresh one, never stale, never hiding errors."""
from __future__ import annotations

import shutil

import pytest

from engine.errors import InputError
from engine.language.decide import decide
from engine.language.suite import Suite
from tests.conftest import ROOT


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("CPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CPE_NO_CACHE", raising=False)
    root = tmp_path / "policies"
    root.mkdir()
    shutil.copy(ROOT / "policies" / "attributes.yaml", root)
    for pid in ("breast-implant-removal", "breast-implant-replacement", "assisted-conception"):
        (root / pid).mkdir()
        shutil.copy(ROOT / "policies" / pid / "policy.yaml", root / pid / "policy.yaml")
    return root


def snapshots(tmp_path):
    return sorted((tmp_path / "cache").glob("suite-*.pickle"))


def test_restored_suite_decides_exactly_like_a_fresh_one(tree, tmp_path, monkeypatch):
    Suite.cached(tree)                      # builds and writes the snapshot
    assert len(snapshots(tmp_path)) == 1

    def no_file(path):
        raise AssertionError(f"read {path}: not restored from the snapshot")

    monkeypatch.setattr("engine.language.suite.load_policy_file", no_file)
    restored = Suite.cached(tree)
    monkeypatch.undo()
    fresh = Suite(tree)
    assert restored._policies                # from the snapshot, no file read
    patient = {"implant_original_funding": "nhs", "age": 40, "implant_rupture": True, "bmi": 25}
    for p in fresh.policies():
        for v in p.versions:
            a, b = restored.resolved(p.id, v.version), fresh.resolved(p.id, v.version)
            assert a.digest == b.digest
            assert decide(a, patient).to_json() == decide(b, patient).to_json()
            # every node of the restored rules still knows where it was written
            assert [n.span for n in a.criterion_nodes()] == [n.span for n in b.criterion_nodes()]
            assert all(n.span and n.span.file and n.span.column for n in a.criterion_nodes())


def test_a_changed_file_is_never_answered_from_the_old_snapshot(tree, tmp_path):
    Suite.cached(tree)
    f = tree / "assisted-conception" / "policy.yaml"
    f.write_text(f.read_text().replace("Body mass index between 19 and 30.", "BMI between 19 and 30."))
    s = Suite.cached(tree)
    rv = s.resolved("assisted-conception", "2020-03-05")
    assert rv.criteria[1].text == "BMI between 19 and 30."
    assert len(snapshots(tmp_path)) == 1    # the old snapshot was replaced, not kept beside


def test_a_broken_file_takes_no_snapshot_and_reports_as_before(tree, tmp_path):
    f = tree / "assisted-conception" / "policy.yaml"
    f.write_text(f.read_text().replace("attr: bmi\n", "attr: bmii\n", 1))
    s = Suite.cached(tree)
    assert snapshots(tmp_path) == []
    with pytest.raises(InputError) as e:
        s.select("assisted-conception", version="2020-03-05")
    assert "did you mean 'bmi'" in str(e.value) and "policy.yaml:" in str(e.value)
    assert s.select("breast-implant-removal", version="2018-07-01").label == "2018-07-01"  # the rest still works


def test_no_cache_means_no_file(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("CPE_NO_CACHE", "1")
    Suite.cached(tree)
    Suite.cached(tree)
    assert snapshots(tmp_path) == []


def test_an_unreadable_snapshot_is_rebuilt(tree, tmp_path):
    Suite.cached(tree)
    snap = snapshots(tmp_path)[0]
    snap.write_bytes(b"not a pickle")
    s = Suite.cached(tree)
    assert s.resolved("breast-implant-replacement", "2020-03-05").refs["breast-implant-removal"]
