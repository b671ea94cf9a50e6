"""The codes the FHIR reader understands, each with where it is published.

Nothing here is a clinical judgement of this project: every code is copied from a public value
set or example, cited beside it. A code not listed is not read (the fact stays unknown).
"""
from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"

# BMI. LOINC 39156-5 "Body mass index (BMI) [Ratio]" (US Core, Synthea); SNOMED CT 60621009
# "Body mass index" — UK Core: ValueSet-UKCore-BMI (DescendantOrSelfOf 60621009) and the example
# UKCore-Observation-VitalSigns-BMI-Example, which codes both (NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN,
# commit 3d2827e3, valuesets/ValueSet-UKCore-BMI.xml, examples/UKCore-Observation-VitalSigns-BMI-Example.xml).
BMI_LOINC = "39156-5"
BMI_SNOMED = "60621009"
BMI_UNITS = {"kg/m2", "kg/m^2", "kg/m²"}

# Smoking status as a question (LOINC 72166-2 "Tobacco smoking status", US Core / Synthea),
# answered by one of the SMOKING_FINDINGS below in valueCodeableConcept.
SMOKING_LOINC = "72166-2"

# SNOMED CT smoking findings, as `smoker`. Source: HL7 IPS value set "Current Smoking Status - IPS"
# (HL7/fhir-ips input/fsh/valuesets/CurrentSmokingStatusUvIps.fsh): 449868002, 428041000124106,
# 8517006, 266919005, 77176002, 266927001, 230063004, 230060001; and the US Core smoking status
# value set (us-core-observation-smokingstatus 3.1.0): 428071000124103, 428061000124105.
# UK GP records hold these findings as the Observation's own code (no value); US Core as the
# answer to LOINC 72166-2. Both are read. None = recorded as unknown.
SMOKING_FINDINGS: dict[str, bool | None] = {
    "449868002": True,          # Smokes tobacco daily (current every day smoker)
    "428041000124106": True,    # Occasional tobacco smoker (current some day smoker)
    "77176002": True,           # Smoker
    "428071000124103": True,    # Heavy tobacco smoker
    "428061000124105": True,    # Light tobacco smoker
    "230063004": True,          # Heavy cigarette smoker
    "230060001": True,          # Light cigarette smoker
    "8517006": False,           # Ex-smoker
    "266919005": False,         # Never smoked tobacco
    "266927001": None,          # Tobacco smoking consumption unknown
}
# Kept from the first reader (Synthea output); not in the two value sets above, so they are read
# only as the answer to LOINC 72166-2, never as a finding on their own.
SYNTHEA_SMOKING_ANSWERS: dict[str, bool | None] = {
    "65568007": True,           # Cigarette smoker
    "405746006": False,         # Current non-smoker
}

# Smoked-tobacco consumption observables with a quantity (UK Core Observation Tobacco Consumption;
# ValueSet-UKCore-TobaccoConsumption, expansion 2023-11-20, and the example
# UKCore-Observation-PipeSmoker-Example: 230058003 with 5 "/d"). A quantity above zero says the
# patient smokes; zero says only that this product is not smoked, so it settles nothing.
# Chewed tobacco (228510007), moist tobacco (228500003) and snuff (228490006) are in the same value
# set but are not smoking: they are not read.
SMOKED_TOBACCO_CONSUMPTION = {
    "266918002": "Tobacco smoking consumption",
    "230056004": "Cigarette consumption",
    "230057008": "Cigar consumption",
    "230058003": "Pipe tobacco consumption",
    "836001000000109": "Waterpipe tobacco consumption",
}

# Observation.status (FHIR R4 ObservationStatus): the rank of each usable status, lower first.
# A final, amended or corrected result is preferred to a preliminary one; `registered` (no result
# yet), `cancelled` and `entered-in-error` are never used; `unknown` only when nothing else is there.
STATUS_RANK = {"final": 0, "amended": 0, "corrected": 0, "preliminary": 1, "unknown": 2}
