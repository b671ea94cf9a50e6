"""The bad-input corpus (tests/bad_input/, one file per defect, OpenFisca-style): each input is
refused on every channel it can reach (the CLI: exit 2, one line on stderr, nothing on stdout; the
API: a 4xx with a one-line detail and no decision; with SQLite and PostgreSQL where a case is
recorded), or read as the value a person reads in it. Never a traceback, never exit 1 or a 5xx.

A corpus file says: `defect` (what went wrong before), `target` (where the input goes), the input
(`text`, `generate`, `special`, `replace`, `case`, `cell`, `output`), and `expect` (`refused`
with `words` the message must hold, or `read_as` facts).
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import ROOT, run_cpe
from tests.register_db import fresh_postgres

CORPUS = Path(__file__).parent / "bad_input"
SPECS = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.yaml"))}
OK_PATIENT = "age: 30\nbmi: 24\n"
CASE = {"policy_id": "hip-arthroscopy", "patient": {"age": 37, "fai_diagnosis_confirmed": True},
        "on": "2019-06-01", "grounds": "elite athlete", "patient_ref": "R-1", "requester": "Dr Example"}
TOKEN = "officer-token-000001"
CHANNELS = {"patient": ("cli", "api"), "fhir": ("cli", "api"), "attributes": ("cli", "api"),
            "policy": ("cli", "api"), "formulary": ("cli", "api"), "policy_id": ("cli", "api"),
            "case": ("cli", "api"), "csv": ("cli",), "output": ("cli",)}


def _params() -> list:
    out = []
    for name, spec in SPECS.items():
        channels = spec.get("channels") or CHANNELS[spec["target"]]
        if spec["target"] == "patient" and not str(spec.get("file", "")).endswith(".json"):
            channels = [c for c in channels if c != "api"]  # the API reads JSON only
        for ch in channels:
            for db in (("sqlite", "postgresql") if spec["target"] == "case" else (None,)):
                out.append(pytest.param(name, ch, db, id="-".join(x for x in (name, ch, db) if x)))
    return out


def test_the_corpus_covers_every_kind_of_the_issue():
    kinds = {s["target"] for s in SPECS.values()}
    assert kinds == set(CHANNELS)
    assert all(s["defect"] and s["expect"] for s in SPECS.values())


# -- making the inputs ---------------------------------------------------------------------------
def _text(spec: dict) -> str:
    gen = spec.get("generate")
    if gen is None:
        return spec["text"]
    if isinstance(gen, dict):
        return json.dumps({f"k{i}": 1 for i in range(gen["many_keys"])})
    return "".join(part * times for part, times in gen)


def _input_file(spec: dict, tmp: Path) -> Path:
    special = spec.get("special")
    if special and special.startswith("/dev/"):
        return Path(special)
    if special == "fifo":
        os.mkfifo(tmp / "p.yaml")
        return tmp / "p.yaml"
    if special == "symlink_loop":
        (tmp / "a.yaml").symlink_to(tmp / "b.yaml")
        (tmp / "b.yaml").symlink_to(tmp / "a.yaml")
        return tmp / "a.yaml"
    path = tmp / spec["file"]
    path.write_text(_text(spec), encoding="utf-8")
    return path


def _policies(spec: dict, tmp: Path) -> Path:
    """A copy of the shipped policies needed here, with the corpus file's one edit."""
    root = tmp / "policies"
    root.mkdir()
    shutil.copy(ROOT / "policies" / "attributes.yaml", root)
    shutil.copytree(ROOT / "policies" / "assisted-conception", root / "assisted-conception")
    shutil.copytree(ROOT / "policies" / "formulary", root / "formulary")
    target = {"attributes": root / "attributes.yaml", "policy": root / "assisted-conception" / "policy.yaml",
              "formulary": root / "formulary" / "lsc" / "vocabulary.yaml"}[spec["target"]]
    old, new = spec["replace"]
    text = target.read_text(encoding="utf-8")
    assert old in text, f"the corpus edit {old!r} no longer applies to {target.name}"
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


