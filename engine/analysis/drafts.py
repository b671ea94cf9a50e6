"""A draft wording change: edited criteria become a `draft-YYYY` version that states only its
changes to the version it is based on, checked as the loader checks a file, and written into the
policy file as a new version.

The edited criteria are a YAML document `criteria: [...]` (the workbench's YAML view; its
structure editor sends the same list as JSON). Every message is the CLI's: pydantic's through
`engine.language.load.validate`, the dictionary's through `engine.language.check.check_version`,
each with its line in that document. Saving appends the new version at the end of the file's
`versions:` list, leaves every other byte of the file as it was (comments included), reloads the
result and refuses to write unless it reads back as exactly the draft. A ratified version is never
written or changed here, and a label already in the file is refused.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from engine.errors import InputError, Problem
from engine.language.check import check_version
from engine.language.load import validate
from engine.language.model.criteria import Node
from engine.language.model.policy import Add, Change, Policy, Replace, Version
from engine.language.resolve import ResolvedVersion
from engine.language.source import LDict, parse_yaml, read_text

VIEW = "draft criteria"       # the name messages give the edited document
_DRAFT = re.compile(r"^draft-\d{4}$")


class _Criteria(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    criteria: tuple[Node, ...]


class _Flow(dict):
    """A mapping written on one line, as the policy files write a plain comparison."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                                                   flow_style=True))
_Dumper.add_representer(dict, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                                                  flow_style=False))


def node_data(n: Node) -> dict[str, Any]:
    """A node as the policy files write it: plain comparisons inside a rule on one line."""
    return _shape(n.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True), top=True)


