"""Signing in and out, the session, and CSRF protection for every casework form.

Sessions are Starlette's signed cookies (itsdangerous): the cookie holds only the username,
the session's CSRF token and when it began, signed with CPE_SESSION_SECRET (a random secret
per process when unset, so sessions then end when the service restarts). The account is
looked up on every request, so disabling it ends its sessions at once. Every POST carries
`csrf_token`, compared in constant time with the session's; a form without it is refused (403).
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.register.users import ROLE_NOUNS, Account, LockedOut, authenticate, get_user
from engine.settings import setting

log = logging.getLogger("cpe.casework")
router = APIRouter(include_in_schema=False)
SESSION_HOURS = 8
_SECRET: list[str] = []


class Refusal(Exception):
    """A request the casework pages refuse, with the page that says why."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def middleware_options() -> dict[str, Any]:
    """Keyword arguments for Starlette's SessionMiddleware."""
    secret = setting("session_secret")
    if not secret:
        if not _SECRET:
            _SECRET.append(secrets.token_urlsafe(32))
            log.warning("CPE_SESSION_SECRET is not set: sessions end when the service restarts")
        secret = _SECRET[0]
    return {"secret_key": secret, "session_cookie": "cpe_session", "max_age": SESSION_HOURS * 3600,
            "same_site": "lax", "https_only": bool(setting("session_https_only"))}


def register(request: Request) -> Any:
    from engine.service.register_api import _register

    return _register(request)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use, so the sign-in form has one too)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def form(request: Request) -> Any:
    """The posted form, after its CSRF token is checked against the session's."""
    data = await request.form()
    sent = data.get("csrf_token")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        log.info("casework refused a form without a valid CSRF token path=%s", request.url.path)
        raise Refusal(403, "Form refused", "This form was sent without its security token, or the token has "
                                           "expired. Go back, reload the page and try again.")
    return data


def current(request: Request) -> Account | None:
    username = request.session.get("user")
    if not username:
        return None
    started = request.session.get("since", 0)
    if dt.datetime.now(dt.UTC).timestamp() - started > SESSION_HOURS * 3600:
        request.session.clear()
        return None
    account = get_user(register(request), username)
    if account is None:  # disabled or removed since signing in
        request.session.clear()
    return account


def need(request: Request, roles: Iterable[str] | None = None, what: str = "see this page") -> Account:
    """The signed-in account, refused unless its role is one of `roles` (None: any role)."""
    account = current(request)
    if account is None:
        raise Refusal(401, "Sign in", "Sign in to use the IFR casework pages.")
    roles = set(roles) if roles is not None else None
    if roles is not None and account.role not in roles:
        who = " or ".join(sorted(ROLE_NOUNS[r] for r in roles))
        raise Refusal(403, "Not allowed", f"Only {who} may {what}. You are signed in as "
                                          f"{ROLE_NOUNS[account.role]}.")
    return account


def context(request: Request, account: Account | None, **extra: Any) -> dict[str, Any]:
    """What every casework template needs: the account and the CSRF token."""
    return {"account": account, "csrf": csrf_token(request), "section": "casework", **extra}


def render(request: Request, name: str, status: int = 200, account: Account | None = None,
           **extra: Any) -> HTMLResponse:
    from engine.service.pages import page

    return page(f"casework/{name}", status, **context(request, account, **extra))


def refusal_page(request: Request, exc: Refusal) -> Response:
    if exc.status == 401:
        return RedirectResponse(f"/casework/sign-in?next={request.url.path}", status_code=303)
    return render(request, "refused.html", exc.status, current(request), title=exc.title, message=exc.message)


@router.get("/casework/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "/casework") -> HTMLResponse:
    return render(request, "sign_in.html", account=None, title="Sign in", next=_safe_next(next))


@router.post("/casework/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    data = await form(request)
    username, password = str(data.get("username", "")), str(data.get("password", ""))
    nxt = _safe_next(str(data.get("next", "/casework")))
    error = None
    if not username.strip() or not password:
        error = "Enter your username and password"
    else:
        try:
            account = authenticate(register(request), username, password)
        except LockedOut as exc:
            account, error = None, exc.problems[0].message[:1].upper() + exc.problems[0].message[1:]
        if account is None and error is None:
            error = "The username or password is not right"
    if error:
        return render(request, "sign_in.html", 401 if username else 422, None, title="Sign in", next=nxt,
                      username=username, error=error, error_count=1)
    assert account is not None  # no error means the sign-in was accepted
    request.session.clear()  # a fresh session (and CSRF token) after signing in: no fixation
    request.session.update({"user": account.username, "since": dt.datetime.now(dt.UTC).timestamp(),
                            "csrf": secrets.token_urlsafe(32)})
    log.info("casework sign-in user=%s role=%s", account.username, account.role)
    return RedirectResponse(nxt, status_code=303)


@router.post("/casework/sign-out")
async def sign_out(request: Request) -> Response:
    await form(request)
    request.session.clear()
    return RedirectResponse("/casework/sign-in?signed_out=1", status_code=303)


def _safe_next(path: str) -> str:
    """Only a path inside the casework pages or the policy workbench: never an open redirect."""
    inside = path.startswith(("/casework", "/workbench"))
    return path if inside and "//" not in path and "\\" not in path else "/casework"
