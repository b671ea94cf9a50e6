"""FHIR R4 XML, read into the JSON form the rest of engine.fhir reads (hl7.org/fhir/R4/xml.html).

UK systems and NHS England's UK Core examples publish FHIR as XML. The mapping is the standard
one: an element's `value` attribute is its primitive value; child elements are object members;
the narrative (`text`) is dropped. XML does not say which elements repeat, so an element named in
`REPEATING` (the 0..* elements of the resources the engine reads) is always a list, and any
element that occurs twice is a list; the reader of engine.fhir takes a single object or a list
alike. Primitive types the reader compares (decimals of a Quantity, integers, booleans) are typed.
A DOCTYPE or entity declaration is refused (no entity expansion, no external fetch).
"""
from __future__ import annotations

import re
from typing import Any

from engine.errors import InputError

FHIR_NS = "http://hl7.org/fhir"
REPEATING = {
    "entry", "link", "coding", "identifier", "name", "given", "prefix", "suffix", "telecom", "address", "line",
    "contact", "extension", "modifierExtension", "category", "performer", "note", "reasonCode", "reasonReference",
    "dosageInstruction", "doseAndRate", "component", "interpretation", "referenceRange", "basedOn", "partOf",
    "hasMember", "derivedFrom", "communication", "generalPractitioner", "profile", "tag", "security", "bodySite",
    "evidence", "stage", "supportingInformation", "insurance", "detectedIssue", "eventHistory", "contained",
    "participant", "instantiatesCanonical", "instantiatesUri", "issue", "focus", "additionalInstruction",
    "language", "photo", "qualification", "specialty", "episodeOfCare", "diagnosis", "account", "location",
}
BOOLEAN = re.compile(r"(Boolean|^active|^experimental|^asNeeded|^doNotPerform|^multipleBirthBoolean)$")
INTEGER = re.compile(r"(Integer|^rank|^sequence|^numberOfRepeatsAllowed|^frequency|^count)$")
DECIMAL_PARENT = re.compile(r"(Quantity|^low|^high|^numerator|^denominator|^doseQuantity|^quantity|^period)$")
_DECL = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)


def is_xml(raw: bytes | str) -> bool:
    head = raw.lstrip()[:1]
    return head in (b"<", "<")


def parse(raw: bytes | str, file: str | None = None) -> dict[str, Any]:
    """One FHIR resource (a Bundle, too) from XML; InputError when it is not FHIR XML."""
    import xml.etree.ElementTree as ET

    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if _DECL.search(data):
        raise InputError.of("fhir-xml", "FHIR XML with a DOCTYPE or entity declaration is refused", file)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError.of("fhir-xml", f"not well-formed XML: {exc}", file) from None
    ns, kind = _split(root.tag)
    if ns != FHIR_NS:
        raise InputError.of("fhir-xml", f"not FHIR XML: the root element {kind!r} is not in the namespace "
                            f"{FHIR_NS}", file)
    return _resource(root)


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _resource(el: Any) -> dict[str, Any]:
    _, kind = _split(el.tag)
    out: dict[str, Any] = {"resourceType": kind}
    out.update(_members(el, kind))
    return out


def _members(el: Any, parent: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in el:
        ns, name = _split(child.tag)
        if ns != FHIR_NS or (name == "text" and parent not in ("", None) and _is_narrative(child)):
            continue
        value = _value(child, name, parent)
        if name in out:
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[name] = [value] if name in REPEATING else value
    return out


def _is_narrative(el: Any) -> bool:
    return any(_split(c.tag)[1] == "div" for c in el)


def _value(el: Any, name: str, parent: str) -> Any:
    if name in ("resource", "contained") or (len(el) == 1 and name == "resource"):
        inner = list(el)
        return _resource(inner[0]) if inner else {}
    members = _members(el, name)
    if "url" in el.attrib:
        members["url"] = el.attrib["url"]
    if "id" in el.attrib:
        members["id"] = el.attrib["id"]
    if "value" not in el.attrib:
        return members
    value = _typed(el.attrib["value"], name, parent)
    return value if not members else {**members, "value": value}


def _typed(text: str, name: str, parent: str) -> Any:
    if BOOLEAN.search(name) and text in ("true", "false"):
        return text == "true"
    if INTEGER.search(name) and re.fullmatch(r"-?\d+", text):
        return int(text)
    if (name == "value" and DECIMAL_PARENT.search(parent) or name.endswith("Decimal")) \
            and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    return text
