"""Trusting CDS clients (CDS Hooks 2.0, "Trusting CDS Clients"): the EHR's signed JWT on every call.

The `Authorization: Bearer <JWT>` of a CDS service call is verified with PyJWT:

- the header's `alg` is an asymmetric one (ES256/384/512, RS256/384/512, PS256/384/512): never
  `none`, never HMAC; `kid` is required and picks the key; `typ` must be `JWT`;
- `iss` is on the allow-list `CPE_CDS_TRUSTED_ISSUERS`;
- a `jku` in the header must be on `CPE_CDS_TRUSTED_JKU`; the key (by `kid`) is taken from the
  configured JWK Set `CPE_CDS_JWKS_FILE` (the "out-of-band" exchange) when it is there, else from
  the JWK Set at the `jku` (fetched with httpx, kept five minutes);
- `aud` is the URL of the service being called (`CPE_PUBLIC_URL` + `/cds-services/{id}`, else the
  request's own URL); `exp`, `iat` and `jti` are required; `exp` is checked (30 s leeway);
- a `jti` seen before from the same issuer, within its token's life, is a replay and refused.

`CPE_CDS_DEVELOPMENT=1` accepts calls without a token, or with one that cannot be trusted (the
sandbox signs every call with its own key), and says so as a warning on every call, naming what
failed: it is for a developer's machine, never for patient data.
The replay memory is per process: with several workers, a replay to another worker is not seen.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

log = logging.getLogger("cpe.cds.auth")

ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
JKU_TTL = 300.0
LEEWAY = 30


class Untrusted(Exception):
    """The call does not prove it comes from a trusted CDS client (HTTP 401)."""


@dataclass(frozen=True)
class Caller:
    iss: str | None
    development: bool = False
    tenant: str | None = None


def _list(name: str) -> list[str]:
    from engine.settings import setting

    raw = setting(name) or ""
    return [x.strip() for x in str(raw).split(",") if x.strip()]


def development() -> bool:
    from engine.settings import setting

    return bool(setting("cds_development"))


class Replays:
    """(iss, jti) pairs seen, each until its token expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}

    def first_use(self, iss: str, jti: str, exp: float) -> bool:
        now = time.time()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            key = (iss, jti)
            if key in self._seen and self._seen[key] > now:
                return False
            self._seen[key] = exp + LEEWAY
            return True


