"""FHIR R4 input: the two Synthea bundles, facts as of the referral date, unknowns kept unknown."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.fhir.facts import from_bundle, from_resources, load_bundle

FHIR = Path(__file__).resolve().parent / "fixtures" / "fhir"  # Synthea bundles, unchanged copies
JOHNNIE = FHIR / "Johnnie679_Hermiston71_2cd30bd6-3a87-4191-af90-6daa70f58f55.json"
LUNA = FHIR / "Luna60_McCullough561_6662f0ca-b617-4e02-8f55-7275e9f49aa0.json"


def patient(birth: str) -> dict:
    return {"resourceType": "Patient", "id": "p1", "birthDate": birth}


def obs(code: str, when: str, **value) -> dict:
    return {"resourceType": "Observation", "id": f"o-{code}-{when}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}, "effectiveDateTime": when, **value}


def bmi(when: str, v: float, unit: str = "kg/m2") -> dict:
    return obs("39156-5", when, valueQuantity={"value": v, "unit": unit, "code": unit})


def smoking(when: str, snomed: str, text: str = "") -> dict:
    return obs("72166-2", when, valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct",
                                                                   "code": snomed}], "text": text})


def test_synthea_bundle_gives_age_bmi_and_smoking_at_the_referral_date():
    m = load_bundle(JOHNNIE, dt.date(2019, 6, 1))
    assert m.facts == {"age": 10, "bmi": pytest.approx(23.552380824301974), "smoker": False}
    assert "birthDate 2009-03-20" in m.sources["age"]
    assert "2018-11-02" in m.sources["bmi"]


def test_observations_after_the_referral_date_are_not_facts_at_referral():
    m = load_bundle(JOHNNIE, dt.date(2012, 1, 1))
    assert m.facts["bmi"] == pytest.approx(19.395685819615817)  # 2011-08-26, not the later ones
    assert m.facts["age"] == 2


def test_bundle_with_schema_faults_is_read_tolerantly():
    raw = json.loads(LUNA.read_text())
    faults = [e["resource"]["resourceType"] for e in raw["entry"]
              if "category" in e["resource"] and not isinstance(e["resource"]["category"], list)]
    assert faults  # the fault is really there: a 0..* `category` that is not a list
    assert any(str(e["resource"].get("valueTime", "")).endswith("-05:00") for e in raw["entry"])
    m = load_bundle(LUNA, dt.date(2019, 6, 1))
    assert m.facts == {"age": 10, "bmi": pytest.approx(12.462144016266112), "smoker": False}


def test_what_cannot_be_mapped_stays_unknown_with_a_note():
    m = from_resources([bmi("2020-01-01", 25, unit="lb/in2")], dt.date(2021, 1, 1))
    assert m.facts == {}
    text = " ".join(m.notes)
    assert "age unknown: no Patient resource" in text and "lb/in2" in text and "smoker unknown" in text


@pytest.mark.parametrize("snomed,expected", [("449868002", True), ("77176002", True), ("8517006", False),
                                             ("266919005", False)])
def test_smoking_status_codes(snomed, expected):
    m = from_resources([smoking("2020-01-01", snomed)], dt.date(2021, 1, 1))
    assert m.facts["smoker"] is expected


def test_smoking_status_recorded_as_unknown_stays_unknown():
    m = from_resources([smoking("2020-01-01", "266927001")], dt.date(2021, 1, 1))
    assert "smoker" not in m.facts


def test_latest_observation_wins_and_entered_in_error_is_ignored():
    wrong = {**bmi("2020-06-01", 45), "status": "entered-in-error"}
    m = from_resources([bmi("2019-01-01", 24), bmi("2020-01-01", 27), wrong], dt.date(2021, 1, 1))
    assert m.facts["bmi"] == 27


@pytest.mark.parametrize("birth,on,age", [("1990-06-15", "2020-06-14", 29), ("1990-06-15", "2020-06-15", 30),
                                          ("1990-03", "2020-06-01", 30), ("1990", "2020-06-01", None),
                                          ("not-a-date", "2020-06-01", None), ("2030-01-01", "2020-06-01", None)])
def test_age_from_birth_date_only_when_settled(birth, on, age):
    m = from_resources([patient(birth)], dt.date.fromisoformat(on))
    assert m.facts.get("age") == age
    if age is None:
        assert any(n.startswith("age unknown") for n in m.notes)


def test_not_a_bundle_is_a_clear_input_error():
    with pytest.raises(InputError, match="expected a FHIR R4 Bundle"):
        from_bundle({"resourceType": "Patient"})
    with pytest.raises(InputError, match="Bundle.entry must be a list"):
        from_bundle({"resourceType": "Bundle", "entry": {"resource": {}}})


def test_cli_evaluate_fhir_both_bundles(cpe):
    for bundle in (JOHNNIE, LUNA):
        r = cpe("evaluate", "assisted-conception", "--fhir", str(bundle), "--on", "2020-06-01", "--format", "json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["outcome"] == "not_eligible"  # a ten-year-old: the age criterion is unmet
        age = next(c for c in out["criteria"] if c["id"] == "age")
        assert age["status"] == "unmet"
        assert "has_partner" in out["missing"] and "age" not in out["missing"]
        assert out["fhir"]["facts"]["smoker"] is False


def test_cli_evaluate_fhir_gives_the_same_decision_as_the_same_facts_by_patient_file(cpe, tmp_path):
    m = load_bundle(JOHNNIE, dt.date(2020, 6, 1))
    facts = tmp_path / "p.json"
    facts.write_text(json.dumps(m.facts))
    a = json.loads(cpe("evaluate", "assisted-conception", "--fhir", str(JOHNNIE), "--on", "2020-06-01",
                       "--format", "json").stdout)
    b = json.loads(cpe("evaluate", "assisted-conception", "--patient", str(facts), "--on", "2020-06-01",
                       "--format", "json").stdout)
    a.pop("fhir")
    assert a == b


def test_cli_bad_fhir_input_exits_2_with_one_line(cpe, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cpe("evaluate", "assisted-conception", "--fhir", str(bad))
    assert r.returncode == 2 and "invalid-json" in r.stderr and "Traceback" not in r.stderr
    bad.write_text(json.dumps({"resourceType": "Patient"}))
    r = cpe("evaluate", "assisted-conception", "--fhir", str(bad))
    assert r.returncode == 2 and "not-fhir-bundle" in r.stderr
    r = cpe("evaluate", "assisted-conception", "--fhir", str(JOHNNIE), "--patient", str(bad))
    assert r.returncode == 2 and "one of them" in r.stderr


def test_cli_text_says_where_the_fhir_facts_came_from(cpe):
    r = cpe("evaluate", "assisted-conception", "--fhir", str(LUNA), "--on", "2020-06-01")
    assert r.returncode == 0
    assert "From the FHIR Bundle" in r.stdout and "birthDate 2008-11-06" in r.stdout


# -- UK Core and real-record edges (issue 12) -------------------------------------------------
def snomed_obs(code: str, when: str, status: str = "final", **value) -> dict:
    return {"resourceType": "Observation", "id": f"s-{code}-{when}-{status}", "status": status,
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
            "effectiveDateTime": when, **value}


@pytest.mark.parametrize("code,expected", [("77176002", True), ("8517006", False), ("266919005", False)])
def test_uk_gp_smoking_findings_as_the_observation_code(code, expected):
    m = from_resources([snomed_obs(code, "2024-05-01")], dt.date(2025, 1, 1))
    assert m.facts["smoker"] is expected
    assert f"SNOMED CT {code}" in m.sources["smoker"] and "2024-05-01" in m.sources["smoker"]


def test_uk_core_tobacco_consumption_with_a_quantity():
    pipe = snomed_obs("230058003", "2023-08-10", valueQuantity={"value": 5, "unit": "per day",
                                                                 "system": "http://unitsofmeasure.org", "code": "/d"})
    assert from_resources([pipe], dt.date(2024, 1, 1)).facts["smoker"] is True
    none = snomed_obs("230058003", "2023-08-10", valueQuantity={"value": 0, "code": "/d"})
    m = from_resources([none], dt.date(2024, 1, 1))
    assert "smoker" not in m.facts and any("not smoked" in n for n in m.notes)


def test_bmi_coded_only_as_snomed_60621009():
    m = from_resources([snomed_obs("60621009", "2023-08-10", valueQuantity={"value": 46, "code": "kg/m2"})],
                       dt.date(2024, 1, 1))
    assert m.facts["bmi"] == 46 and "SNOMED CT 60621009" in m.sources["bmi"]
    assert m.dates["bmi"] == "2023-08-10"


def test_deceased_patient_is_refused_with_a_clear_message():
    dead = {**patient("1950-01-01"), "deceasedDateTime": "2024-02-03T10:00:00Z"}
    m = from_resources([dead, bmi("2023-01-01", 30)], dt.date(2025, 1, 1))
    assert m.deceased and "2024-02-03" in m.deceased and m.facts == {}
    with pytest.raises(InputError, match="has died"):
        from_bundle({"resourceType": "Bundle", "entry": [{"resource": dead}]}, dt.date(2025, 1, 1))
    assert from_resources([{**patient("1950-01-01"), "deceasedBoolean": True}], dt.date(2025, 1, 1)).deceased
    # died after the referral date: alive at referral
    later = from_resources([dead], dt.date(2020, 1, 1))
    assert later.deceased is None and later.facts["age"] == 70
    assert from_resources([{**patient("1950-01-01"), "deceasedBoolean": False}], dt.date(2025, 1, 1)).facts["age"] == 75


def test_status_final_amended_corrected_over_preliminary_then_time():
    prelim = {**bmi("2024-06-02", 40), "status": "preliminary", "id": "prelim"}
    amended = {**bmi("2024-06-01", 31), "status": "amended", "id": "amended"}
    assert from_resources([prelim, amended], dt.date(2025, 1, 1)).facts["bmi"] == 31
    assert from_resources([prelim], dt.date(2025, 1, 1)).facts["bmi"] == 40  # the only one: used
    registered = {**bmi("2024-07-01", 50), "status": "registered"}
    assert from_resources([registered, amended], dt.date(2025, 1, 1)).facts["bmi"] == 31


def test_two_bmis_on_one_day_are_taken_by_time_not_bundle_order():
    morning = {**bmi("2024-06-01T08:00:00+01:00", 30), "id": "morning"}
    evening = {**bmi("2024-06-01T18:30:00+01:00", 32), "id": "evening"}
    for order in ([morning, evening], [evening, morning]):
        m = from_resources(order, dt.date(2025, 1, 1))
        assert m.facts["bmi"] == 32 and "Observation/evening" in m.sources["bmi"]


def test_a_maximum_fact_age_leaves_an_old_fact_unknown_with_its_date(monkeypatch):
    old = bmi("2019-03-01", 29)
    m = from_resources([old], dt.date(2026, 1, 1), max_age_days=365)
    assert "bmi" not in m.facts and any("recorded 2019-03-01" in n for n in m.notes)
    monkeypatch.setenv("CPE_FHIR_MAX_FACT_AGE_DAYS", "3650")
    m = from_resources([old], dt.date(2026, 1, 1))
    assert m.facts["bmi"] == 29 and m.dates["bmi"] == "2019-03-01"
    monkeypatch.setenv("CPE_FHIR_MAX_FACT_AGE_DAYS", "30")
    assert "bmi" not in from_resources([old], dt.date(2026, 1, 1)).facts


def test_one_malformed_observation_drops_that_fact_not_the_record():
    broken = {**bmi("2024-06-01", 31), "status": ["final"]}  # a list where FHIR says code
    m = from_resources([patient("1990-01-01"), broken, smoking("2024-01-01", "8517006")], dt.date(2025, 1, 1))
    assert m.facts == {"age": 35, "smoker": False}
    assert any("Observation.status" in n for n in m.notes)
    odd = {"resourceType": "Observation", "status": "final", "code": {"coding": {"system": "http://loinc.org",
                                                                                "code": [1]}}}
    assert from_resources([odd], dt.date(2025, 1, 1)).facts == {}


def test_an_out_of_range_fact_is_dropped_alone():
    from engine.language.suite import Suite

    m = from_resources([patient("1990-01-01"), bmi("2024-06-01", 300)], dt.date(2025, 1, 1))
    checked = m.checked(Suite().attributes)
    assert checked.facts == {"age": 35}
    assert any(n.startswith("bmi not used") for n in checked.notes)


def test_cli_malformed_fhir_exits_2_and_one_bad_bmi_keeps_the_rest(cpe, tmp_path):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": patient("1990-01-01")}, {"resource": {**bmi("2019-06-01", 31), "status": ["final"]}}]}
    f = tmp_path / "b.json"
    f.write_text(json.dumps(bundle))
    r = cpe("evaluate", "assisted-conception", "--fhir", str(f), "--on", "2020-06-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["fhir"]["facts"] == {"age": 30}
    bundle["entry"][1]["resource"] = bmi("2019-06-01", 300)  # out of the dictionary's range
    f.write_text(json.dumps(bundle))
    r = cpe("evaluate", "assisted-conception", "--fhir", str(f), "--on", "2020-06-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["fhir"]
    assert out["facts"] == {"age": 30} and any("bmi not used" in n for n in out["notes"])
    f.write_text(json.dumps({"resourceType": "Bundle", "entry": [{"resource": {
        **patient("1990-01-01"), "deceasedDateTime": "2020-01-01"}}]}))
    r = cpe("evaluate", "assisted-conception", "--fhir", str(f), "--on", "2020-06-01")
    assert r.returncode == 2 and "patient-deceased" in r.stderr and "Traceback" not in r.stderr
    f.write_text('<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>')  # cut short
    r = cpe("evaluate", "assisted-conception", "--fhir", str(f))
    assert r.returncode == 2 and "fhir-xml" in r.stderr and "not well-formed" in r.stderr
    f.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Bundle xmlns="http://hl7.org/fhir"/>')
    r = cpe("evaluate", "assisted-conception", "--fhir", str(f))
    assert r.returncode == 2 and "entity declaration is refused" in r.stderr
    f.write_text('<Bundle xmlns="http://example.org"/>')
    r = cpe("evaluate", "assisted-conception", "--fhir", str(f))
    assert r.returncode == 2 and "not FHIR XML" in r.stderr


UKCORE = Path(__file__).resolve().parent / "fixtures" / "uk-core"  # NHS England's examples, unchanged (README)


def test_uk_core_examples_in_fhir_xml_give_age_bmi_and_smoking():
    from engine.fhir import xml

    resources = [xml.parse((UKCORE / f"UKCore-{n}-Example.xml").read_text())
                 for n in ("Patient-RichardSmith", "Observation-VitalSigns-BMI", "Observation-PipeSmoker")]
    m = from_resources(resources, dt.date(2024, 1, 1))
    assert m.facts == {"age": 53, "bmi": 46, "smoker": True}
    assert "SNOMED CT 230058003" in m.sources["smoker"] and m.dates == {"bmi": "2023-08-10", "smoker": "2023-08-10"}


def test_cli_reads_a_uk_core_bundle_in_xml(cpe, tmp_path):
    inner = "".join("<entry><resource>" + (UKCORE / f"UKCore-{n}-Example.xml").read_text() + "</resource></entry>"
                    for n in ("Patient-RichardSmith", "Observation-VitalSigns-BMI", "Observation-PipeSmoker"))
    f = tmp_path / "uk.xml"
    f.write_text(f'<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>{inner}</Bundle>')
    r = cpe("evaluate", "assisted-conception", "--fhir", str(f), "--on", "2024-01-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["fhir"]["facts"] == {"age": 53, "bmi": 46, "smoker": True}


def test_api_evaluate_drops_one_bad_fact_and_refuses_a_deceased_patient():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from engine.service.app import create_app

    client = TestClient(create_app())
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": patient("1990-01-01")}, {"resource": bmi("2019-06-01", 300)}]}
    r = client.post("/api/policies/assisted-conception/evaluate?on=2020-06-01", json=bundle)
    assert r.status_code == 200, r.text
    assert r.json()["fhir"]["facts"] == {"age": 30} and any("bmi not used" in n for n in r.json()["fhir"]["notes"])
    bundle["entry"][0]["resource"]["deceasedBoolean"] = True
    r = client.post("/api/policies/assisted-conception/evaluate?on=2020-06-01", json=bundle)
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "patient-deceased"


def test_no_shape_of_fhir_json_escapes_as_a_fault():
    """Any element of a real record replaced by junk: facts (some dropped, with notes) or an InputError,
    never another exception (which the CLI would report as an engine fault, exit 1)."""
    import copy

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from engine.fhir import xml

    base = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": xml.parse((UKCORE / f"UKCore-{n}-Example.xml").read_text())}
        for n in ("Patient-RichardSmith", "Observation-VitalSigns-BMI", "Observation-PipeSmoker")]
        + [{"resource": smoking("2020-01-01", "8517006")}, {"resource": bmi("2021-01-01T10:00:00Z", 30)}]}

    def paths(x, where=()):
        yield where
        if isinstance(x, dict):
            for k, v in x.items():
                yield from paths(v, (*where, k))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                yield from paths(v, (*where, i))

    every = [p for p in paths(base) if p]
    junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12),
                     st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                 max_size=2))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(min_value=0), junk), min_size=1, max_size=4))
    def run(changes):
        data = copy.deepcopy(base)
        for n, value in changes:
            path, node = every[n % len(every)], data
            try:
                for step in path[:-1]:
                    node = node[step]
                node[path[-1]] = value
            except (KeyError, IndexError, TypeError):
                continue
        try:
            from_bundle(data, dt.date(2024, 1, 1))
        except InputError as exc:
            assert exc.problems[0].code != "malformed-fhir", exc  # the tolerant read itself held
        from engine.fhir.facts import resources_in

        from_resources(resources_in(data), dt.date(2024, 1, 1))  # no guard here: nothing may escape

    run()
