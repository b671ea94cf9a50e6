"""The administrator's page: run `register verify` (engine.register.verify.verify, the same
check as the command line) and read its report."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from engine.service.casework.session import form, need, register, render

router = APIRouter(include_in_schema=False)
ADMIN = ("admin",)


@router.get("/casework/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> HTMLResponse:
    account = need(request, ADMIN, "check the register")
    return render(request, "admin.html", account=account, title="Check the register", report=None)


@router.post("/casework/admin/verify", response_class=HTMLResponse)
async def run_verify(request: Request) -> HTMLResponse:
    from engine.register.verify import verify

    await form(request)
    account = need(request, ADMIN, "check the register")
    report = verify(register(request)).to_json()
    return render(request, "admin.html", account=account, title="Check the register", report=report)
