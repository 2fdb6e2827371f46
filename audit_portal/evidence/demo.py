"""Demo step: a year of manual proofs uploaded by IT, with the gaps a real year has.

Every file goes through :func:`service.ingest`, as an upload would. Gaps on purpose: the
awareness training (HR-3, every 180 days) was last held 230 days ago, so it is stale; the
compliance review (CMP-1) was never uploaded, so it is missing; the policy was corrected once,
so a supersede chain exists; one supplier certificate runs out within weeks.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from audit_portal.auth import repository as accounts
from audit_portal.catalogue.service import load_catalogue
from audit_portal.demo_context import DemoContext
from audit_portal.evidence import service
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.principals import Actor, Principal

COMPANY = "Stratech hosting"
UPLOADER = "it.ops"
STAFF = [
    ("M. Jansen", "Security officer"),
    ("S. de Boer", "HR manager"),
    ("R. Visser", "Facilities"),
    ("P. Bakker", "Head of operations"),
    ("L. Smit", "Developer"),
    ("K. Mulder", "Developer"),
    ("A. Meijer", "System administrator"),
    ("J. de Vries", "Support"),
    ("E. Bos", "Sales"),
    ("T. Hendriks", "Finance"),
]


@dataclass(frozen=True)
class DemoFile:
    requirement: str
    days_ago: int
    filename: str
    title: str
    content: bytes
    period_days: int = 0  # length of the period covered, ending on the collection day
    valid_for_days: int | None = None  # certificates: expiry counted from today
    description: str = ""
    corrects: str | None = None  # filename of the earlier item this one supersedes
    extra_controls: list[str] = field(default_factory=list)


def minimal_pdf(title: str, lines: list[str]) -> bytes:
    """A small, valid one-page PDF with the text set in Helvetica (written by hand, no library)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text_ops = ["BT", "/F1 16 Tf", "56 780 Td", f"({escape(title)}) Tj", "/F1 11 Tf", "0 -28 Td"]
    for line in lines:
        text_ops += [f"({escape(line)}) Tj", "0 -16 Td"]
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    output = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(output)
    output += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    output += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    output += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(output)


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def _day(now: datetime, days_ago: int) -> date:
    return (now - timedelta(days=days_ago)).date()


def _attendance(now: datetime, days_ago: int, topic: str) -> bytes:
    held = _day(now, days_ago).isoformat()
    rows = [["name", "role", "session", "date", "completed"]]
    rows += [[name, role, topic, held, "no" if name == "E. Bos" else "yes"] for name, role in STAFF]
    return _csv(rows)


def _restore_report(now: datetime, days_ago: int, outcome: str) -> bytes:
    held = _day(now, days_ago).isoformat()
    return (
        f"Restore test report - {COMPANY}\n"
        f"Date: {held}\nPerformed by: A. Meijer (system administrator)\n\n"
        "Scope: restic repository (DC2) and borg repository (DC1), latest nightly snapshot\n"
        "Restored: /srv/app (customer application data), PostgreSQL dump of 'portal'\n"
        "Target: isolated restore VM restore-01\n\n"
        f"Result: {outcome}\n"
        "Checks: file count and SHA-256 of 200 sampled files equal to production; database dump\n"
        "loads without errors; application starts against the restored database.\n"
    ).encode()


