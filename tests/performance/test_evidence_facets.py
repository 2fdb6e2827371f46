"""The evidence list's filter choices (content types, collector instances) come from the small
facet table kept as items arrive, not from ``SELECT DISTINCT`` over all evidence."""

from __future__ import annotations

import re

from tests.evidence.conftest import COLLECTOR_INSTANCE, metadata, push_body
from tests.performance.test_catalogue_cache import StatementLog

CSV = b"date,host,status\n2026-11-27,nas-1,ok\n"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, html
    return re.findall(r'<option[^>]*value="([^"]*)"', select.group(1))


def test_filter_choices_follow_what_arrives_without_scanning_evidence(push_client, login_as, session):
    reader = login_as("management")
    before = reader.get("/evidence")
    assert before.status_code == 200
    assert "text/csv" not in options(before.text, "content_type")

    for title, name, content in (("a", "a.csv", CSV), ("b", "b.csv", CSV + b"x"), ("c", "c.txt", b"plain words")):
        body, headers = push_body(metadata(title=title), name, content)
        assert push_client.post("/api/v1/evidence", content=body, headers=headers).status_code == 201

    with StatementLog(session) as statements:
        page = reader.get("/evidence")
    assert page.status_code == 200
    content_types = options(page.text, "content_type")
    assert "text/csv" in content_types and "text/plain" in content_types
    assert content_types.count("text/csv") == 1  # two CSV items, one choice
    assert COLLECTOR_INSTANCE in options(page.text, "source")
    assert not [s for s in statements if "distinct" in s and "from evidence " in s], statements
