"""Data never becomes code, formulas or markup; numbers are read as written; a retried case
creation is not a second case; personal data stays out of logs (issue 20)."""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import pickle
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from tests.conftest import ROOT, run_cpe
from tests.register_db import db_url, raw, register  # noqa: F401

# -- numbers: as a person reads them, or refused -------------------------------------------------
_DECIMAL = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")


def _person_reads(text: str) -> Decimal | None:
    """The number a person reads in `text`: plain decimal notation only (no base, no separators)."""
    t = text.strip()
    return Decimal(t) if _DECIMAL.match(t) else None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="0123456789+-._:xobeE ,", min_size=1, max_size=10),
       attr=st.sampled_from(["age", "bmi"]), kind=st.sampled_from(["yaml", "json"]))
def test_text_written_as_a_number_is_read_as_that_number_or_refused(suite, text, attr, kind):
    from engine.language.patient import validate_patient
    from engine.language.source import parse_json, parse_yaml

    source = f"{attr}: {text}\n" if kind == "yaml" else f'{{"{attr}": {text}}}'
    try:
        data = parse_yaml(source, "p.yaml") if kind == "yaml" else parse_json(source, "p.json")
        facts = validate_patient(data, suite.attributes, "p")
    except InputError:
        return  # refused: fine
    if attr not in facts:  # read as unknown: only a blank or a null is
        assert data.get(attr) is None
        return
    person = _person_reads(text)
    assert person is not None, f"{text!r} was read as {facts[attr]!r}, though a person reads no number in it"
    value = facts[attr]
    assert math.isfinite(value) and float(person) == float(value), (text, value)


# -- nothing runs from the cache ------------------------------------------------------------------
class _Planted:
    """What a crafted snapshot would do when unpickled: leave a mark."""

    def __init__(self, mark: Path):
        self.mark = mark

    def __reduce__(self):
        return (Path.touch, (self.mark,))


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("CPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CPE_CACHE_KEY_FILE", str(tmp_path / "key" / "cache.key"))
    monkeypatch.delenv("CPE_NO_CACHE", raising=False)
    root = tmp_path / "policies"
    root.mkdir()
    shutil.copy(ROOT / "policies" / "attributes.yaml", root)
    shutil.copytree(ROOT / "policies" / "breast-implant-removal", root / "breast-implant-removal")
    return root


def test_a_planted_snapshot_never_runs(tree, tmp_path):
    from engine.language.suite import Suite

    Suite.cached(tree)
    (snap,) = (tmp_path / "cache").glob("suite-*.pickle")
    mark = tmp_path / "ran"
    snap.write_bytes(pickle.dumps(_Planted(mark)))  # written by someone without the key
    s = Suite.cached(tree)
    assert not mark.exists()
    assert s.select("breast-implant-removal", version="2018-07-01").label == "2018-07-01"


def test_the_cache_key_never_lives_in_the_cache_folder(tmp_path, monkeypatch):
    from engine.language import cache

    monkeypatch.setenv("CPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CPE_CACHE_KEY_FILE", str(tmp_path / "cache" / "cache.key"))
    assert not cache.enabled()
    cache.write("x.json", b"{}")
    assert not (tmp_path / "cache" / "x.json").exists()


def test_an_edited_cached_formulary_is_not_believed(tmp_path, monkeypatch):
    from engine.formulary import lookup
    from engine.formulary.entries import compile_formulary, load_formulary

    monkeypatch.setenv("CPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CPE_CACHE_KEY_FILE", str(tmp_path / "key" / "cache.key"))
    folder = tmp_path / "lsc"
    shutil.copytree(ROOT / "policies" / "formulary" / "lsc", folder)
    fresh = compile_formulary(load_formulary(folder))
    lookup.compiled(folder)
    (cached,) = (tmp_path / "cache").glob("formulary-*.json")
    text = json.dumps(fresh).replace('"red"', '"green"')
    assert text != json.dumps(fresh)
    cached.write_text(text)  # agomelatine green, although entries.yaml says red
    assert lookup.compiled(folder) == fresh


# -- formulas and markup --------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x.example","y")', "=cmd|' /C calc'!A0", "+1", "-1", "@A1",
                                  "'quoted", "\tx"])
def test_csv_export_writes_formula_text_inert_and_reads_it_back(cell):
    from engine.formulary.csvfile import read_csv, to_csv
    from engine.formulary.entries import load_formulary
    from engine.language.load import load_attributes

    f = load_formulary("lsc")
    e = f.entries[0].model_copy(update={"notes": cell})
    text = to_csv([e])
    row = next(csv.DictReader(io.StringIO(text)))
    assert not row["notes"].startswith(("=", "+", "-", "@", "\t", "\r"))
    path = Path(__file__).parent / "_tmp_formula.csv"
    try:
        path.write_text(text, encoding="utf-8")
        (back,) = read_csv(path, f.vocabulary, load_attributes(ROOT / "policies" / "attributes.yaml"))
    finally:
        path.unlink(missing_ok=True)
    assert back.notes == cell.strip()


