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
    kind: str = "str"  # a key of _TYPES: how the Settings model checks the value


# name -> (default, meaning, kind). The Settings model is built from this table.
SPECS: dict[str, Spec] = {
    "policies": Spec(None, "policies folder (default: the policies shipped with the engine)", kind="path?"),
    "formulary": Spec("lsc", "formulary: a folder, or a name under policies/formulary/"),
    "cache_dir": Spec(None, "folder for snapshots of validated rules (default: the user cache folder)",
                      kind="path?"),
    "cache_key_file": Spec(None, "key that signs the snapshot cache (default: cache.key in the user config folder)",
                           kind="path?"),
    "no_cache": Spec(False, "1 turns the snapshot cache off", kind="bool"),
    "debug": Spec(False, "1 shows a traceback for an engine fault", kind="bool"),
    "log_level": Spec("WARNING", "logging level when neither -v nor -q is given", kind="level"),
    "database_url": Spec(None, "register database, an SQLAlchemy URL (default: SQLite in the user data folder)",
                         secret=True, kind="secret?"),
    "register_key": Spec(None, "register chain key(s), space-separated, the last signs (default: the key file)",
                         secret=True, kind="secret?"),
    "register_key_file": Spec(None, "register chain key file (default: register.key in the user config folder)",
                              kind="path?"),
    "register_checkpoints": Spec(None, "register checkpoint file (default: one per database in the user data "
                                 "folder)", kind="path?"),
    "register_writers": Spec(4, "threads per service worker that write to the register", kind="int+"),
    "cpu_threads": Spec(2, "threads per service worker that decide, look up and render pages at once "
                           "(one while CDS Hooks calls wait; more only share one core and lengthen every "
                           "request)", kind="int+"),
    "cds_threads": Spec(2, "threads per service worker for CDS Hooks calls, a lane of their own", kind="int+"),
    "api_tokens": Spec(None, "register API tokens: name:role:token, comma-separated", secret=True, kind="secret?"),
    "api_tokens_file": Spec(None, "a file of register API tokens, one name:role:token a line", kind="path?"),
    "actor": Spec(None, "who the CLI records as the actor of register writes (default: cli:<user>)", kind="str?"),
    "review_window_days": Spec(28, "days after a decision during which a review may be asked for", kind="int+"),
    "signal_threshold": Spec(5, "IFR requests for one policy within the window that signal a service gap",
                             kind="int+"),
    "signal_window_days": Spec(365, "the window of signal_threshold, in days", kind="int+"),
    "login_max_failures": Spec(5, "refused sign-ins within one lock period that lock an account", kind="int+"),
    "login_lock_minutes": Spec(15, "minutes a locked account waits (0: no wait)", kind="int0"),
    "session_secret": Spec(None, "key that signs casework session cookies (default: a new one per start, so "
                           "sessions end on restart)", secret=True, kind="secret?"),
    "session_https_only": Spec(False, "1 sends the session cookie over HTTPS only", kind="bool"),
    "max_body_bytes": Spec(5 * 1024 * 1024, "largest request body the service reads, in bytes", kind="int+"),
    "spark_master": Spec(None, "Spark master URL for --engine spark (default: local mode)", kind="str?"),
    "spark_staging": Spec(None, "folder every Spark node can read, for the staged cohort copy (default: /tmp)",
                          kind="path?"),
    "fhir_max_fact_age_days": Spec(0, "the oldest a FHIR fact (BMI, smoking) may be, in days before the referral "
                                      "date, to be used for a decision (0: no limit; its date is always shown)",
                                   kind="int0"),
    "public_url": Spec(None, "the service's address as EHRs call it (https://...): card links and the JWT `aud` "
                             "(default: the address of each request)", kind="url?"),
    "cds_domain": Spec("cpe.invalid", "the DNS domain of whoever runs this service: CDS Hooks code systems "
                                      "(https://DOMAIN/cds/...) and reverse-domain extension names", kind="domain"),
    "cds_trusted_issuers": Spec(None, "CDS clients trusted to call the CDS Hooks services: JWT `iss` values, "
                                      "comma-separated", kind="str?"),
    "cds_trusted_jku": Spec(None, "JWK Set URLs (`jku`) whose keys may sign a CDS client's JWT, comma-separated",
                            kind="str?"),
    "cds_jwks_file": Spec(None, "a JWK Set file of CDS clients' public keys (for clients that send no `jku`)",
                          kind="path?"),
    "cds_development": Spec(False, "1 accepts unsigned CDS Hooks calls (development only: logged as a warning "
                                   "on every call)", kind="bool"),
}


def env_name(name: str) -> str:
    return PREFIX + name.upper()


def _types() -> dict[str, Any]:
    from typing import Annotated

    from pydantic import Field, NonNegativeInt, PositiveInt, SecretStr

    return {"str": Annotated[str, Field(min_length=1)], "str?": str | None, "path?": Path | None, "bool": bool,
            "int+": PositiveInt, "int0": NonNegativeInt, "secret?": SecretStr | None,
            "level": Annotated[str, Field(pattern="(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")],
            "url?": Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")] | None,
            "domain": Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")]}


@lru_cache(maxsize=1)
def _model() -> type[BaseSettings]:
    from pydantic import Field, create_model
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Base(BaseSettings):
        model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True)

    types = _types()
    fields: dict[str, Any] = {name: (types[s.kind], Field(s.default, description=s.help))
                              for name, s in SPECS.items()}
    return create_model("Settings", __base__=Base, **fields)


def settings() -> BaseSettings:
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
    return _validated(name, raw)


@lru_cache(maxsize=512)
def _validated(name: str, raw: str) -> Any:
    """One variable's value, validated once per distinct text (the service reads settings on every
    request; building the Settings model reads the whole environment and costs about a millisecond)."""
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


def export(name: str, value: str) -> None:
    """Set a setting for this process and the processes it starts (the service's workers)."""
    if name not in SPECS:
        raise KeyError(name)
    os.environ[env_name(name)] = value