def demo_files(now: datetime) -> list[DemoFile]:
    policy_lines = [
        f"{COMPANY} - information security policy",
        "Owner: M. Jansen, security officer. Approved by the management board.",
        "1. Scope: all staff, systems and customer data processed under the privacy terms.",
        "2. Objectives derive from business, legal and contractual requirements (Annex 2).",
        "3. Roles: the board owns the policy; the security officer maintains it.",
        "4. The policy is reviewed yearly and after major changes or incidents.",
    ]
    return [
        DemoFile(
            "POL-1/policy-document",
            380,
            "information-security-policy-v3.pdf",
            "Information security policy v3",
            minimal_pdf("Information security policy v3", policy_lines),
        ),
        DemoFile(
            "POL-1/policy-document",
            190,
            "information-security-policy-v4.pdf",
            "Information security policy v4",
            minimal_pdf("Information security policy v4", [*policy_lines, "5. Added: supplier security (hosting)."]),
            description="Version 4 after the yearly review: section 5 on supplier security added.",
            corrects="information-security-policy-v3.pdf",
        ),
        DemoFile(
            "POL-2/policy-review",
            195,
            "policy-review-minutes.txt",
            "Minutes of the yearly policy review",
            (
                f"Policy review - {COMPANY}\nDate: {_day(now, 195)}\nPresent: management board, M. Jansen\n\n"
                "Decisions:\n- Add a section on supplier security (hosting provider, data centre).\n"
                "- Keep the review cycle at 12 months.\n- Version 4 to be published within two weeks.\n"
            ).encode(),
        ),
        DemoFile(
            "ORG-1/roles-and-responsibilities",
            150,
            "security-raci.csv",
            "Security roles (RACI)",
            _csv(
                [
                    ["activity", "responsible", "accountable", "consulted", "informed"],
                    ["Information security policy", "M. Jansen", "Board", "P. Bakker", "All staff"],
                    ["Patch management", "A. Meijer", "P. Bakker", "M. Jansen", "Board"],
                    ["Backups and restore tests", "A. Meijer", "P. Bakker", "R. Visser", "Board"],
                    ["Access management", "A. Meijer", "M. Jansen", "S. de Boer", "Board"],
                    ["Incident response", "M. Jansen", "Board", "P. Bakker", "Customers"],
                ]
            ),
        ),
        DemoFile(
            "HR-1/employment-terms",
            300,
            "employment-terms-2026.pdf",
            "Employment terms: security obligations",
            minimal_pdf(
                "Employment terms 2026",
                [
                    "Article 12: the employee complies with the security policy.",
                    "Article 13: incidents are reported to the security officer at once.",
                ],
            ),
        ),
        DemoFile(
            "HR-2/confidentiality-clause",
            300,
            "employment-contract-template.txt",
            "Contract template with confidentiality clause",
            b"Employment contract (template)\n...\nArticle 9 - Confidentiality\nThe employee keeps secret all "
            b"information about customers and their data, during and after employment.\n",
        ),
        DemoFile(
            "HR-3/awareness",
            410,
            "awareness-attendance-phishing.csv",
            "Awareness session: phishing",
            _attendance(now, 410, "Phishing and reporting"),
            period_days=1,
        ),
        # The last session was 230 days ago: with 180 days and 14 days' grace, HR-3 is stale.
        DemoFile(
            "HR-3/awareness",
            230,
            "awareness-attendance-passwords.csv",
            "Awareness session: passwords and MFA",
            _attendance(now, 230, "Passwords, MFA and password managers"),
            period_days=1,
        ),
        DemoFile(
            "AST-1/endpoint-policy",
            100,
            "endpoint-policy.pdf",
            "Laptop and desktop policy",
            minimal_pdf(
                "Endpoint policy",
                [
                    "Full-disk encryption on every laptop.",
                    "Screen lock after 5 minutes.",
                    "Only managed devices connect to the office network.",
                ],
            ),
        ),
        DemoFile(
            "AST-2/data-deletion",
            60,
            "data-deletion-log.csv",
            "Data deletion log (half-year)",
            _csv(
                [
                    ["date", "system", "data", "method", "by"],
                    [_day(now, 150).isoformat(), "backup DC1", "ex-customer 1042", "repository prune", "A. Meijer"],
                    [
                        _day(now, 95).isoformat(),
                        "file share",
                        "HR files of leavers > 7 years",
                        "secure delete",
                        "S. de Boer",
                    ],
                    [_day(now, 61).isoformat(), "portal DB", "ex-customer 1187", "DELETE + vacuum", "A. Meijer"],
                ]
            ),
            period_days=180,
        ),
        DemoFile(
            "CRY-1/cryptography-policy",
            120,
            "cryptography-policy.pdf",
            "Policy on the use of cryptography",
            minimal_pdf(
                "Cryptography policy",
                [
                    "TLS 1.2 or newer for all services.",
                    "AES-256 for data at rest.",
                    "Keys rotated yearly; stored in the secrets vault.",
                ],
            ),
        ),
        DemoFile(
            "PHY-1/entry-control",
            90,
            "office-access-review.csv",
            "Office access badge review",
            _csv(
                [
                    ["badge", "holder", "zone", "still needed"],
                    *[[f"B-{100 + n}", name, "office", "yes"] for n, (name, _) in enumerate(STAFF)],
                ]
            ),
        ),
        DemoFile(
            "PHY-2/data-centre",
            250,
            "data-centre-description.txt",
            "Hosting in two professional data centres",
            b"DC1: Amsterdam (Tier III), DC2: Rotterdam (Tier III).\nRacks locked, 24/7 guarded, "
            b"biometric entry, UPS and generator, fire suppression.\n",
        ),
        # The yearly check of the backup rooms is overdue: its last record predates the audit year,
        # so 7.2 (entry control met, backup rooms not) is the demo's partly covered control.
        DemoFile(
            "PHY-4/backup-location-security",
            400,
            "backup-location-security.txt",
            "Backup equipment in locked rooms",
            b"Backup servers stand in locked racks in DC1 and DC2; entry needs a badge and a registered visit.\n",
        ),
        DemoFile(
            "INC-1/incident-process",
            180,
            "incident-procedure.pdf",
            "Security incident and data breach procedure",
            minimal_pdf(
                "Incident procedure",
                [
                    "Report to the security officer within 1 hour.",
                    "Data breaches: notify the customer within 24 hours.",
                    "Every incident ends with an evaluation and improvement actions.",
                ],
            ),
        ),
        DemoFile(
            "BCM-1/restore-test", 340, "restore-test-q1.txt", "Restore test Q1", _restore_report(now, 340, "passed")
        ),
        DemoFile(
            "BCM-1/restore-test",
            250,
            "restore-test-q2.txt",
            "Restore test Q2",
            _restore_report(now, 250, "partly passed: the PostgreSQL dump of 'portal' was empty (fixed, see Q3)"),
        ),
        DemoFile(
            "BCM-1/restore-test", 160, "restore-test-q3.txt", "Restore test Q3", _restore_report(now, 160, "passed")
        ),
        DemoFile(
            "BCM-1/restore-test", 70, "restore-test-q4.txt", "Restore test Q4", _restore_report(now, 70, "passed")
        ),
        DemoFile(
            "BCM-3/redundancy",
            200,
            "platform-redundancy.txt",
            "Redundant server platform",
            b"Hypervisor cluster of 3 nodes per data centre; storage mirrored; "
            b"load balancer pair in active/passive; tested by pulling one node on "
            + _day(now, 200).isoformat().encode()
            + b".\n",
        ),
        DemoFile(
            "SUP-1/hosting-agreement",
            320,
            "hosting-agreement.pdf",
            "Hosting agreement with security annex",
            minimal_pdf(
                "Hosting agreement",
                [
                    "Availability 99.9 %; incident response within 1 hour.",
                    "Security annex: ISO 27001 certified operation, yearly audit report.",
                ],
            ),
        ),
        DemoFile(
            "SUP-2/certificate",
            100,
            "hosting-provider-iso27001.pdf",
            "ISO 27001 certificate of the hosting provider",
            minimal_pdf("ISO/IEC 27001:2022 certificate", ["Hosting provider B.V.", "Certificate 2026-ISMS-0193"]),
            valid_for_days=200,
        ),
        # Expires within weeks: the certificate of the location must be renewed soon.
        DemoFile(
            "SUP-3/certificate",
            330,
            "data-centre-iso27001.pdf",
            "ISO 27001 certificate of the data centre",
            minimal_pdf("ISO/IEC 27001:2013 certificate", ["Data centre Amsterdam", "Certificate NL-ISMS-55120"]),
            valid_for_days=35,
        ),
    ]