def _csv(spec: dict, tmp: Path) -> Path:
    from engine.formulary.csvfile import to_csv
    from engine.formulary.entries import load_formulary

    rows = list(csv.DictReader(io.StringIO(to_csv(load_formulary("lsc").entries[:2]))))
    rows[1]["notes"] = spec["cell"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path = tmp / "f.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _case_fields(spec: dict) -> dict:
    """The case body with the corpus file's fields; `\\u…` escapes in them are the characters."""
    fields = {k: v.encode("ascii", "backslashreplace").decode("unicode_escape") if isinstance(v, str) else v
              for k, v in spec["case"].items()}
    return {**CASE, **fields}


def _db(db: str, tmp: Path) -> str:
    return f"sqlite:///{tmp / 'register.sqlite3'}" if db == "sqlite" else fresh_postgres()


# -- the channels ---------------------------------------------------------------------------------
def _cli(spec: dict, tmp: Path, db: str | None) -> tuple:
    t, env = spec["target"], {"CPE_CACHE_DIR": str(tmp / "cache")}
    ok = tmp / "ok.yaml"
    ok.write_text(OK_PATIENT, encoding="utf-8")
    if t == "patient":
        args = ["evaluate", "assisted-conception", "--patient", str(_input_file(spec, tmp)), "--format", "json"]
    elif t == "fhir":
        args = ["evaluate", "assisted-conception", "--fhir", str(_input_file(spec, tmp)), "--format", "json"]
    elif t in ("attributes", "policy"):
        args = ["evaluate", "assisted-conception", "--patient", str(ok), "--policies", str(_policies(spec, tmp)),
                "--format", "json"]
    elif t == "formulary":
        env["CPE_POLICIES"] = str(_policies(spec, tmp))
        args = ["rag", "agomelatine", "--format", "json"]
    elif t == "policy_id":
        args = ["evaluate", spec["policy_id"], "--patient", str(ok), "--format", "json"]
    elif t == "case":
        c = _case_fields(spec)
        (tmp / "case.json").write_text(json.dumps(c["patient"]), encoding="utf-8")
        env["CPE_DATABASE_URL"] = _db(db, tmp)
        args = ["case", "new", c["policy_id"], "--patient", str(tmp / "case.json"), "--on", c["on"],
                "--grounds", c["grounds"], "--patient-ref", c["patient_ref"], "--requester", c["requester"],
                "--format", "json"]
    elif t == "csv":
        args = ["formulary", "import", str(_csv(spec, tmp))]
    else:  # output
        args = ["report", "policy", "breast-implant-removal", "--format", "md", "-o", str(tmp / spec["output"])]
    r = run_cpe(*args, cwd=tmp, env=env)
    return r, env


def _api(spec: dict, tmp: Path, db: str | None, monkeypatch) -> object:
    from engine.service.app import create_app

    t = spec["target"]
    monkeypatch.setenv("CPE_CACHE_DIR", str(tmp / "cache"))
    if t == "case":
        from engine.register.store import Register
        from engine.service.register_api import router

        monkeypatch.setenv("CPE_API_TOKENS", f"ifr_officer:officer:{TOKEN}")
        app = FastAPI()
        reg = app.state.register = Register(_db(db, tmp))
        app.include_router(router)
        try:
            with TestClient(app) as c:
                r = c.post("/api/cases", content=json.dumps(_case_fields(spec)),
                           headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
                assert reg.list_cases() == [], "a refused request recorded a case"
                return r
        finally:
            reg.close()
    root = None
    if t in ("attributes", "policy", "formulary"):
        root = _policies(spec, tmp)
        monkeypatch.setenv("CPE_POLICIES", str(root))
    with TestClient(create_app(root), raise_server_exceptions=False) as c:
        if t in ("patient", "fhir"):
            return c.post("/api/policies/assisted-conception/evaluate", content=_input_file(spec, tmp).read_bytes(),
                          headers={"Content-Type": "application/json"})
        if t == "formulary":
            return c.get("/api/medicines", params={"q": "agomelatine"})
        pid = quote(spec["policy_id"], safe="") if t == "policy_id" else "assisted-conception"
        return c.post(f"/api/policies/{pid}/evaluate", json={"age": 30, "bmi": 24})


def _facts(decision: object) -> dict:
    """Every fact (attribute → value) a decision shows it used."""
    found: dict = {}
    if isinstance(decision, dict):
        if "attribute" in decision and "value" in decision:
            found[decision["attribute"]] = decision["value"]
        for v in decision.values():
            found.update(_facts(v))
    elif isinstance(decision, list):
        for v in decision:
            found.update(_facts(v))
    return found


@pytest.mark.parametrize("name,channel,db", _params())
def test_bad_input(name, channel, db, tmp_path, monkeypatch):
    spec = SPECS[name]
    expect = spec["expect"]
    if channel == "cli":
        r, _ = _cli(spec, tmp_path, db)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
        if expect == "refused":
            assert r.returncode == 2, (r.returncode, r.stdout[:300], r.stderr[:300])
            assert r.stdout == "", "bad input produced output (a decision?)"
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1, r.stderr[:1000]
            for w in spec.get("words", []):
                assert w in lines[0], (w, lines[0][:300])
            assert str(ROOT) not in lines[0] or str(tmp_path) in lines[0]  # no install path
        else:
            assert r.returncode == 0, r.stderr
            facts = _facts(json.loads(r.stdout))
            assert {k: facts.get(k) for k in expect["read_as"]} == expect["read_as"]
        return
    r = _api(spec, tmp_path, db, monkeypatch)
    if expect == "refused":
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        body = r.json()
        assert "outcome" not in body and "decision" not in body
        detail = body.get("detail")
        assert isinstance(detail, str) and "\n" not in detail, body
        if r.status_code != 404 or spec["target"] != "policy_id":  # a `/` in an id matches no route at all
            for w in spec.get("words", []):
                assert w in detail, (w, detail[:300])
        assert str(ROOT) not in detail
    else:
        assert r.status_code == 200, r.text
        facts = _facts(r.json())
        assert {k: facts.get(k) for k in expect["read_as"]} == expect["read_as"]
