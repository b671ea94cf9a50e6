"""Cohorts: many patients at once, one row each, in a CSV or Parquet file.

`files` reads and checks a cohort file into embedded DuckDB, `run` evaluates a policy
version over it with a columnar backend, `generate` writes a synthetic cohort.
"""
