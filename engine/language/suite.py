"""The policy suite on disk: `policies/attributes.yaml` and `policies/<id>/policy.yaml`.

Files are read lazily, one policy at a time, so a command touches only what it needs.
"""
from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path

from engine.errors import InputError, Location, Problem, did_you_mean
from engine.language import versions as _versions
from engine.language.check import check_version
from engine.language.load import load_attributes, load_policy_file
from engine.language.model.attributes import AttributeDictionary
from engine.language.model.criteria import PolicyRef
from engine.language.model.policy import _ID as POLICY_ID
from engine.language.model.policy import Policy, Version
from engine.language.resolve import ResolvedVersion, resolve
from engine.language.source import display_path


def default_policies_dir() -> Path:
    """`$CPE_POLICIES`, else the shipped policies (see `engine.data`)."""
    from engine.data import policies_dir

    return policies_dir()


ENGINE = Path(__file__).resolve().parent
# The code a snapshot's pickled objects depend on: a change here is a new cache key.
_SNAPSHOT_CODE = [*sorted((ENGINE / "model").glob("*.py")),
                  *(ENGINE / n for n in ("resolve.py", "check.py", "load.py", "source.py", "span.py", "suite.py",
                                          "vocabulary.py")), ENGINE.parent / "errors.py"]


def check_policy_id(policy_id: str) -> None:
    """Refuse an id that is not a policy id (kebab-case) before any file is looked for: `../x` or
    a 10,000-character id never reaches the file system."""
    if not isinstance(policy_id, str) or len(policy_id) > 100 or not POLICY_ID.match(policy_id):
        shown = policy_id[:40] + "…" if isinstance(policy_id, str) and len(policy_id) > 40 else policy_id
        raise InputError.of("unknown-policy", f"no policy {shown!r}: a policy id is lower-case words and "
                                              "digits joined by '-'", hint="run `cpe policies` to list them")


