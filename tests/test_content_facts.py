"""The shipped content says what the seed papers say (issue 16): one test per fact.

Each seed fact's test quotes the seed's own words (seeds 000 and 001 in the project guide,
`shared/seeds/`), so a reader can check the data against the paper line by line.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from engine.formulary.lookup import lookup
from engine.ifr.routing import load_routing, plan
from engine.language.decide import decide
from tests.conftest import ROOT, run_cpe

ENTRIES = ROOT / "policies" / "formulary" / "lsc"


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def entry(suite, entry_id):
    from engine.formulary.entries import load_formulary

    f = load_formulary(ENTRIES)
    return next(e for e in f.entries if e.id == entry_id), f.vocabulary


# -- seed 001, LSCMMG briefing (item 10) -----------------------------------------------------------

def test_colonis_solution_names_alternatives_not_an_ifr_route(suite):
    seed = "No significant risks were identified as alternative melatonin preparations are available."  # §3.6
    e, vocab = entry(suite, "melatonin-colonis-oral-solution")
    assert e.status == "black" and e.ifr_available is False
    assert "alternative melatonin preparations are available" in words(e.notes) and "alternative" in seed
    (m,) = [m for m in lookup("colonis") if m.entry["id"] == "melatonin-colonis-oral-solution"]
    assert m.to_json()["ifr_available"] is False
    steps = " ".join(m.next_steps())
    assert "only through" not in steps and "remains possible" not in steps
    from engine.formulary.entries import decide_entry

    check = decide_entry(e, vocab, {"age": 40})
    assert "only possible through an individual funding request" not in check["reason"]
    assert "names no individual funding request route" in check["reason"]


def test_colonis_tablets_name_cheaper_alternatives_not_an_ifr_route(suite):
    seed = "The basis for Colonis 3mg tablets was that more cost-effective alternatives are available."  # §3.5
    e, _ = entry(suite, "melatonin-colonis-3mg-tablets")
    assert e.status == "black" and e.ifr_available is False
    assert "more cost-effective alternatives are available" in words(e.notes)
    assert e.reason == "More cost-effective alternatives are available." and "cost-effective" in seed


def test_opep_device_is_black_with_no_ifr_route_stated(suite):
    seed = ("The LSCMMG supported a Black RAG status (not to be prescribed on the NHS in Lancashire and South "
            "Cumbria).")  # §4.8
    e, _ = entry(suite, "oscillating-pep-device-bronchiectasis")
    assert e.status == "black" and e.ifr_available is False and "Black" in seed
    assert "names no IFR route" in words(e.notes)


def test_only_octreotide_and_lanreotide_in_orthostatic_intolerance_keep_the_ifr_route(suite):
    seed = ("recognising that the IFR route would remain available for patients with exceptional clinical "
            "circumstances")  # §3.2
    from engine.formulary.entries import load_formulary

    f = load_formulary(ENTRIES)
    stated = sorted(e.id for e in f.entries if e.ifr_available)
    assert stated == ["lanreotide-orthostatic-intolerance", "octreotide-orthostatic-intolerance"]
    black = next(s for s in f.vocabulary.statuses if s.id == "black")
    assert "only through an individual funding request" not in words(black.next_step)
    assert "IFR route" in seed


def test_slenyto_access_is_not_restricted(suite):
    seed = "The LSCMMG agreed not to restrict access to the licensed preparation"  # §5.3
    e, _ = entry(suite, "melatonin-slenyto-asd-sms")
    assert e.restrictions is None and e.criteria == ()
    assert "agreed not to restrict access to the licensed preparation" in words(e.notes)
    assert seed.split("agreed ")[1] in words(e.notes)


def test_agomelatine_prior_approval_is_at_the_foundation_trust(suite):
    seed = ("the requirement for prior approval at Lancashire and South Cumbria Foundation Trust")  # §4.3
    e, _ = entry(suite, "agomelatine-depression")
    assert e.prior_approval is True
    assert seed in words(e.notes)
    assert "Lancashire and South Cumbria Foundation Trust" in words(e.restrictions)
    step = words(load_routing().routes["prior_approval"].steps[0])
    assert "at Lancashire and South Cumbria Foundation Trust" in step and "or from the body the decision names" in step


def test_green_restricted_is_the_seeds_own_definition(suite):
    seed = ("Appropriate for initiation and ongoing prescribing in both primary and secondary care provided "
            "additional specific criteria are met or as part of a locally agreed treatment pathway")  # §3.11
    _, vocab = entry(suite, "nortriptyline-neuropathic-pain")
    gr = vocab.status("green_restricted")
    assert words(gr.meaning) == seed + "."
    assert gr.source is not None and gr.source.provenance == "seed" and "§3.11" in gr.source.citation


# -- seed 001, IPA business case: Blackpool's own service ------------------------------------------

SEED_BLACKPOOL = ("with the exception of Blackpool CCG who have developed an integrated model with Blackpool "
                  "Borough Council")  # §2.4.1; IFRs are an IPA service (§2.1.4)


def _ifr_decision(suite):
    rv = suite.resolved("hip-arthroscopy", "2018-03-01")
    return decide(rv, {})


def test_ifr_for_a_blackpool_patient_goes_to_blackpools_own_service(suite):
    d = _ifr_decision(suite)
    p = plan(d, suite.attributes, ccg="blackpool")
    assert [s.id for s in p.ifr_services] == ["blackpool-ccg"]
    assert SEED_BLACKPOOL in words(p.ifr_services[0].source)


def test_ifr_for_other_ccgs_goes_to_the_csu_and_unknown_lists_both(suite):
    d = _ifr_decision(suite)
    assert [s.id for s in plan(d, suite.attributes, ccg="greater_preston").ifr_services] == ["mlcsu"]
    both = plan(d, suite.attributes)
    assert [s.id for s in both.ifr_services] == ["blackpool-ccg", "mlcsu"]
    assert "primarily but not exclusively" in words(both.ifr_services[1].source)
    assert all("Midlands and Lancashire CSU)" not in s for s in both.steps)  # no longer the CSU for everyone


def test_the_decision_letter_names_the_ifr_service(suite):
    from engine.reports.render import render_decision

    d = _ifr_decision(suite)
    md = render_decision(d, plan(d, suite.attributes, ccg="blackpool"), "md").decode()
    assert "Where to send the request" in md and "Blackpool CCG's own integrated IPA service" in md


# -- seed 001, commissioning policies (item 7) -----------------------------------------------------

def test_march_2020_endorsement_of_complementary_therapies_is_recorded(suite):
    seed_agenda = "Policy for Complementary and Alternative Therapies."  # agenda item 7, action "Endorse"
    p = suite.policy("complementary-therapies")
    v = next(x for x in p.versions if x.version == "2020-03-05")
    assert v.status == "ratified" and "Endorse" in v.ratified_by and "status" in v.assumed
    assert "no minutes" in words(v.dates_note)
    rv = suite.resolved("complementary-therapies", "2020-03-05")
    remainder = next(n for n in rv.criteria if n.id == "remainder")
    assert "5 March 2020" in remainder.text and "item 7" in remainder.citation
    assert seed_agenda.startswith("Policy for Complementary")
    assert suite.select("complementary-therapies", on=dt.date(2020, 3, 5)).label == "2020-03-05"


def test_removal_requires_functional_symptoms(suite):
    seed = ("the criteria relating to the removal of breast implants require functional symptoms to be present "
            "for implants to be removed on the NHS")  # §5.1
    rv = suite.resolved("breast-implant-removal", "2018-07-01")
    symptoms = next(n for n in rv.criteria if n.id == "symptoms")
    assert symptoms.provenance == "seed" and "§5.1" in symptoms.citation
    assert "require functional symptoms to be present for implants to be removed on the NHS" in words(symptoms.text)
    assert {c.provenance for c in symptoms.children()} == {"public"}  # the EBI list stands in
    assert seed.endswith("removed on the NHS")


def test_replacement_wording_is_table_2(suite):
    seed_a = "the original implant was supplied and inserted by the NHS"  # Table 2 a)
    seed_c = "the replacement can be carried out as part of the same procedure as the removal of the previous implant"
    old = suite.resolved("breast-implant-replacement", "2018-07-01")
    texts = {n.id: words(n.text).lower() for n in old.criteria}
    assert seed_a.lower() in texts["a"] and seed_c in texts["c"]
    assert [n.id for n in suite.resolved("breast-implant-replacement", "2020-03-05").criteria] == ["a", "b"]


# -- seed 000: the March 2018 decisions were taken virtually ---------------------------------------

SEED_VIRTUAL = "CCG members of the Joint Committee ratified the policies."  # seed 000, item 4, 7 June 2018
SEED_CANCELLED = "due to adverse weather conditions"


@pytest.mark.parametrize("pid", ["hip-arthroscopy", "dilatation-and-curettage", "hysteroscopy"])
def test_march_2018_policies_say_what_is_known_and_what_is_assumed(suite, pid):
    v = next(x for x in suite.policy(pid).versions if x.version == "2018-03-01")
    assert v.assumed == ("effective_from",)
    assert v.ratified_on == dt.date(2018, 6, 7)
    note = words(v.dates_note)
    assert SEED_VIRTUAL.rstrip(".") in note and SEED_CANCELLED in note and "is assumed" in note
    assert "virtual decision" in words(v.ratified_by)


def test_every_superseded_version_states_its_end(suite):
    for pid in suite.ids():
        ratified = sorted((v for v in suite.policy(pid).versions if v.status == "ratified"),
                          key=lambda v: v.effective_from)
        for v, w in zip(ratified, ratified[1:]):
            assert v.effective_to == w.effective_from - dt.timedelta(days=1), (pid, v.version)


def test_cpe_policies_reports_effective_to():
    p = run_cpe("policies", "--format", "json")
    assert p.returncode == 0, p.stderr
    by = {x["id"]: {v["version"]: v for v in x["versions"]} for x in json.loads(p.stdout)}
    assert by["assisted-conception"]["2018-11-01"]["effective_to"] == "2020-03-04"
    assert by["breast-implant-replacement"]["2018-07-01"]["effective_to"] == "2020-03-04"
    assert by["complementary-therapies"]["2018-01-11"]["effective_to"] == "2020-03-04"


# -- stand-ins never decide 'eligible' ------------------------------------------------------------

@pytest.mark.parametrize("pid,label,patient", [
    ("abdominoplasty", "2018-07-01", {"age": 15, "bmi": 22}),
    ("dilatation-and-curettage", "2018-03-01", {"heavy_menstrual_bleeding": False}),
    ("hysteroscopy", "2018-03-01", {"heavy_menstrual_bleeding": False}),
    ("eswt-tendinopathy", "2020-03-05", {"tendinopathy_site": "plantar_fasciitis",
                                          "conservative_treatment_failed": True, "special_arrangements_in_place": True}),
    ("complementary-therapies", "2018-01-11", {"robust_evidence_for_indication": True, "standalone_treatment": False}),
])
def test_known_criteria_met_leave_the_rest_unknown(suite, pid, label, patient):
    d = decide(suite.resolved(pid, label), patient)
    assert (d.outcome, d.route) == ("insufficient_information", "more_information")
    assert d.status_of("remainder") == "unknown" and d.missing[-1].endswith("_remaining_criteria_met")
    assert d.policy.encoding_complete is False and d.policy.encoded


# -- scope: hip arthroscopy draft-2025 is for FAI syndrome -----------------------------------------

def test_a_non_fai_request_is_outside_the_2025_draft_and_routed_to_the_ratified_policy(suite):
    rv = suite.resolved("hip-arthroscopy", "draft-2025")
    d = decide(rv, {"hip_arthroscopy_indication": "other", "fai_diagnosis_confirmed": False})
    assert (d.outcome, d.route) == ("out_of_scope", "other_commissioner")
    p = plan(d, suite.attributes)
    assert p.other_policy and "2018-03-01" in p.other_policy and p.to_check == ()
    assert [c.id for c in p.unmet] == ["fai_syndrome"]