def _shape(v: Any, top: bool = False) -> Any:
    if isinstance(v, dict):
        out = {k: _shape(x) for k, x in v.items()}
        return _Flow(out) if ("attr" in v and "id" not in v and not top) else out
    if isinstance(v, list):
        return [_shape(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)  # `min: 18`, as written, not 18.0 (the model reads it back as the same number)
    return v


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


def criteria_yaml(nodes: tuple[Node, ...]) -> str:
    """The YAML view of a criteria list."""
    return dump({"criteria": [node_data(n) for n in nodes]})


def json_to_yaml(criteria: Any) -> str:
    """The structure editor's JSON list as the YAML view (then read like any edit)."""
    if not isinstance(criteria, list):
        raise InputError.of("invalid-draft", "'criteria' must be a list of criteria", VIEW)
    return dump({"criteria": [_shape(c, top=True) if isinstance(c, dict) else c for c in criteria]})


def read_criteria(text: str) -> tuple[Node, ...]:
    """The edited criteria (each node with its span in the document), or an InputError with lines."""
    data = parse_yaml(text, VIEW)
    if not isinstance(data, LDict) or "criteria" not in data:
        raise InputError.of("invalid-draft", "the draft is a mapping with one key, 'criteria': a list of criteria",
                            VIEW, getattr(data, "line", None) or 1)
    model = validate(_Criteria, data, VIEW, "invalid-policy")
    return model.criteria


def changes_from(base: tuple[Node, ...], edited: tuple[Node, ...]) -> tuple[Change, ...]:
    """remove / replace / add changes that turn the base's top-level criteria into the edited ones.

    Matched by id. A new criterion goes after the one before it in the edited list (at the end
    when it comes first: `add` has no 'before'); the order of kept criteria is the base's.
    """
    base_by = {n.id: n for n in base}
    kept = {n.id for n in edited}
    out = [Change(remove=n.id) for n in base if n.id not in kept]
    for i, n in enumerate(edited):
        old = base_by.get(n.id)
        if old is None:
            after = next((m.id for m in reversed(edited[:i]) if m.id is not None), None)
            out.append(Change(add=Add(criterion=n, after=after)))
        elif old != n:
            out.append(Change(replace=Replace(id=old.id or "", with_=n)))  # type: ignore[call-arg]
    return tuple(out)


def default_label(policy: Policy, today: dt.date | None = None) -> str:
    """draft-<this year>, or the first later year no version of the policy uses."""
    taken = {v.version for v in policy.versions}
    year = (today or dt.date.today()).year
    while f"draft-{year}" in taken:
        year += 1
    return f"draft-{year}"


def label_problem(policy: Policy, label: str) -> str | None:
    """Why `label` cannot name a new draft of the policy, or None."""
    try:
        check_label(policy, label)
    except InputError as exc:
        return exc.problems[0].message
    return None


def check_label(policy: Policy, label: str) -> None:
    if not _DRAFT.match(label):
        raise InputError.of("bad-label", f"a draft's label is draft-YYYY, not {label!r}")
    if label in {v.version for v in policy.versions}:
        raise InputError.of("label-taken", f"{policy.id} already has a version {label!r}: give the draft another year",
                            hint="versions: " + ", ".join(v.version for v in policy.versions))


@dataclass
class Draft:
    """An edited version, resolved in a suite of its own beside the base it changes."""

    policy: Policy               # the policy with the draft as its last version
    base: ResolvedVersion
    rv: ResolvedVersion
    version: Version
    criteria: tuple[Node, ...]
    suite: Any = None
    text: str = ""               # the YAML view it was read from (its lines are the messages' lines)

    @property
    def changes(self) -> tuple[Change, ...]:
        return self.version.changes


def build(suite: Any, policy_id: str, base_label: str, text: str, label: str | None = None,
          summary: str | None = None, notes: str | None = None) -> Draft:
    """The draft of `text` (the YAML view) against a base version; InputError lists every problem."""
    policy = suite.policy(policy_id)
    base = suite.resolved(policy_id, base_label)
    label = label or default_label(policy)
    check_label(policy, label)
    criteria = read_criteria(text)
    problems = check_version(criteria, suite.attributes, VIEW, f"{policy_id} {label}")
    problems += _scope_problems(base, criteria)
    if problems:
        raise InputError(problems)
    version = Version(version=label, status="draft", based_on=base_label,  # type: ignore[arg-type]
                      summary=summary or f"Draft wording change to {base_label}.", notes=notes,
                      changes=changes_from(base.criteria, criteria))
    with_draft = policy.model_copy(update={"versions": (*policy.versions, version)})
    fork = suite.fork()
    fork.add_policy(with_draft, VIEW)
    rv = fork.resolved(policy_id, label)
    return Draft(with_draft, base, rv, version, criteria, fork, text)


def existing(suite: Any, policy_id: str, base_label: str, label: str) -> Draft:
    """A version already in the file (a saved draft, or a later ratified version) seen as a draft of
    `base_label`: what `cpe report paper` writes the committee paper for."""
    rv = suite.resolved(policy_id, label)
    return Draft(suite.policy(policy_id), suite.resolved(policy_id, base_label), rv, rv.version, rv.criteria,
                 suite, "")


def _scope_problems(base: ResolvedVersion, criteria: tuple[Node, ...]) -> list[Problem]:
    """A criterion id the base uses for a scope criterion cannot be reused for a criterion."""
    scope_ids = {n.id for n in base.scope_criteria}
    return [Problem("duplicate-criterion", f"criterion id {n.id!r} is a scope criterion of {base.label}",
                    n.at()) for n in criteria if n.id in scope_ids]


def version_yaml(v: Version) -> str:
    """The new version as an item of the file's `versions:` list (two-space indent, like the files)."""
    data: dict[str, Any] = {"version": v.version, "status": str(v.status), "based_on": v.based_on,
                            "summary": v.summary}
    if v.notes:
        data["notes"] = v.notes
    changes: list[dict[str, Any]] = []
    for ch in v.changes:
        if ch.remove is not None:
            changes.append({"remove": ch.remove})
        elif ch.replace is not None:
            changes.append({"replace": {"id": ch.replace.id, "with": node_data(ch.replace.with_)}})
        elif ch.add is not None:
            add: dict[str, Any] = {"criterion": node_data(ch.add.criterion)}
            if ch.add.after is not None:
                add["after"] = ch.add.after
            changes.append({"add": add})
    data["changes"] = changes
    body = dump([data])
    return "".join("  " + line if line.strip() else line for line in body.splitlines(keepends=True))


def save(suite: Any, draft: Draft, path: Path | None = None) -> Path:
    """Append the draft to its policy file; the file is rewritten only if it reads back as the draft.

    Saves of one file are serialised (a lock file in the temporary folder), and the file is read
    afresh under the lock, so two saves at once cannot lose either draft or reuse a label.
    """
    path = Path(path or suite.path_of(draft.policy.id))
    with _locked(path):
        return _save(draft, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl
    import hashlib
    import tempfile

    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"cpe-draft-{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _save(draft: Draft, path: Path) -> Path:
    from engine.language.load import load_policy_file

    text = read_text(path)
    data = parse_yaml(text, str(path))
    if not isinstance(data, LDict) or list(data)[-1:] != ["versions"]:
        raise InputError.of("cannot-save", f"{path}: 'versions' must be the file's last key to add a draft to it")
    on_disk = {v.version for v in validate(Policy, data, str(path), "invalid-policy").versions}
    check_label(draft.policy.model_copy(update={"versions": tuple(v for v in draft.policy.versions
                                                                  if v.version in on_disk)}), draft.version.version)
    new_text = text + ("" if text.endswith("\n") else "\n") + version_yaml(draft.version)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    try:
        policy, _ = load_policy_file(tmp)
        if policy.versions[-1] != draft.version or len(policy.versions) != len(on_disk) + 1:
            raise InputError.of("cannot-save", f"{path}: the draft does not read back as written; nothing saved")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
