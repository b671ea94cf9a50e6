"""A look-up answer in words for the terminal: a coloured badge that also says the status in words
(never colour alone), the meaning, restrictions, notes and what to do next."""
from __future__ import annotations

from typing import Any

RESTRICTION_WORDS = {"met": "meets the restriction", "unmet": "does NOT meet the restriction",
                     "unknown": "cannot be checked yet: information is missing"}
STYLE = {"met": "green", "unmet": "red", "unknown": "yellow", "none": "dim"}


def _yes_no(v: Any) -> str:
    return "yes" if v else "no"


def print_rag(out: dict[str, Any], idx: Any) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    p = console.print
    head = f"{idx.formulary['name']}: “{out['query']}”"
    if out.get("indication"):
        head += f" for “{out['indication']}”"
    p(Text(head, style="bold"))
    if not out["matches"]:
        p(Text("No formulary entry matches." + (" (See also the entries below whose indication is not stated.)"
                                                 if out.get("indication_not_stated") else ""), style="yellow"))
    for m in out["matches"]:
        p()
        line = Text()
        line.append(f" {m['status_label']} ", style=f"bold {_fg(m)} on {m['status_colour']}")
        what = m["medicine"] + (f" ({', '.join(m['brands'])})" if m["brands"] else "")
        if m["formulation"]:
            what += f", {m['formulation']}"
        line.append(f"  {what}", style="bold")
        p(line)
        p(Text(f"  for: {m['indication'] or 'indication not stated by the source'}"))
        p(Text(f"  {m['status_label']}: {m['meaning']}"))
        if m["restrictions"]:
            p(Text(f"  Restriction: {m['restrictions']}"))
        p(Text(f"  Prior approval: {_yes_no(m['prior_approval'])} · IFR route: {_yes_no(m['ifr_available'])} "
               f"({m['ifr_basis']})"))
        if m["notes"]:
            p(Text(f"  Notes: {m['notes']}"))
        for step in m["next_steps"]:
            p(Text(f"  → {step}", style="bold"))
        dec = " · ".join(x for x in (m["decision_body"], m["decision_date"], m["nice_ta"]) if x)
        if dec:
            p(Text(f"  Decision: {dec}", style="dim"))
        for mon in m["monitoring"]:
            when = f"at {mon['after_months']} months" if mon.get("after_months") is not None else mon.get("due")
            p(Text(f"  Monitoring {when}: {mon['what']}", style="dim"))
        p(Text(f"  Source [{m['source']['provenance']}]: {m['source']['citation']}", style="dim"))
        if m["matched_on"].get("how") == "close":
            p(Text(f"  (matched “{m['matched_on']['word']}” as {m['matched_on']['name']})", style="dim"))
        if "patient" in m:
            _patient(p, Text, m["patient"])
    _excluded_and_understood(p, Text, out)
    unstated = out.get("indication_not_stated") or []
    if unstated:
        p()
        p(Text("Also matching the medicine, but the source does not state their indication:", style="bold"))
        for m in unstated:
            line = Text("  ")
            line.append(f" {m['status_label']} ", style=f"bold {_fg(m)} on {m['status_colour']}")
            line.append(f"  {m['medicine']}" + (f", {m['formulation']}" if m["formulation"] else ""))
            p(line)


def _excluded_and_understood(p: Any, Text: Any, out: dict[str, Any]) -> None:
    """Decisions that explicitly exclude the indication asked for, and what the query was read as."""
    excluded = out.get("indication_excluded") or []
    if excluded:
        p()
        p(Text("Not for this indication (the decision excludes it):", style="bold"))
        for m in excluded:
            why = (m.get("matched_on") or {}).get("indication", {}).get("why", "")
            p(Text(f"  {m['status_label']}: {m['medicine']} for {m['indication']} only. {why}".rstrip()))
    u = out.get("understood") or {}
    bits = [f"medicine {', '.join(u['medicine'])}" if u.get("medicine") else "",
            f"indication “{u['indication']['text']}”" if (u.get("indication") or {}).get("text") else "",
            f"strength {', '.join(u['strength'])}" if u.get("strength") else "",
            f"form words {', '.join(u['recognised'])}" if u.get("recognised") else "",
            f"ignored {', '.join(u['ignored'])}" if u.get("ignored") else ""]
    if any(bits):
        p(Text("  Read as: " + "; ".join(b for b in bits if b), style="dim"))


def _fg(m: dict[str, Any]) -> str:
    return m.get("status_text_colour") or "#ffffff"


def _patient(p: Any, Text: Any, pt: dict[str, Any]) -> None:
    from engine.language.explain import criterion_lines

    r = pt["restriction"]
    head = "No patient criteria are recorded for this entry." if r == "none" else f"This patient {RESTRICTION_WORDS[r]}."
    p(Text(f"  {head}", style=f"bold {STYLE[r]}"))
    if r != "none" and pt.get("reason"):
        p(Text(f"    {pt['reason']}", style="dim"))
    depth: dict[str | None, int] = {}
    for c in pt.get("criteria", []):
        depth[c["id"]] = depth.get(c.get("parent"), -1) + 1
        for style, line in criterion_lines(c, "    " + "  " * depth[c["id"]]):
            p(Text(line, style=style))
    if pt.get("missing"):
        p(Text("    missing: " + ", ".join(pt["missing"]), style="yellow"))