class Suite:
    @classmethod
    def cached(cls, root: Path | None = None) -> Suite:
        """A suite restored from a snapshot of every validated, resolved version when no file has
        changed since it was taken; else built afresh (and the snapshot taken when all is valid).

        Commands that only read the rules start faster this way: no YAML parsing, no pydantic
        validation or schema building. Errors still surface exactly as from a fresh Suite.
        The snapshot is unpickled only when it carries this installation's signature over its
        name and bytes (engine.language.cache), and its name is a digest of the content of every
        source and code file it came from: a file planted or edited in the cache folder is never
        loaded, so it cannot run code.
        """
        import pickle

        from engine.language import cache

        suite = cls(root)
        if not cache.enabled():
            return suite
        files = [suite.root / "attributes.yaml", *sorted(suite.root.glob("*/policy.yaml"))]
        where = cache.source_key([], suite.root.resolve())[:12]
        name = f"suite-{where}-{cache.source_key([*files, *_SNAPSHOT_CODE])}.pickle"
        raw = cache.read(name)  # None unless signed with this installation's key
        if raw is not None:
            try:
                snap = pickle.loads(raw)  # noqa: S301 - signed by us, checked in cache.read
                suite.__dict__["attributes"] = snap["attributes"]
                suite._policies = dict(snap["policies"])  # every node keeps its span through pickling
                suite._resolved = snap["resolved"]
                return suite
            except Exception:  # an unreadable snapshot is rebuilt, never trusted
                suite = cls(root)
        try:
            suite.all_versions()
        except InputError:
            # No snapshot. What did load stays loaded; what failed is not cached, so it raises
            # again, with its lines, when a command asks for it (as from a fresh suite).
            return suite
        snap = {"attributes": suite.attributes, "resolved": suite._resolved,
                "policies": dict(suite._policies)}
        cache.write(name, pickle.dumps(snap, protocol=pickle.HIGHEST_PROTOCOL), replaces=f"suite-{where}-*.pickle")
        return suite

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_policies_dir()
        self._policies: dict[str, tuple[Policy, str]] = {}
        self._resolved: dict[tuple[str, str], ResolvedVersion] = {}
        self._extra: dict[str, Path] = {}

    # -- files ---------------------------------------------------------------------------
    @cached_property
    def attributes(self) -> AttributeDictionary:
        path = self.root / "attributes.yaml"
        if not path.exists():
            raise InputError.of("no-policies", f"no attribute dictionary at {display_path(path)}",
                                hint="set CPE_POLICIES to the policies folder")
        return load_attributes(path)

    def ids(self) -> list[str]:
        found = {p.parent.name for p in self.root.glob("*/policy.yaml")}
        return sorted(found | set(self._extra))

    def path_of(self, policy_id: str) -> Path:
        return self._extra.get(policy_id) or self.root / policy_id / "policy.yaml"

    def add_file(self, path: Path) -> Policy:
        """Load a policy file from outside the suite (a proposed edit); it shadows the shipped one."""
        policy, _ = load_policy_file(path)
        self._extra[policy.id] = path
        self._policies[policy.id] = (policy, display_path(path))
        self._resolved = {k: v for k, v in self._resolved.items() if k[0] != policy.id}
        return policy

    def add_policy(self, policy: Policy, file: str) -> None:
        """A policy held in memory (e.g. with a draft being edited); it shadows the file, as add_file does."""
        self._policies[policy.id] = (policy, file)
        self._resolved = {k: v for k, v in self._resolved.items() if k[0] != policy.id}

    def forget(self, policy_id: str) -> None:
        """Read a policy's file again when next asked (after a draft was saved into it)."""
        self._policies.pop(policy_id, None)
        self._resolved = {k: v for k, v in self._resolved.items() if k[0] != policy_id}

    def fork(self) -> Suite:
        """A suite sharing what this one has loaded, whose additions (add_policy) stay its own."""
        other = Suite(self.root)
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k == "attributes"})
        other._policies, other._resolved, other._extra = dict(self._policies), dict(self._resolved), dict(self._extra)
        return other

    def policy(self, policy_id: str) -> Policy:
        if policy_id not in self._policies:
            check_policy_id(policy_id)
            path = self.path_of(policy_id)
            if not path.exists():
                raise InputError.of("unknown-policy", f"no policy {policy_id!r}",
                                    hint=did_you_mean(policy_id, self.ids()) or
                                    "run `cpe policies` to list them")
            policy, _ = load_policy_file(path)
            if policy.id != policy_id:
                raise InputError(Problem("invalid-policy", f"the file declares id {policy.id!r} but lives in "
                                                           f"folder {policy_id!r}", policy.at("id")))
            self._policies[policy_id] = (policy, display_path(path))
        return self._policies[policy_id][0]

    def policies(self) -> list[Policy]:
        return [self.policy(i) for i in self.ids()]

    # -- versions ------------------------------------------------------------------------
    def select(self, policy_id: str, *, version: str | None = None, on: dt.date | None = None,
               today: dt.date | None = None) -> ResolvedVersion:
        v = _versions.select(self.policy(policy_id), version=version, on=on, today=today)
        return self.resolved(policy_id, v.version)

    def resolved(self, policy_id: str, label: str, _stack: tuple[str, ...] = ()) -> ResolvedVersion:
        key = (policy_id, label)
        if key in self._resolved:
            return self._resolved[key]
        if policy_id in _stack:
            raise InputError.of("invalid-policy", "policies refer to each other in a loop: "
                                + " → ".join(_stack + (policy_id,)))
        policy = self.policy(policy_id)
        _, file = self._policies[policy_id]
        v = next((x for x in policy.versions if x.version == label), None)
        if v is None:
            _versions.select(policy, version=label)  # raises the helpful error

        def ref_lookup(ref: PolicyRef, referring: Version) -> ResolvedVersion:
            if ref.version:
                return self.resolved(ref.policy, ref.version, _stack + (policy_id,))
            target = self.policy(ref.policy)
            day = referring.effective_from
            found = _versions.in_force(target, day) if day else None
            if found is None:  # a draft: the newest ratified version
                ratified = [x for x in target.versions if x.status == "ratified"]
                if not ratified:
                    raise InputError(Problem("invalid-policy", f"{policy_id} {label}: refers to {ref.policy!r}, "
                                                               "which has no ratified version",
                                             ref.at("policy") if ref.span else Location(file)))
                found = max(ratified, key=lambda x: x.effective_from)  # type: ignore[arg-type,return-value]
            return self.resolved(ref.policy, found.version, _stack + (policy_id,))

        rv = resolve(policy, v, ref_lookup)  # type: ignore[arg-type]
        problems = check_version(rv.scope_criteria + rv.criteria, self.attributes, file, f"{policy_id} {label}")
        if problems:
            raise InputError(problems)
        self._resolved[key] = rv
        return rv

    def all_versions(self) -> list[ResolvedVersion]:
        return [self.resolved(p.id, v.version) for p in self.policies() for v in p.versions]

    def check_all(self) -> list[Problem]:
        """Every problem in every file, collected rather than stopping at the first."""
        problems: list[Problem] = []
        try:
            _ = self.attributes
        except InputError as e:
            return e.problems
        for pid in self.ids():
            try:
                policy = self.policy(pid)
            except InputError as e:
                problems += e.problems
                continue
            for v in policy.versions:
                try:
                    self.resolved(pid, v.version)
                except InputError as e:
                    problems += [p for p in e.problems if p not in problems]
        return problems

    def file_of(self, policy_id: str) -> str:
        """The policy file's name as shown in messages (each node also carries its own span)."""
        self.policy(policy_id)
        return self._policies[policy_id][1]