def load_evidence_demo(context: DemoContext) -> None:
    """Manual evidence: a year of uploads by IT, with a stale and a missing record."""
    session = context.session
    load_catalogue(session)
    uploader = accounts.user_by_username(session, UPLOADER)
    actor = (
        Actor(Principal(role=uploader.role, username=uploader.username, user_id=uploader.id))
        if uploader
        else Actor.system("demo")
    )
    source = EvidenceSource.upload(uploader.id) if uploader and uploader.id else EvidenceSource(kind="upload")
    by_filename: dict[str, Evidence] = {}
    for demo_file in sorted(demo_files(context.now), key=lambda f: f.days_ago, reverse=True):
        collected_at = context.now - timedelta(days=demo_file.days_ago)
        meta = EvidenceMeta(
            title=demo_file.title,
            description=demo_file.description or None,
            collected_at=collected_at,
            period_from=(collected_at - timedelta(days=max(demo_file.period_days - 1, 0))).date()
            if demo_file.period_days
            else None,
            period_to=collected_at.date() if demo_file.period_days else None,
            valid_until=(context.now + timedelta(days=demo_file.valid_for_days)).date()
            if demo_file.valid_for_days
            else None,
            requirements=[demo_file.requirement],
            controls=demo_file.extra_controls,
            supersedes=by_filename[demo_file.corrects].id if demo_file.corrects else None,
        )
        by_filename[demo_file.filename] = service.ingest(
            session,
            context.store,
            stream=io.BytesIO(demo_file.content),
            filename=demo_file.filename,
            meta=meta,
            source=source,
            max_bytes=context.settings.max_upload_bytes,
            actor=actor,
            retention_years=context.settings.retention_years_after_cycle,
        )
    context.console.print(
        f"demo: {len(by_filename)} manual evidence items; HR-3 awareness is stale, CMP-1 has none, the PHY-4 check of the backup rooms is overdue",
        highlight=False,
    )
