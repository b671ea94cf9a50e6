"""Every `CPE_*` environment variable, in one place, with its default, its check and its meaning.

`setting(name)` is what the engine calls. When the variable is not set it returns the default
without loading pydantic-settings (so `cpe rag` keeps its cold start); when it is set, the value
is validated by the `Settings` model and a bad one is an InputError naming the variable (exit 2).
`cpe config` shows the effective value of each and where it came from.
Part of the base layer (with engine.errors, engine.data, engine.extras): every package may use it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

PREFIX = "CPE_"


@dataclass(frozen=True)
class Spec:
    default: Any
    help: str
    secret: bool = False


# name -> (default, meaning). The Settings model below takes its fields' defaults from here.
SPECS: dict[str, Spec] = {
    "policies": Spec(None, "policies folder (default: the policies shipped with the engine)"),
    "formulary": Spec("lsc", "formulary: a folder, or a name under policies/formulary/"),
    "cache_dir": Spec(None, "folder for snapshots of validated rules (default: the user cache folder)"),
    "no_cache": Spec(False, "1 turns the snapshot cache off"),
    "debug": Spec(False, "1 shows a traceback for an engine fault"),
    "log_level": Spec("WARNING", "logging level when neither -v nor -q is given"),
    "database_url": Spec(None, "register database, an SQLAlchemy URL (default: SQLite in the user data folder)",
                         secret=True),
    "api_tokens": Spec(None, "register API tokens: name:role:token, comma-separated", secret=True),
    "api_tokens_file": Spec(None, "a file of register API tokens, one name:role:token a line"),
    "actor": Spec(None, "who the CLI records as the actor of register writes (default: cli:<user>)"),
    "review_window_days": Spec(28, "days after a decision during which a review may be asked for"),
    "signal_threshold": Spec(5, "IFR requests for one policy within the window that signal a service gap"),
    "signal_window_days": Spec(365, "the window of signal_threshold, in days"),
    "fhir_max_fact_age_days": Spec(0, "the oldest a FHIR fact (BMI, smoking) may be, in days before the referral "
                                      "date, to be used for a decision (0: no limit; its date is always shown)"),
    "public_url": Spec(None, "the service's address as EHRs call it (https://...): card links and the JWT `aud` "
                             "(default: the address of each request)"),
    "cds_domain": Spec("cpe.invalid", "the DNS domain of whoever runs this service: CDS Hooks code systems "
                                      "(https://DOMAIN/cds/...) and reverse-domain extension names"),
    "cds_trusted_issuers": Spec(None, "CDS clients trusted to call the CDS Hooks services: JWT `iss` values, "
                                      "comma-separated"),
    "cds_trusted_jku": Spec(None, "JWK Set URLs (`jku`) whose keys may sign a CDS client's JWT, comma-separated"),
    "cds_jwks_file": Spec(None, "a JWK Set file of CDS clients' public keys (for clients that send no `jku`)"),
    "cds_development": Spec(False, "1 accepts unsigned CDS Hooks calls (development only: logged as a warning "
                                   "on every call)"),
}


def env_name(name: str) -> str:
    return PREFIX + name.upper()


@lru_cache(maxsize=1)
def _model() -> "type[BaseSettings]":
    from pydantic import Field, NonNegativeInt, PositiveInt, SecretStr
    from pydantic_settings import BaseSettings, SettingsConfigDict

    d = {k: s.default for k, s in SPECS.items()}

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="ignore",
                                          frozen=True)

        policies: Path | None = Field(d["policies"], description=SPECS["policies"].help)
        formulary: str = Field(d["formulary"], min_length=1, description=SPECS["formulary"].help)
        cache_dir: Path | None = Field(d["cache_dir"], description=SPECS["cache_dir"].help)
        no_cache: bool = Field(d["no_cache"], description=SPECS["no_cache"].help)
        debug: bool = Field(d["debug"], description=SPECS["debug"].help)
        log_level: str = Field(d["log_level"], pattern="(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
                               description=SPECS["log_level"].help)
        database_url: SecretStr | None = Field(d["database_url"], description=SPECS["database_url"].help)
        api_tokens: SecretStr | None = Field(d["api_tokens"], description=SPECS["api_tokens"].help)
        api_tokens_file: Path | None = Field(d["api_tokens_file"], description=SPECS["api_tokens_file"].help)
        actor: str | None = Field(d["actor"], description=SPECS["actor"].help)
        review_window_days: PositiveInt = Field(d["review_window_days"],
                                                description=SPECS["review_window_days"].help)
        signal_threshold: PositiveInt = Field(d["signal_threshold"], description=SPECS["signal_threshold"].help)
        signal_window_days: PositiveInt = Field(d["signal_window_days"],
                                                description=SPECS["signal_window_days"].help)
        fhir_max_fact_age_days: NonNegativeInt = Field(d["fhir_max_fact_age_days"],
                                                       description=SPECS["fhir_max_fact_age_days"].help)
        public_url: str | None = Field(d["public_url"], pattern=r"^https?://[^\s/]+(/\S*)?$",
                                       description=SPECS["public_url"].help)
        cds_domain: str = Field(d["cds_domain"], pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
                                description=SPECS["cds_domain"].help)
        cds_trusted_issuers: str | None = Field(d["cds_trusted_issuers"], description=SPECS["cds_trusted_issuers"].help)
        cds_trusted_jku: str | None = Field(d["cds_trusted_jku"], description=SPECS["cds_trusted_jku"].help)
        cds_jwks_file: Path | None = Field(d["cds_jwks_file"], description=SPECS["cds_jwks_file"].help)
        cds_development: bool = Field(d["cds_development"], description=SPECS["cds_development"].help)

    return Settings


def settings() -> "BaseSettings":
    """All settings, validated from the environment now (tests and servers may change it)."""
    from pydantic import ValidationError

    try:
        return _model()()
    except ValidationError as exc:
        from engine.errors import InputError

        err = exc.errors()[0]
        name = env_name(str(err["loc"][0])) if err.get("loc") else "a CPE_ variable"
        raise InputError.of("bad-setting", f"{name}={os.environ.get(name, '')!r}: {err['msg']}",
                            hint=SPECS.get(str(err["loc"][0]) if err.get("loc") else "", Spec(None, "")).help) from None


def setting(name: str) -> Any:
    """One setting's effective value (secrets as plain strings)."""
    if name not in SPECS:
        raise KeyError(name)
    raw = os.environ.get(env_name(name))
    if raw is None or raw == "":
        return SPECS[name].default
    value = getattr(settings(), name)
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def effective() -> list[dict[str, Any]]:
    """Each setting with its variable, value (secrets masked) and where the value came from."""
    s = settings()
    out = []
    for name, spec in SPECS.items():
        raw = os.environ.get(env_name(name))
        value = getattr(s, name)
        if spec.secret and value is not None:
            value = "********"
        elif isinstance(value, Path):
            value = str(value)
        out.append({"name": name, "variable": env_name(name), "value": value,
                    "source": "environment" if raw not in (None, "") else "default", "help": spec.help})
    return out
