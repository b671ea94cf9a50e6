"""Find, load and check a formulary folder (`vocabulary.yaml` + `entries.yaml`, and the optional
`terminology.yaml` of medicine and indication concepts).

Which folder: `--formulary` (a path, or a folder name under `policies/formulary/`), else
`$CPE_FORMULARY`, else `policies/formulary/lsc`. Loading validates every entry, collecting all
problems with file and line; statuses must be in the vocabulary and restriction criteria must
pass the same checks as a policy's. pydantic is imported only when a formulary is loaded,
so the look-up path (engine.formulary.lookup, which reads a compiled cache) stays light.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, Location, Problem, did_you_mean

if TYPE_CHECKING:
    from engine.formulary.model import Entry, Formulary, Vocabulary
    from engine.language.model.attributes import AttributeDictionary

VOCABULARY_FILE = "vocabulary.yaml"
ENTRIES_FILE = "entries.yaml"
TERMINOLOGY_FILE = "terminology.yaml"   # optional: medicine and indication concepts


def policies_root() -> Path:
    """`$CPE_POLICIES`, else the shipped policies (see `engine.data`)."""
    from engine.data import policies_dir

    return policies_dir()


def formulary_dir(spec: str | Path | None = None) -> Path:
    """The formulary folder a command should use; InputError naming the choices when there is none."""
    from engine.settings import setting

    spec = spec or setting("formulary")
    path = Path(spec)
    if (path / VOCABULARY_FILE).is_file():
        return path
    shipped = policies_root() / "formulary"
    if (shipped / str(spec) / VOCABULARY_FILE).is_file():
        return shipped / str(spec)
    names = sorted(p.parent.name for p in shipped.glob(f"*/{VOCABULARY_FILE}"))
    raise InputError.of("unknown-formulary", f"no formulary {str(spec)!r}: expected a folder holding "
                                             f"{VOCABULARY_FILE} and {ENTRIES_FILE}",
                        hint=did_you_mean(str(spec), names) or
                        ("shipped: " + ", ".join(names) if names else None))


def source_files(folder: Path) -> list[Path]:
    """Every file the loaded formulary depends on (for cache keys)."""
    return [folder / VOCABULARY_FILE, folder / ENTRIES_FILE, folder / TERMINOLOGY_FILE,
            policies_root() / "attributes.yaml"]


def load_vocabulary(folder: Path) -> Vocabulary:
    from engine.formulary.model import Vocabulary
    from engine.language.load import validate
    from engine.language.source import display_path, load_file

    path = folder / VOCABULARY_FILE
    data = load_file(path)
    if not isinstance(data, dict):
        raise InputError.of("invalid-formulary", "the vocabulary file must be a mapping", display_path(path))
    return validate(Vocabulary, data, display_path(path))


def load_formulary(spec: str | Path | None = None,
                   attributes: AttributeDictionary | None = None) -> Formulary:
    """The validated formulary; InputError listing every problem (file:line) otherwise."""
    from engine.formulary.model import Formulary
    from engine.language.load import load_attributes
    from engine.language.source import display_path, load_file

    folder = formulary_dir(spec)
    vocab = load_vocabulary(folder)
    path = folder / ENTRIES_FILE
    file = display_path(path)
    data = load_file(path)
    if data is None:
        data = []
    if not isinstance(data, list):
        raise InputError.of("invalid-formulary", "the entries file must be a list of entries", file,
                            getattr(data, "line", None))
    if attributes is None:
        attributes = load_attributes(policies_root() / "attributes.yaml")
    entries, problems = validate_entries(data, getattr(data, "item_lines", [None] * len(data)), file,
                                         vocab, attributes)
    if problems:
        raise InputError(problems)
    from engine.formulary.terminology import load_terminology

    terminology = load_terminology(folder / TERMINOLOGY_FILE, entries)
    return Formulary(vocabulary=vocab, entries=tuple(entries), terminology=terminology)


def validate_entries(items: list[Any], lines: list[int | None], file: str, vocab: Vocabulary,
                     attributes: AttributeDictionary) -> tuple[list[Entry], list[Problem]]:
    """Each item validated on its own so one bad entry does not hide the others."""
    from engine.formulary.model import Entry
    from engine.language.load import validate

    entries: list[Entry] = []
    problems: list[Problem] = []
    seen: dict[str, int | None] = {}
    for item, line in zip(items, lines):
        if not isinstance(item, dict):
            problems.append(Problem("invalid-entry", "an entry must be a mapping", Location(file, line)))
            continue
        try:
            e = validate(Entry, item, file)
        except InputError as exc:
            problems += exc.problems
            continue
        problems += entry_problems(e, item, line, file, vocab, attributes)
        if e.id in seen:
            problems.append(Problem("duplicate-entry", f"entry id {e.id!r} is used twice (first at line "
                                                       f"{seen[e.id]})", Location(file, line)))
        seen.setdefault(e.id, line)
        entries.append(e)
    return entries, problems


def entry_problems(e: Entry, raw: Any, line: int | None, file: str, vocab: Vocabulary,
                   attributes: AttributeDictionary) -> list[Problem]:
    """Checks that need more than the entry itself: the vocabulary and the attribute dictionary."""
    from engine.language.check import check_version
    from engine.language.model.criteria import PolicyRef, walk

    out: list[Problem] = []
    if vocab.status(e.status) is None:
        where = raw.key_lines.get("status", line) if hasattr(raw, "key_lines") else line
        out.append(Problem("unknown-status", f"entry {e.id}: status {e.status!r} is not in the {vocab.id} "
                                             "vocabulary", Location(file, where),
                           did_you_mean(e.status, [s.id for s in vocab.statuses]) or
                           "one of " + ", ".join(s.id for s in vocab.statuses)))
    if e.criteria:
        for n in (x for top in e.criteria for x in walk(top)):
            if isinstance(n, PolicyRef):
                out.append(Problem("invalid-entry", f"entry {e.id}: a formulary restriction cannot refer to a "
                                                    "policy", n.at() if n.span else Location(file, line)))
        out += check_version(e.criteria, attributes, file, f"entry {e.id}")
    return out


def compile_formulary(f: Formulary) -> dict[str, Any]:
    """Plain JSON data for the look-up: statuses and entries, criteria trees left out (flagged)."""
    statuses = {s.id: s.model_dump(mode="json", exclude_none=True) for s in f.vocabulary.statuses}
    entries = []
    for e in f.entries:
        d = e.model_dump(mode="json", exclude={"criteria"})
        d["criteria_ids"] = [n.id for n in e.criteria]
        entries.append(d)
    from engine.formulary.terminology import compile_terminology

    v = f.vocabulary
    return {"formulary": {"id": v.id, "name": v.name, "area": v.area, "decision_body": v.decision_body},
            "statuses": statuses, "entries": entries, "terminology": compile_terminology(f.terminology)}


def decide_entry(entry: Entry, vocab: Vocabulary, facts: dict[str, Any]) -> dict[str, Any]:
    """Does this patient meet the entry's restriction? The same decide() as `cpe evaluate`.

    The entry's criteria run as a one-version policy: met → eligible (routine, or prior
    approval where the decision needs it); unmet → not eligible; missing facts → unknown.
    A status that is not commissioned (Black) decides not eligible, IFR route, whatever the facts.

    The wrapper policy is built with model_construct on purpose: what it carries was validated when
    the formulary loaded (the Entry model checks its criteria against the same node models), and an
    entry is not a policy file (no policy id, sources or dated label of its own to validate). The
    resolved version and its digest come from engine.language.resolve, the one place that makes them.
    """
    from engine.language.decide import decide
    from engine.language.model.policy import Policy, Version
    from engine.language.resolve import resolve

    status = vocab.status(entry.status)
    commissioned = status.flags.commissioned if status else None
    if not entry.criteria and commissioned is not False:
        return {"restriction": "none", "criteria": [], "missing": [],
                "reason": "No patient criteria are recorded for this entry."}
    commissioning = "not_routinely_commissioned" if commissioned is False else "criteria_based"
    route = "prior_approval" if entry.prior_approval else "routine"
    label = entry.decision_date.isoformat() if entry.decision_date else "undated"
    policy = Policy.model_construct(id=f"formulary/{vocab.id}/{entry.id}", title=f"{entry.medicine} "
                                    f"({vocab.name})", intervention=entry.medicine,
                                    scope=entry.indication or "indication not stated",
                                    commissioning=commissioning, route_when_eligible=route, sources=(),
                                    versions=())
    version = Version.model_construct(version=label, status="ratified", effective_from=entry.decision_date,
                                      effective_to=None, criteria=entry.criteria)
    rv = resolve(policy, version, lambda ref, _v: _no_references(entry, ref))
    d = decide(rv, facts)
    out = d.to_json()
    out["restriction"] = {"eligible": "met", "not_eligible": "unmet"}.get(d.outcome, "unknown")
    if commissioned is False and entry.ifr_available is False:  # the decision names alternatives, not an IFR
        out["reason"] = ("Not to be prescribed on the NHS here; the decision names no individual funding "
                         "request route (see its notes for the alternatives).")
    return out


def _no_references(entry: Entry, ref: Any) -> Any:
    from engine.errors import InputError

    raise InputError.of("invalid-entry", f"formulary entry {entry.id}: a restriction cannot refer to policy "
                                         f"{getattr(ref, 'policy', ref)!r}")
