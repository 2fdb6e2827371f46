"""Reading CSAF 2.0 advisories (OASIS Common Security Advisory Framework, the format of the
Dutch NCSC and other CERTs) and matching their product trees against installed packages.

Only what matching needs is read: the tracking data, the severity, and for every product the
package name (from the ``product_name`` branch or a purl), the affected versions (a
``product_version`` or a ``product_version_range`` in vers or plain comparator form) and CPEs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from debian.debian_support import Version


class CsafError(ValueError):
    pass


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str  # package or product name, lower case ("" when unknown)
    version: str | None  # one affected version
    version_range: str | None  # "vers:deb/>=1.0|<1.2" or "<= 1.2"
    cpe: str | None


@dataclass
class Advisory:
    tracking_id: str
    title: str
    publisher: str
    initial_release: datetime
    current_release: datetime
    severity: str  # none, low, medium, high, critical
    score: float | None
    cves: list[str]
    affected: list[Product] = field(default_factory=list)
    fixed: list[Product] = field(default_factory=list)


_SEVERITY_WORDS = {
    "critical": "critical",
    "kritiek": "critical",
    "kritisch": "critical",
    "high": "high",
    "hoog": "high",
    "important": "high",
    "medium": "medium",
    "middel": "medium",
    "moderate": "medium",
    "low": "low",
    "laag": "low",
}
SEVERITY_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def _moment(value: Any, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise CsafError(f"{what} is not a date-time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _score_severity(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else "none"


def _walk_branches(
    branches: Any, path: tuple[Mapping[str, Any], ...]
) -> Iterator[tuple[tuple[Mapping[str, Any], ...], Mapping[str, Any]]]:
    for branch in branches or ():
        here = (*path, branch)
        if isinstance(branch.get("product"), Mapping):
            yield here, branch["product"]
        yield from _walk_branches(branch.get("branches"), here)


_PURL = re.compile(
    r"^pkg:(?P<type>[a-z0-9.+-]+)/(?:(?P<namespace>[^@?#]+)/)?(?P<name>[^/@?#]+)(?:@(?P<version>[^?#]+))?"
)


def products(document: Mapping[str, Any]) -> dict[str, Product]:
    """Every product of the product tree by product_id (branches and full_product_names;
    a relationship's product inherits the name and versions of its product_reference)."""
    tree = document.get("product_tree") or {}
    found: dict[str, Product] = {}
    for path, product in _walk_branches(tree.get("branches"), ()):
        by_category = {branch.get("category"): str(branch.get("name", "")) for branch in path}
        helper = product.get("product_identification_helper") or {}
        name = by_category.get("product_name", "")
        version = by_category.get("product_version")
        purl = _PURL.match(str(helper.get("purl", "")))
        if purl:
            name = unquote(purl["name"])
            version = unquote(purl["version"]) if purl["version"] else version
        found[product["product_id"]] = Product(
            product_id=product["product_id"],
            name=name.strip().lower(),
            version=version,
            version_range=by_category.get("product_version_range"),
            cpe=helper.get("cpe"),
        )
    for product in tree.get("full_product_names") or ():
        helper = product.get("product_identification_helper") or {}
        purl = _PURL.match(str(helper.get("purl", "")))
        found[product["product_id"]] = Product(
            product_id=product["product_id"],
            name=(unquote(purl["name"]) if purl else str(product.get("name", ""))).strip().lower(),
            version=unquote(purl["version"]) if purl and purl["version"] else None,
            version_range=None,
            cpe=helper.get("cpe"),
        )
    for relationship in tree.get("relationships") or ():
        full = relationship.get("full_product_name") or {}
        reference = found.get(relationship.get("product_reference", ""))
        if reference is not None and "product_id" in full:
            found[full["product_id"]] = Product(
                full["product_id"], reference.name, reference.version, reference.version_range, reference.cpe
            )
    return found


def parse_advisory(document: Mapping[str, Any]) -> Advisory:
    try:
        head = document["document"]
        if head.get("csaf_version") != "2.0":
            raise CsafError(f"csaf_version is {head.get('csaf_version')!r}, not 2.0")
        tracking = head["tracking"]
        tracking_id = str(tracking["id"])
        initial = _moment(tracking["initial_release_date"], "initial_release_date")
        current = _moment(tracking["current_release_date"], "current_release_date")
    except (KeyError, TypeError) as error:
        raise CsafError(f"not a CSAF document: missing {error}") from None
    known = products(document)
    affected_ids: set[str] = set()
    fixed_ids: set[str] = set()
    scores: list[float] = []
    cves: list[str] = []
    for vulnerability in document.get("vulnerabilities") or ():
        if vulnerability.get("cve"):
            cves.append(str(vulnerability["cve"]))
        status = vulnerability.get("product_status") or {}
        for key in ("known_affected", "first_affected", "last_affected"):
            affected_ids.update(status.get(key) or ())
        fixed_ids.update(status.get("fixed") or ())
        fixed_ids.update(status.get("first_fixed") or ())
        for score in vulnerability.get("scores") or ():
            for cvss in (score.get("cvss_v3"), score.get("cvss_v2")):
                if cvss and "baseScore" in cvss:
                    scores.append(float(cvss["baseScore"]))
    score = max(scores, default=None)
    severity = _score_severity(score) if score is not None else "none"
    aggregate = str((head.get("aggregate_severity") or {}).get("text", "")).strip().lower()
    for word, level in _SEVERITY_WORDS.items():
        if word in aggregate and SEVERITY_RANK[level] > SEVERITY_RANK[severity]:
            severity = level
    return Advisory(
        tracking_id=tracking_id,
        title=str(head.get("title", "")),
        publisher=str((head.get("publisher") or {}).get("name", "")),
        initial_release=initial,
        current_release=current,
        severity=severity,
        score=score,
        cves=sorted(set(cves)),
        affected=[known[pid] for pid in sorted(affected_ids) if pid in known],
        fixed=[known[pid] for pid in sorted(fixed_ids) if pid in known],
    )


# --- version ranges ------------------------------------------------------------------------

_COMPARATOR = re.compile(r"^\s*(?P<op><=|>=|!=|<|>|=)?\s*(?P<version>\S+)\s*$")


def _compare(installed: Version, op: str, version: str) -> bool:
    wanted = Version(version)
    return {
        "<": installed < wanted,
        "<=": installed <= wanted,
        ">": installed > wanted,
        ">=": installed >= wanted,
        "=": installed == wanted,
        "!=": installed != wanted,
    }[op]


def in_range(installed: str, version_range: str) -> bool | None:
    """Whether ``installed`` lies in a CSAF ``product_version_range``: a vers string
    (``vers:deb/>=3.0.0|<3.0.15-1~deb12u1``: ``|``-separated constraints, a ``<`` or ``<=``
    closing an interval opened by ``>``/``>=``) or plain comparators (``<= 3.0.14``). None when
    the range cannot be read (the advisory is then listed for a person to judge)."""
    text = version_range.strip()
    try:
        if text.startswith("vers:"):
            _, _, constraints = text[5:].partition("/")
            if constraints.strip() == "*":
                return True
            parts = [part for part in constraints.split("|") if part.strip()]
        else:
            parts = [part for part in re.split(r"\s*(?:,|\band\b|&&)\s*", text) if part]
        version = Version(installed)
        checks: list[tuple[str, str]] = []
        for part in parts:
            match = _COMPARATOR.match(unquote(part))
            if match is None:
                return None
            checks.append((match["op"] or "=", match["version"]))
        if text.startswith("vers:"):
            return _vers_contains(version, checks)
        return all(_compare(version, op, wanted) for op, wanted in checks)
    except ValueError:
        return None


def _vers_contains(version: Version, checks: list[tuple[str, str]]) -> bool:
    """vers semantics: '=' constraints match exactly, '!=' exclude, and the sorted '<'/'>'
    constraints form intervals (lower bound, upper bound) pairwise."""
    if any(op == "!=" and _compare(version, "=", wanted) for op, wanted in checks):
        return False
    if any(op == "=" and _compare(version, "=", wanted) for op, wanted in checks):
        return True
    bounds = sorted(((op, wanted) for op, wanted in checks if op not in ("=", "!=")), key=lambda item: Version(item[1]))
    index = 0
    while index < len(bounds):
        op, wanted = bounds[index]
        if op in (">", ">="):
            upper = bounds[index + 1] if index + 1 < len(bounds) and bounds[index + 1][0] in ("<", "<=") else None
            if _compare(version, op, wanted) and (upper is None or _compare(version, *upper)):
                return True
            index += 2 if upper else 1
        else:
            if _compare(version, op, wanted):
                return True
            index += 1
    return False


def cpe_matches(host_cpe: str, product_cpe: str) -> bool:
    """CPE 2.3 formatted strings: part, vendor and product equal; the product's version, when
    given, equal to the host's ('*' and '-' match anything)."""
    ours, theirs = host_cpe.split(":"), product_cpe.split(":")
    if len(ours) < 6 or len(theirs) < 6 or ours[:2] != ["cpe", "2.3"] or theirs[:2] != ["cpe", "2.3"]:
        return False
    if ours[2:5] != theirs[2:5]:
        return False
    return theirs[5] in ("*", "-", "") or theirs[5] == ours[5]
