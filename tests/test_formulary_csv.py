"""CSV import and export: the documented layout, lossless round trips, per-row errors by line."""
from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.formulary.csvfile import COLUMNS, entries_yaml, read_csv, to_csv
from engine.formulary.entries import load_formulary, load_vocabulary, policies_root
from engine.formulary.model import Entry
from engine.language.load import load_attributes
from tests.conftest import FIXTURES, ROOT, run_cpe
from tests.test_formulary_cli import cpe  # noqa: F401  (the in-process `cpe` fixture)

LSC = ROOT / "policies" / "formulary" / "lsc"
GM = FIXTURES / "formulary" / "gm"


@pytest.fixture(scope="module")
def vocab():
    return load_vocabulary(LSC)


@pytest.fixture(scope="module")
def attrs():
    return load_attributes(policies_root() / "attributes.yaml")


def _write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("folder", [LSC, GM])
def test_export_import_round_trip_is_lossless(tmp_path, folder, attrs):
    f = load_formulary(folder)
    text = to_csv(f.entries)
    back = read_csv(_write(tmp_path, text), f.vocabulary, attrs)
    assert back == list(f.entries)
    assert to_csv(back) == text
    # and through the YAML the importer writes: a formulary folder that loads to the same entries
    dst = tmp_path / "copy"
    shutil.copytree(folder, dst)
    (dst / "entries.yaml").write_text(entries_yaml(back), encoding="utf-8")
    assert load_formulary(dst).entries == f.entries


def test_cli_export_then_import_then_export(cpe, tmp_path):
    out = tmp_path / "lsc.csv"
    r = cpe("formulary", "export", "-o", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == len(load_formulary(LSC).entries)
    r = cpe("formulary", "import", str(out))
    assert r.returncode == 0, r.stderr
    dst = tmp_path / "f"
    shutil.copytree(LSC, dst)
    (dst / "entries.yaml").write_text(r.stdout)
    r2 = cpe("formulary", "export", "--formulary", str(dst))
    assert r2.returncode == 0 and r2.stdout == out.read_text()


def test_minimal_netformulary_style_rows_import(tmp_path, vocab, attrs):
    text = ("drug_name,brand_names,formulation,indication,traffic_light,prior_approval,provenance,citation\n"
            "Testadrine,Testa; Testo,tablets,test indication,Green (Restricted),yes,comparator,fixture\n"
            "testadrine,,injection,,RED,,comparator,fixture\n")
    a, b = read_csv(_write(tmp_path, text), vocab, attrs)
    assert (a.id, a.status, a.brands, a.prior_approval) == (
        "testadrine-tablets-test-indication", "green_restricted", ("Testa", "Testo"), True)
    assert (b.id, b.status, b.indication, b.ifr_available) == ("testadrine-injection", "red", None, None)


def test_every_bad_row_is_named_by_its_line(tmp_path, vocab, attrs):
    text = ("drug_name,traffic_light,prior_approval,notes,criteria_json,provenance,citation\n"   # 1
            "good,green,no,\"a note\nover two lines\",,public,x\n"                                  # 2-3
            "badstatus,purple,no,,,public,x\n"                                                       # 4
            "badflag,green,perhaps,,,public,x\n"                                                     # 5
            ",green,no,,,public,x\n"                                                                 # 6
            "badprov,green,no,,,rumour,x\n"                                                          # 7
            "badjson,green,no,,{nope,public,x\n"                                                     # 8
            "badattr,green,no,,\"[{\"\"id\"\":\"\"a\"\",\"\"text\"\":\"\"t\"\",\"\"attr\"\":\"\"agee\"\","
            "\"\"op\"\":\"\">=\"\",\"\"value\"\":1}]\",public,x\n"                                 # 9
            "good,green,no,,,public,x\n")                                                            # 10
    with pytest.raises(InputError) as exc:
        read_csv(_write(tmp_path, text), vocab, attrs)
    by_line = {p.location.line: str(p) for p in exc.value.problems}
    assert set(by_line) == {4, 5, 6, 7, 8, 9, 10}, by_line
    assert "'purple' is not in the lsc vocabulary" in by_line[4]
    assert "prior_approval: 'perhaps' is not yes or no" in by_line[5]
    assert "medicine" in by_line[6]
    assert "provenance" in by_line[7]
    assert "criteria_json: not valid JSON" in by_line[8]
    assert "'agee' is not in the dictionary" in by_line[9] and "did you mean 'age'" in by_line[9]
    assert "already used on line 2" in by_line[10]
    assert all(p.location.file.endswith("in.csv") for p in exc.value.problems)


def test_bad_header_is_line_1(tmp_path, vocab, attrs):
    with pytest.raises(InputError, match=r"in.csv:1: invalid-csv: unknown column\(s\): 'colour'; missing "
                                         r"column\(s\): traffic_light, provenance, citation"):
        read_csv(_write(tmp_path, "drug_name,colour\nx,green\n"), vocab, attrs)


def test_cli_import_error_exits_2_naming_the_line(tmp_path):
    p = _write(tmp_path, "drug_name,traffic_light,provenance,citation\nok,green,public,x\nbad,mauve,public,x\n")
    r = run_cpe("formulary", "import", str(p), env={"CPE_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 2 and "in.csv:3" in r.stderr and "'mauve'" in r.stderr and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1


# --- property: any entry the model accepts survives the CSV --------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\n,\";"),
                min_size=1, max_size=20).filter(lambda s: s.strip() != "")
_name = st.text(st.sampled_from("abcxyz -É"), min_size=1, max_size=10).map(str.strip).filter(bool)
_criteria = st.sampled_from([
    (),
    ({"id": "a", "text": "t", "provenance": "seed", "citation": "c", "attr": "age", "op": ">=", "value": 18},),
    ({"id": "b", "text": "t", "provenance": "public", "citation": "c",
      "any": [{"attr": "smoker", "op": "=", "value": False}, {"not": {"attr": "bmi", "op": "between",
                                                                        "min": 19.5, "max": 30}}]},),
])


@st.composite
def entries(draw):
    ind = draw(st.none() | _text)
    return Entry.model_validate({
        "id": draw(st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,4})?", fullmatch=True)),
        "medicine": draw(_text), "brands": draw(st.lists(_name, max_size=3)),
        "synonyms": draw(st.lists(_name, max_size=2)), "formulation": draw(st.none() | _text),
        "indication": ind, "all_indications": draw(st.booleans()) if ind else False,
        "status": draw(st.sampled_from(["green", "red", "black", "not_stated"])),
        "restrictions": draw(st.none() | _text), "criteria": draw(_criteria),
        "prior_approval": draw(st.booleans()), "ifr_available": draw(st.none() | st.booleans()),
        "nice_ta": draw(st.none() | st.from_regex(r"TA[0-9]{1,4}", fullmatch=True)),
        "decision_date": draw(st.none() | st.dates().map(str)),
        "monitoring": draw(st.lists(st.builds(dict, what=_text, after_months=st.none() | st.integers(0, 60)),
                                    max_size=2)),
        "source": {"provenance": draw(st.sampled_from(["seed", "public", "comparator"])), "citation": draw(_text),
                   "url": draw(st.none() | _text)},
    })


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(entries(), max_size=4, unique_by=lambda e: e.id))
def test_any_valid_entries_round_trip_through_csv(tmp_path, vocab, attrs, es):
    back = read_csv(_write(tmp_path, to_csv(es), "prop.csv"), vocab, attrs)
    assert back == es
