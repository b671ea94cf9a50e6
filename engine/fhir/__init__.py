"""FHIR R4 input: patient facts (age, BMI, smoking) read from a Bundle as EHRs send them.

May import: `engine.language`, `engine.fhir`.
"""