class KeySets:
    """JWK Sets by `jku` (fetched, cached) and the configured file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def by_jku(self, jku: str) -> dict[str, Any]:
        with self._lock:
            hit = self._cache.get(jku)
        if hit and time.time() - hit[0] < JKU_TTL:
            return hit[1]
        import httpx

        try:
            r = httpx.get(jku, timeout=5.0, follow_redirects=False, headers={"Accept": "application/json"})
            r.raise_for_status()
            jwks = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Untrusted(f"the JWK Set at jku {jku} could not be read: {exc}") from None
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise Untrusted(f"jku {jku} is not a JWK Set")
        with self._lock:
            self._cache[jku] = (time.time(), jwks)
        return jwks

    def configured(self, required: bool = True) -> dict[str, Any]:
        from engine.settings import setting

        path = setting("cds_jwks_file")
        if not path:
            if not required:
                return {"keys": []}
            raise Untrusted("the token has no jku and no JWK Set is configured (CPE_CDS_JWKS_FILE)")
        try:
            st = os.stat(path)
            return _jwks_file(str(path), st.st_mtime_ns, st.st_size)   # read again only when it changes
        except OSError as exc:
            raise Untrusted(f"the configured JWK Set {path} cannot be read: {exc}") from None


@lru_cache(maxsize=8)
def _jwks_file(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    try:
        jwks = json.loads(open(path, encoding="utf-8").read())
    except (OSError, ValueError) as exc:
        raise Untrusted(f"the configured JWK Set {path} cannot be read: {exc}") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise Untrusted(f"{path} is not a JWK Set")
    return jwks


REPLAYS = Replays()
KEYS = KeySets()


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def verify_call(authorization: str | None, audience: str | list[str]) -> Caller:
    """Who is calling, or Untrusted. `audience`: the URL of the service being called (any of a list)."""
    token = bearer(authorization)
    if token is None:
        if development():
            log.warning("CDS Hooks call to %s accepted WITHOUT a signed JWT: development mode "
                        "(CPE_CDS_DEVELOPMENT=1); never run this way with patient data", audience)
            return Caller(None, development=True)
        raise Untrusted("a CDS client must send its signed JWT as 'Authorization: Bearer <JWT>'")
    try:
        return verify_token(token, audience)
    except Untrusted as exc:
        if not development():
            raise
        log.warning("CDS Hooks call to %s accepted with a JWT that is NOT trusted (%s): development mode "
                    "(CPE_CDS_DEVELOPMENT=1); never run this way with patient data", audience, exc)
        return Caller(None, development=True)


def verify_token(token: str, audience: str | list[str]) -> Caller:
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Untrusted(f"the bearer token is not a JWT: {exc}") from None
    alg, kid, jku, iss = header.get("alg"), header.get("kid"), header.get("jku"), claims.get("iss")
    if alg not in ALGORITHMS:
        raise Untrusted(f"JWT alg {alg!r} is not accepted; use an asymmetric one such as ES384 or RS384")
    if header.get("typ") != "JWT":
        raise Untrusted(f"JWT typ {header.get('typ')!r} is not 'JWT'")
    if not isinstance(kid, str) or not kid:
        raise Untrusted("the JWT header has no kid")
    if not isinstance(iss, str) or iss not in _list("cds_trusted_issuers"):
        raise Untrusted(f"issuer {iss!r} is not a trusted CDS client (CPE_CDS_TRUSTED_ISSUERS)")
    if jku is not None and (not isinstance(jku, str) or jku not in _list("cds_trusted_jku")):
        raise Untrusted(f"jku {jku!r} is not a trusted JWK Set URL (CPE_CDS_TRUSTED_JKU)")
    pinned = KEYS.configured(required=jku is None)
    if any(isinstance(k, dict) and k.get("kid") == kid for k in pinned.get("keys", [])):
        key = _key(pinned, kid, alg)  # a key configured for this client wins over fetching its jku
    elif jku is not None:
        key = _key(KEYS.by_jku(jku), kid, alg)
    else:
        key = _key(pinned, kid, alg)
    try:
        verified = jwt.decode(token, key=key, algorithms=[alg], audience=audience, issuer=iss, leeway=LEEWAY,
                              options={"require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.PyJWTError as exc:
        raise Untrusted(f"the JWT is not valid for {audience}: {exc}") from None
    if not isinstance(verified.get("jti"), str) or not REPLAYS.first_use(iss, verified["jti"], float(verified["exp"])):
        raise Untrusted("this JWT (its jti) has been used before: a replay")
    tenant = verified.get("tenant")
    return Caller(iss, tenant=tenant if isinstance(tenant, str) else None)


def _key(jwks: dict[str, Any], kid: str, alg: str) -> Any:
    import jwt

    for jwk in jwks.get("keys", []):
        if isinstance(jwk, dict) and jwk.get("kid") == kid:
            if jwk.get("alg") not in (None, alg):
                raise Untrusted(f"key {kid!r} is for {jwk.get('alg')}, not {alg}")
            if jwk.get("kty") not in ("EC", "RSA"):
                raise Untrusted(f"key {kid!r} is not an EC or RSA public key")
            try:
                return _public_key(json.dumps(jwk, sort_keys=True), alg)
            except jwt.PyJWTError as exc:
                raise Untrusted(f"key {kid!r} cannot be used: {exc}") from None
    raise Untrusted(f"no key {kid!r} in the CDS client's JWK Set")


@lru_cache(maxsize=64)
def _public_key(jwk_json: str, alg: str) -> Any:
    """A JWK as a key object, made once per key (building it costs more than verifying with it)."""
    import jwt

    return jwt.PyJWK.from_dict(json.loads(jwk_json), algorithm=alg).key


def prepare_keys() -> None:
    """The configured JWK Set read and each of its keys built (at a worker's start, not on its first call)."""
    for jwk in KEYS.configured(required=False).get("keys", []):
        if isinstance(jwk, dict) and jwk.get("alg") in ALGORITHMS:
            _public_key(json.dumps(jwk, sort_keys=True), jwk["alg"])


def warn_if_development() -> None:
    """At start-up: say loudly that unsigned CDS calls will be accepted."""
    if development():
        log.warning("CPE_CDS_DEVELOPMENT=1: CDS Hooks calls WITHOUT a signed JWT will be accepted. "
                    "Development only; never with patient data.")
    elif not _list("cds_trusted_issuers"):
        log.warning("no CDS client is trusted (CPE_CDS_TRUSTED_ISSUERS is not set): every CDS Hooks call "
                    "will be refused with 401")
