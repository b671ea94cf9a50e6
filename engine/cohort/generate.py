"""Synthetic cohorts: plausible-looking patients for trying a policy change when no real
extract is at hand. Every figure is a parameter chosen by this project (see docs/cohorts.md),
not an estimate of any real population; the output says it is synthetic in its file name
convention and its documentation, and it must never be reported as data about patients.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.language.model.attributes import AttributeDictionary

MISSING_RATE = 0.05       # each value is independently left blank (unknown) this often
PARTNER_ATTRS = ("partner_smoker", "partner_living_children")


def _specs(np: Any) -> dict[str, Callable[[Any, int], Any]]:
    """attribute -> sampler(rng, n); the table in docs/cohorts.md mirrors this one."""
    def bern(p: float):
        return lambda rng, n: rng.random(n) < p

    def choice(values: list, probs: list[float]):
        return lambda rng, n: rng.choice(np.array(values, dtype=object), size=n, p=probs)

    def counts(probs: list[float]):
        return lambda rng, n: rng.choice(np.arange(len(probs)), size=n, p=probs)

    def expo(mean: float, hi: float, decimals: int = 1):
        return lambda rng, n: np.round(np.clip(rng.exponential(mean, n), 0, hi), decimals)

    return {
        "age": lambda rng, n: np.clip(np.rint(rng.normal(40, 15, n)), 16, 95).astype(np.int64),
        "bmi": lambda rng, n: np.round(np.clip(rng.lognormal(np.log(27), 0.18, n), 15, 60), 1),
        "smoker": bern(0.13),
        "has_partner": bern(0.65),
        "partner_smoker": bern(0.13),
        "patient_living_children": counts([0.6, 0.2, 0.15, 0.05]),
        "partner_living_children": counts([0.6, 0.2, 0.15, 0.05]),
        "infertility_years": expo(2.5, 40),
        "infertility_diagnosed_cause": bern(0.3),
        "insemination_cycles": lambda rng, n: np.where(rng.random(n) < 0.8, 0, rng.integers(1, 15, n)),
        "previous_sterilisation": bern(0.03),
        "previous_nhs_ivf_units": counts([0.85, 0.12, 0.03]),
        "implant_original_funding": choice(["nhs", "private"], [0.3, 0.7]),
        "implant_rupture": bern(0.15),
        "baker_grade": lambda rng, n: rng.choice(np.arange(1, 5), size=n, p=[0.4, 0.3, 0.2, 0.1]),
        "contracture_confirmed_by_specialist": bern(0.5),
        "recurrent_infection_or_seroma": bern(0.05),
        "bia_alcl": bern(0.005),
        "replacement_with_removal": bern(0.5),
        "house_brackmann_grade": lambda rng, n: rng.integers(1, 7, n),
        "corneal_risk": bern(0.2),
        "nerve_intact_on_emg": bern(0.6),
        "facial_palsy_cause": choice(["bells_palsy", "other"], [0.6, 0.4]),
        "palsy_duration_months": expo(14, 1200),
        "fai_diagnosis_confirmed": bern(0.5),
        "conservative_treatment_failed": bern(0.6),
        "osteoarthritis": bern(0.2),
        "experienced_surgeon": bern(0.8),
        "bmi_stable_months": expo(12, 600),
        "obesity_comorbidities": bern(0.3),
        "body_dysmorphic_disorder": bern(0.03),
        "alcohol_or_drug_misuse": bern(0.05),
    }


def _generic(np: Any, attr: Any) -> Callable[[Any, int], Any]:
    """Attributes without their own line: booleans 20 % true, enums uniform, numbers uniform in range."""
    if attr.type == "boolean":
        return lambda rng, n: rng.random(n) < 0.2
    if attr.type == "enum":
        return lambda rng, n: rng.choice(np.array(attr.values, dtype=object), size=n)
    if attr.type == "string":
        return lambda rng, n: np.array(["x"] * n, dtype=object)
    lo = attr.min if attr.min is not None else 0
    hi = attr.max if attr.max is not None else lo + 100
    if attr.type == "integer":
        return lambda rng, n: rng.integers(int(lo), int(hi) + 1, n)
    return lambda rng, n: np.round(rng.uniform(lo, hi, n), 1)


def generate(attrs: AttributeDictionary, n: int = 1000, seed: int = 0, columns: list[str] | None = None):
    """A pyarrow Table: `id` then one column per attribute (nulls are unknown); same seed, same table."""
    import numpy as np
    import pyarrow as pa

    if n < 0:
        raise InputError.of("bad-option", f"--n must be 0 or more, got {n}")
    rng = np.random.default_rng(seed)
    specs = _specs(np)
    names = columns or attrs.names()
    data: dict[str, Any] = {"id": pa.array([f"synthetic-{seed}-{k + 1}" for k in range(n)])}
    partner = None
    for name in names:
        a = attrs[name]
        values = (specs.get(name) or _generic(np, a))(rng, n)
        if a.type == "integer" or a.type == "number":
            lo = a.min if a.min is not None else -np.inf
            hi = a.max if a.max is not None else np.inf
            values = np.clip(values, lo, hi)
        known = rng.random(n) >= MISSING_RATE
        if name == "has_partner":
            partner = np.where(known, values, False)
        if name in PARTNER_ATTRS:
            if partner is None:
                partner = rng.random(n) < 0.65
            known &= partner.astype(bool)
        if name == "previous_max_bmi":
            base = data["bmi"].to_numpy(zero_copy_only=False) if "bmi" in data else np.full(n, 27.0)
            base = np.where(np.isnan(base.astype(float)), 27.0, base.astype(float))
            values = np.round(np.clip(base + rng.exponential(6, n), a.min or 10, a.max or 120), 1)
        typ = {"boolean": pa.bool_(), "integer": pa.int64(), "number": pa.float64()}.get(a.type, pa.string())
        data[name] = pa.array(list(values) if typ == pa.string() else values, type=typ, mask=~known)
    return pa.table(data)


def write(table: Any, path: Path) -> None:
    """CSV or Parquet by the file's suffix; blanks are unknown in CSV."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        pq.write_table(table, path)
    elif suffix == ".csv":
        pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="needed"))
    else:
        raise InputError.of("bad-option", f"{path}: write a .csv or .parquet file")
