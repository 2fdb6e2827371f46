"""Writes the CSAF 2.0 test advisories under provider/ (hand-made, see RECORDED.md) and checks
each against the OASIS CSAF 2.0 JSON schema in schema/. Run from the repository root:
.venv/bin/python tests/collectors/recordings/csaf/make_documents.py"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
WHITE = HERE / "provider" / ".well-known" / "csaf" / "white"
PUBLISHER = {
    "category": "coordinator",
    "contact_details": "cert@ncsc.nl",
    "name": "Nationaal Cyber Security Centrum",
    "namespace": "https://www.ncsc.nl/",
}


def advisory(
    tracking_id: str,
    title: str,
    initial: str,
    current: str,
    severity_text: str,
    vendor: str,
    product: str,
    *,
    affected: dict,
    fixed: dict | None,
    cve: str,
    score: float,
    vector: str,
    summary: str,
) -> dict:
    product_branches = [
        {
            "category": "product_version_range" if key.startswith("vers:") or key[0] in "<>=" else "product_version",
            "name": key,
            "product": {"product_id": pid, "name": f"{vendor} {product} {key}", **extra},
        }
        for key, (pid, extra) in {**affected, **(fixed or {})}.items()
    ]
    revisions = [{"date": initial, "number": "1.0.0", "summary": "Initiele versie"}]
    if current != initial:
        revisions.append({"date": current, "number": "1.0.1", "summary": "Updates beschikbaar gekomen"})
    severity = "CRITICAL" if score >= 9 else "HIGH" if score >= 7 else "MEDIUM"
    return {
        "document": {
            "category": "csaf_security_advisory",
            "csaf_version": "2.0",
            "lang": "nl",
            "aggregate_severity": {"namespace": "https://www.ncsc.nl/", "text": severity_text},
            "distribution": {"tlp": {"label": "WHITE"}},
            "notes": [
                {"category": "summary", "title": "Samenvatting", "text": summary},
                {
                    "category": "legal_disclaimer",
                    "title": "Disclaimer",
                    "text": "Testdocument voor audit-portal; geen echt advies.",
                },
            ],
            "publisher": PUBLISHER,
            "references": [
                {
                    "category": "self",
                    "summary": "Dit advies",
                    "url": f"https://advisories.ncsc.nl/csaf/v2/{initial[:4]}/{tracking_id.lower()}.json",
                }
            ],
            "title": title,
            "tracking": {
                "current_release_date": current,
                "generator": {"engine": {"name": "hand-written test data"}},
                "id": tracking_id,
                "initial_release_date": initial,
                "revision_history": revisions,
                "status": "final",
                "version": revisions[-1]["number"],
            },
        },
        "product_tree": {
            "branches": [
                {
                    "category": "vendor",
                    "name": vendor,
                    "branches": [{"category": "product_name", "name": product, "branches": product_branches}],
                }
            ]
        },
        "vulnerabilities": [
            {
                "cve": cve,
                "product_status": {
                    "known_affected": [pid for pid, _ in affected.values()],
                    **({"fixed": [pid for pid, _ in fixed.values()]} if fixed else {}),
                },
                "scores": [
                    {
                        "products": [pid for pid, _ in affected.values()],
                        "cvss_v3": {
                            "version": "3.1",
                            "vectorString": vector,
                            "baseScore": score,
                            "baseSeverity": severity,
                        },
                    }
                ],
                "notes": [{"category": "description", "text": summary}],
            }
        ],
    }


DOCUMENTS = {
    "2026/ncsc-2026-0412.json": advisory(
        "NCSC-2026-0412",
        "Kwetsbaarheid verholpen in OpenSSL",
        "2026-11-18T10:15:00Z",
        "2026-11-24T08:00:00Z",
        "Kans medium, Schade high",
        "OpenSSL",
        "openssl",
        affected={"vers:deb/>=3.0.0|<3.0.20-1~deb12u1": ("CSAFPID-0001", {})},
        fixed={
            "3.0.20-1~deb12u1": (
                "CSAFPID-0002",
                {"product_identification_helper": {"purl": "pkg:deb/debian/openssl@3.0.20-1~deb12u1?distro=debian-12"}},
            )
        },
        cve="CVE-2026-41871",
        score=7.5,
        vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        summary="Een kwetsbaarheid in OpenSSL stelt een kwaadwillende in staat een Denial-of-Service te veroorzaken.",
    ),
    "2026/ncsc-2026-0419.json": advisory(
        "NCSC-2026-0419",
        "Kwetsbaarheid verholpen in nginx",
        "2026-11-23T13:00:00Z",
        "2026-11-23T13:00:00Z",
        "Kans medium, Schade medium",
        "F5",
        "nginx",
        affected={"vers:deb/<1.22.1-9+deb12u12": ("CSAFPID-0001", {})},
        fixed=None,
        cve="CVE-2026-40210",
        score=5.3,
        vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
        summary="Een kwetsbaarheid in de HTTP/3-module van nginx kan leiden tot het lekken van geheugeninhoud.",
    ),
    "2026/ncsc-2026-0423.json": advisory(
        "NCSC-2026-0423",
        "Kwetsbaarheid verholpen in sudo",
        "2026-11-24T09:30:00Z",
        "2026-11-24T09:30:00Z",
        "Kans high, Schade high",
        "sudo project",
        "sudo",
        affected={"vers:deb/<1.9.13p3-1+deb12u3": ("CSAFPID-0001", {})},
        fixed=None,
        cve="CVE-2026-39954",
        score=7.8,
        vector="CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
        summary="Een lokale gebruiker kan via een kwetsbaarheid in sudo root-rechten verkrijgen.",
    ),
    "2026/ncsc-2026-0427.json": advisory(
        "NCSC-2026-0427",
        "Kwetsbaarheden verholpen in OpenSSH",
        "2026-11-25T15:45:00Z",
        "2026-11-26T07:10:00Z",
        "Kans high, Schade high",
        "OpenBSD",
        "openssh-client",
        affected={"vers:deb/<1:9.2p1-2+deb12u7": ("CSAFPID-0001", {})},
        fixed=None,
        cve="CVE-2026-43012",
        score=9.1,
        vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N",
        summary="Een kwaadwillende server kan via een kwetsbaarheid in de OpenSSH-client willekeurige code uitvoeren.",
    ),
    "2026/ncsc-2026-0398.json": advisory(
        "NCSC-2026-0398",
        "Kwetsbaarheid verholpen in Fortinet FortiOS",
        "2026-10-30T11:00:00Z",
        "2026-11-02T09:00:00Z",
        "Kans high, Schade high",
        "Fortinet",
        "FortiOS",
        affected={
            "7.4.3": (
                "CSAFPID-0001",
                {"product_identification_helper": {"cpe": "cpe:2.3:o:fortinet:fortios:7.4.3:*:*:*:*:*:*:*"}},
            )
        },
        fixed=None,
        cve="CVE-2026-36301",
        score=8.1,
        vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
        summary="Een ongeauthenticeerde aanvaller kan via de SSL-VPN van FortiOS code uitvoeren.",
    ),
}


def main() -> None:
    import jsonschema
    import referencing

    schemas = {path.name: json.loads(path.read_text()) for path in (HERE / "schema").glob("*.json")}
    registry = referencing.Registry().with_resources(
        (uri, referencing.Resource.from_contents(schemas[name], default_specification=referencing.jsonschema.DRAFT7))
        for uri, name in (
            ("https://www.first.org/cvss/cvss-v2.0.json", "cvss_v2_0.json"),
            ("https://www.first.org/cvss/cvss-v3.0.json", "cvss_v3_0.json"),
            ("https://www.first.org/cvss/cvss-v3.1.json", "cvss_v3_1.json"),
        )
    )
    validator = jsonschema.Draft202012Validator(schemas["csaf_2_0.json"], registry=registry)
    changes = []
    for path, document in DOCUMENTS.items():
        validator.validate(document)
        target = WHITE / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        changes.append((path, document["document"]["tracking"]["current_release_date"]))
    (WHITE / "changes.csv").write_text(
        "".join(f'"{p}","{t}"\n' for p, t in sorted(changes, key=lambda c: c[1], reverse=True))
    )
    (WHITE / "index.txt").write_text("".join(f"{p}\n" for p in sorted(DOCUMENTS)))
    metadata = {
        "canonical_url": "https://advisories.ncsc.nl/.well-known/csaf/provider-metadata.json",
        "distributions": [{"directory_url": "https://advisories.ncsc.nl/.well-known/csaf/white/"}],
        "last_updated": "2026-11-26T07:10:00Z",
        "list_on_CSAF_aggregators": True,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": True,
        "publisher": PUBLISHER,
        "role": "csaf_trusted_provider",
    }
    (HERE / "provider" / ".well-known" / "csaf" / "provider-metadata.json").write_text(
        json.dumps(metadata, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
