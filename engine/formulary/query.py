"""The query reader: what a prescriber typed, taken apart before any name is looked up.

    read("agomelatine 25mg tablets")   → words ['agomelatine'], strength 25 mg, form tablet (oral)
    read("melatonin for autism")       → words ['melatonin'], indication 'autism'
    read("octreotide LAR inj")         → words ['octreotide'], form injection, modified release

Strengths (`25mg`, `2.5 mg`, `1 mg/ml`, `500 micrograms`), form and route words and their
abbreviations (tablets/tab, oral solution/liquid/syrup, injection/inj/IV/SC/IM, MR/PR/SR/XL,
LAR, autogel, depot) and dosing words (nocte, bd, ...) are *recognised*: they narrow a match when
the entry states a form or strength, and are never required to match a name. "X for Y" splits a
medicine from an indication. The same reader reads an entry's own formulation text, so a query
and an entry are compared in one vocabulary of features.

A feature is `dimension:value`, with `/` for a narrower value (`route:parenteral/iv` is a kind of
`route:parenteral`). The vocabulary here is the project's own, written from the dm+d form and
route names (NHSBSA dm+d lookup file, release 3010419) and common UK prescribing abbreviations;
PR is read as prolonged release (as the issue and dm+d product names use it), not per rectum.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.formulary.fuzzy import STOPWORDS, normalise

_INJ = ("form:injection", "route:parenteral")
_MR = ("release:mr",)
# phrase (normalised words) → features; longest phrases are taken first
PHRASES: dict[str, tuple[str, ...]] = {
    "powder and solvent for suspension for injection": _INJ,
    "powder and solvent for prolonged release suspension for injection": _INJ + _MR,
    "prolonged release suspension for injection": _INJ + _MR,
    "concentrate for solution for infusion": _INJ + ("route:parenteral/iv",),
    "solution for injection": _INJ, "suspension for injection": _INJ, "for injection": _INJ,
    "solution for infusion": _INJ + ("route:parenteral/iv",), "infusion": _INJ + ("route:parenteral/iv",),
    "pre filled syringe": _INJ, "prefilled syringe": _INJ, "pre filled pen": _INJ, "pen": _INJ,
    "injection": _INJ, "injections": _INJ, "injectable": _INJ, "inj": _INJ, "ampoule": _INJ,
    "ampoules": _INJ, "amp": _INJ, "vial": _INJ, "vials": _INJ, "syringe": _INJ,
    "intravenous": _INJ + ("route:parenteral/iv",), "iv": _INJ + ("route:parenteral/iv",),
    "ivi": _INJ + ("route:parenteral/iv",),
    "subcutaneous": _INJ + ("route:parenteral/sc",), "subcut": _INJ + ("route:parenteral/sc",),
    "sub cut": _INJ + ("route:parenteral/sc",), "sc": _INJ + ("route:parenteral/sc",),
    "sq": _INJ + ("route:parenteral/sc",),
    "intramuscular": _INJ + ("route:parenteral/im",), "im": _INJ + ("route:parenteral/im",),
    "deep subcutaneous": _INJ + ("route:parenteral/sc",), "parenteral": ("route:parenteral",),
    "lar": _INJ + _MR, "autogel": _INJ + _MR + ("route:parenteral/sc",), "depot": _INJ + _MR,
    "long acting": _MR, "la": _MR,
    "prolonged release": _MR, "modified release": _MR, "extended release": _MR, "slow release": _MR,
    "sustained release": _MR, "controlled release": _MR, "mr": _MR, "pr": _MR, "sr": _MR, "xl": _MR,
    "cr": _MR, "er": _MR, "m r": _MR, "retard": _MR,
    "film coated tablets": ("form:tablet", "route:oral"), "film coated tablet": ("form:tablet", "route:oral"),
    "orodispersible tablets": ("form:tablet", "route:oral"), "dispersible tablets": ("form:tablet", "route:oral"),
    "tablets": ("form:tablet", "route:oral"), "tablet": ("form:tablet", "route:oral"),
    "tabs": ("form:tablet", "route:oral"), "tab": ("form:tablet", "route:oral"),
    "caplets": ("form:tablet", "route:oral"), "tbl": ("form:tablet", "route:oral"),
    "capsules": ("form:capsule", "route:oral"), "capsule": ("form:capsule", "route:oral"),
    "caps": ("form:capsule", "route:oral"), "cap": ("form:capsule", "route:oral"),
    "oral solution": ("form:liquid", "route:oral"), "oral suspension": ("form:liquid", "route:oral"),
    "oral liquid": ("form:liquid", "route:oral"), "liquid": ("form:liquid", "route:oral"),
    "syrup": ("form:liquid", "route:oral"), "elixir": ("form:liquid", "route:oral"),
    "mixture": ("form:liquid", "route:oral"), "oral drops": ("form:liquid", "route:oral"),
    "solution": ("form:liquid",), "suspension": ("form:liquid",), "soln": ("form:liquid",),
    "susp": ("form:liquid",),
    "oral": ("route:oral",), "orally": ("route:oral",), "po": ("route:oral",), "by mouth": ("route:oral",),
    "medical device": ("form:device",), "device": ("form:device",), "devices": ("form:device",),
    "cream": ("form:cream",), "ointment": ("form:ointment",), "gel": ("form:gel",),
    "inhaler": ("form:inhaler", "route:inhalation"), "patch": ("form:patch",), "patches": ("form:patch",),
}
_LONGEST = max(len(p.split()) for p in PHRASES)
#: dosing and quantity words a prescriber adds that say nothing about which entry is meant
DOSING = frozenset("nocte mane od bd tds qds qid prn stat daily once twice nightly night bedtime dose "
                   "doses take x weekly week monthly every hours hourly hrs per day days pack box "
                   "qty quantity supply".split())
#: words that turn an indication round ("non-cystic fibrosis", "not CF")
NEGATORS = frozenset("non not without excluding except no".split())
#: salt and ester words: recognised next to a substance, never required
SALT_WORDS = frozenset("hydrochloride hcl acetate sodium potassium sulfate sulphate maleate tartrate "
                       "citrate phosphate mesilate mesylate besilate besylate fumarate succinate "
                       "hydrobromide calcium magnesium bromide chloride dihydrate monohydrate "
                       "hemihydrate".split())
_UNITS = {"mg": 1.0, "milligram": 1.0, "milligrams": 1.0, "g": 1000.0, "gram": 1000.0, "grams": 1000.0,
          "mcg": 1e-3, "microgram": 1e-3, "micrograms": 1e-3, "ug": 1e-3, "µg": 1e-3,
          "ng": 1e-6, "nanogram": 1e-6, "nanograms": 1e-6}
_STRENGTH = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*(mg|milligrams?|g|grams?|mcg|micrograms?|ug|µg|ng|nanograms?)(?![a-z])"
    r"(?:\s*(?:/|per|in)\s*(\d+(?:\.\d+)?)?\s*(ml|mL|l|dose|actuation)(?![a-z]))?", re.IGNORECASE)
_VOLUME = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*(ml|l)(?![a-z])", re.IGNORECASE)
_SPLIT = re.compile(r"\b(?:for|in)\b")


@dataclass(frozen=True)
class Strength:
    """An amount in milligrams, per a volume or dose where stated (1 mg/ml: 1.0, 'ml')."""

    mg: float
    per: str | None = None
    text: str = ""

    def same(self, other: Strength) -> bool:
        return self.per == other.per and abs(self.mg - other.mg) <= 1e-9 + 1e-6 * max(self.mg, other.mg)


@dataclass(frozen=True)
class Query:
    """A query taken apart: name words, the indication text, strengths and form/route features."""

    text: str
    words: tuple[str, ...]
    indication: str | None = None
    strengths: tuple[Strength, ...] = ()
    features: frozenset[str] = frozenset()
    recognised: tuple[str, ...] = field(default=())   # the form, route and dosing words taken out
    salts: tuple[str, ...] = ()
    all_words: tuple[str, ...] = ()                   # name and indication words, in order

    def described(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.strengths:
            out["strength"] = [s.text for s in self.strengths]
        if self.features:
            out["form"] = sorted(self.features)
        if self.recognised:
            out["recognised"] = list(self.recognised)
        if self.salts:
            out["salt"] = list(self.salts)
        return out


def strengths(text: str) -> tuple[list[Strength], str]:
    """The strengths in a text, and the text without them."""
    found: list[Strength] = []

    def take(m: re.Match[str]) -> str:
        amount = float(m.group(1)) * _UNITS[m.group(2).casefold()]
        per = m.group(4).casefold() if m.group(4) else None
        if per and m.group(3):
            amount /= float(m.group(3)) or 1.0
        found.append(Strength(amount, per, m.group(0).strip()))
        return " "

    rest = _STRENGTH.sub(take, text)
    return found, _VOLUME.sub(" ", rest)


def features_of(words: list[str]) -> tuple[list[str], set[str], list[str]]:
    """(the words left, the features found, the phrases taken) for normalised words."""
    out: list[str] = []
    feats: set[str] = set()
    taken: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(_LONGEST, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + n])
            if phrase in PHRASES:
                feats.update(PHRASES[phrase])
                taken.append(phrase)
                i += n
                break
        else:
            if words[i] in DOSING:
                taken.append(words[i])
            else:
                out.append(words[i])
            i += 1
    return out, feats, taken


def read(text: str, indication: str | None = None) -> Query:
    """Read a query; an explicit indication wins over an 'X for Y' in the text."""
    found, rest = strengths(text)
    words, feats, taken = features_of(normalise(rest).split())
    ind_words: list[str] = []
    joined = " ".join(words)
    m = _SPLIT.search(joined)
    if m and m.start() > 0 and joined[m.end():].strip():
        words, ind_words = joined[:m.start()].split(), joined[m.end():].split()
    salts = tuple(w for w in words if w in SALT_WORDS)
    names = tuple(w for w in words if w not in STOPWORDS)
    ind = indication if indication is not None else (" ".join(ind_words) or None)
    return Query(text=text, words=names, indication=ind, strengths=tuple(found), features=frozenset(feats),
                 recognised=tuple(taken), salts=salts, all_words=tuple(joined.split()))


def entry_features(formulation: str | None, route: str | None) -> tuple[frozenset[str], tuple[Strength, ...]]:
    """An entry's (or product's) own form text read as features; a stated form without a release
    word is immediate release, so a query for MR does not match plain tablets."""
    found, rest = strengths(" ".join(x for x in (formulation, route) if x))
    _, feats, _ = features_of(normalise(rest).split())
    if any(f.startswith("form:") for f in feats) and "release:mr" not in feats \
            and not feats & {"form:device"}:
        feats.add("release:ir")
    return frozenset(feats), tuple(found)


def _dimension(f: str) -> str:
    return f.split(":", 1)[0]


def compatible(query: frozenset[str], entry: frozenset[str]) -> bool:
    """Does every query feature agree with the entry? A dimension the entry does not state agrees;
    a narrower or broader value of the same kind agrees (IV with parenteral, tablet with MR tablet)."""
    for q in query:
        dim = _dimension(q)
        stated = [e for e in entry if _dimension(e) == dim]
        if stated and not any(e == q or q.startswith(e + "/") or e.startswith(q + "/") for e in stated):
            return False
    return True


def strength_ok(query: tuple[Strength, ...], entry: tuple[Strength, ...], feats: frozenset[str] = frozenset()
                ) -> bool:
    """A strength the query states must be one the entry states, when the entry states any; a
    strength per ml is a liquid's, never a tablet's or capsule's."""
    if any(q.per == "ml" for q in query) and feats & {"form:tablet", "form:capsule"}:
        return False
    if not query or not entry:
        return True
    return all(any(q.same(e) for e in entry) for q in query)