def test_markdown_letters_keep_user_text_inert(suite):
    from markdown_it import MarkdownIt

    from engine.ifr.routing import plan
    from engine.ifr.screening import screen
    from engine.language.decide import decide
    from engine.reports.render import render_panel

    rv = suite.select("breast-implant-removal", version="2018-07-01")
    d = decide(rv, {"age": 40})
    grounds = ("See [my notes](javascript:alert(1)) and ![x](http://evil.example/t.png)\n# Approved\n"
               "<script>alert(1)</script> | cell")
    md = render_panel(d, plan(d, suite.attributes), screen(grounds), "md", ref="C-1\n# Approved by the panel").decode()
    html = MarkdownIt().render(md)
    assert 'href="javascript:' not in html and "<img" not in html and "<script" not in html
    assert not re.search(r"<h\d>Approved", html)


def test_case_show_prints_no_escape_sequence(tmp_path):
    env = {"CPE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}"}
    (tmp_path / "p.yaml").write_text("age: 40\n")
    r = run_cpe("case", "new", "breast-implant-removal", "--patient", str(tmp_path / "p.yaml"), "--on", "2019-01-01",
                "--grounds", "pain\x1b[2J\x1b]0;owned\x07 and \x9b31m colour", "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    ref = json.loads(r.stdout)["ref"]
    r = run_cpe("case", "show", ref, env=env)
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "\x9b" not in r.stdout
    assert "grounds: pain\\x1b[2J" in r.stdout


# -- idempotency ----------------------------------------------------------------------------------
BODY = {"policy_id": "hip-arthroscopy", "patient": {"age": 37, "fai_diagnosis_confirmed": True},
        "on": "2019-06-01", "grounds": "SECRET-GROUNDS elite athlete", "patient_ref": "SECRET-REF-9434765919"}
TOKEN = "officer-token-000001"


@pytest.fixture
def client(register, monkeypatch):
    from engine.service.register_api import router

    monkeypatch.setenv("CPE_API_TOKENS", f"ifr_officer:officer:{TOKEN}")
    app = FastAPI()
    app.state.register = register
    app.include_router(router)
    with TestClient(app) as c:
        yield c


def _post(client, body, key=None):
    headers = {"Authorization": f"Bearer {TOKEN}", **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/cases", json=body, headers=headers)


def test_a_retried_case_creation_is_the_same_case(client, register):
    a = _post(client, BODY, "req-7f3a")
    b = _post(client, BODY, "req-7f3a")
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert a.json() == b.json() and b.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in a.headers
    assert len(register.list_cases()) == 1
    c = _post(client, {**BODY, "grounds": "another request"}, "req-7f3a")
    assert c.status_code == 422 and c.json()["problems"][0]["code"] == "idempotency-key-reused"
    assert _post(client, BODY, "bad key with spaces").status_code == 422
    assert _post(client, BODY).json()["ref"] != a.json()["ref"]  # no key: a new case each time


def test_a_retried_cli_case_creation_is_the_same_case(db_url, tmp_path):
    env = {"CPE_DATABASE_URL": db_url}
    (tmp_path / "p.yaml").write_text("age: 40\n")
    args = ("case", "new", "breast-implant-removal", "--patient", str(tmp_path / "p.yaml"), "--on", "2019-01-01",
            "--idempotency-key", "k-1", "--format", "json")
    a, b = run_cpe(*args, env=env), run_cpe(*args, env=env)
    assert a.returncode == b.returncode == 0, (a.stderr, b.stderr)
    assert json.loads(a.stdout) == json.loads(b.stdout)
    assert "already used" in b.stderr
    listed = run_cpe("case", "list", "--format", "json", env=env)
    assert len(json.loads(listed.stdout)) == 1


# -- logs -----------------------------------------------------------------------------------------
def test_no_personal_data_in_logs_even_when_the_database_fails(client, register, caplog):
    caplog.set_level(logging.DEBUG)
    assert _post(client, BODY, "k-logs").status_code == 201
    raw(register, "DROP TABLE idempotency_keys", "DROP TABLE case_events")  # the database now fails writes
    with pytest.raises(Exception) as e:
        register.new_case(BODY["policy_id"], BODY["patient"], grounds=BODY["grounds"], actor="x",
                          patient_ref=BODY["patient_ref"])
    for text in (caplog.text, str(e.value)):
        assert "SECRET" not in text and "9434765919" not in text


# -- text in a JSON body: a NUL or a lone surrogate is refused, wherever it is ------------------------
_TEXT = st.text(alphabet=st.sampled_from(["a", "é", "\\", "u", "0", "\x00", "\ud800", "\udfff", "😀", '"', "\n"]),
                max_size=6)
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-10, 10) | _TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                     max_leaves=8)


def _strings(v: object) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, dict):
        return [s for k, x in v.items() for s in [k, *_strings(x)]]
    if isinstance(v, list):
        return [s for x in v for s in _strings(x)]
    return []


@given(value=_JSON, ascii_only=st.booleans())
@settings(max_examples=300, deadline=None)
def test_a_json_body_is_refused_exactly_when_some_text_holds_a_nul_or_a_lone_surrogate(value, ascii_only):
    """parse_json skips the per-string check when the whole text cannot hold a bad string
    (source._clean_text); the verdict must be the same as checking every string."""
    from engine.language.source import parse_json

    text = json.dumps(value, ensure_ascii=ascii_only)
    read = json.loads(text)   # what the text says ("\\ud800\\udc00" escaped is one character, U+10000)
    bad = any("\x00" in s or any(0xD800 <= ord(c) <= 0xDFFF for c in s) for s in _strings(read))
    if bad:
        with pytest.raises(InputError, match="NUL|surrogate"):
            parse_json(text)
    else:
        assert parse_json(text) == read
        assert parse_json(text.encode("utf-8")) == read
