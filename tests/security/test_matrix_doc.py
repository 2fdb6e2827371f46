"""docs/security.md shows the authorization matrix exactly as authz.MATRIX has it."""

from __future__ import annotations

from pathlib import Path

from audit_portal.authz import MATRIX
from audit_portal.authz_table import current_block, generated_block, matrix_table, rewrite

SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_the_security_page_shows_the_matrix_as_the_code_has_it():
    block = current_block(SECURITY_DOC.read_text(encoding="utf-8"))
    assert block is not None, "docs/security.md lost the markers around the matrix table"
    assert block == generated_block(), (
        "docs/security.md's matrix table differs from authz.MATRIX; regenerate it with "
        "'.venv/bin/python -m audit_portal.authz_table docs/security.md'"
    )


def test_the_table_has_a_row_per_action_and_marks_exactly_the_allowed_principals():
    rows = matrix_table().splitlines()[2:]
    assert len(rows) == len(MATRIX)
    signoff = next(row for row in rows if row.startswith("| `collectors:signoff` |"))
    assert [cell.strip() for cell in signoff.split("|")[2:8]] == ["", "yes", "", "", "", ""]  # it only, not even admin


def test_rewrite_replaces_a_stale_table(tmp_path):
    page = tmp_path / "security.md"
    stale = generated_block().replace("| `audit:read` | yes |", "| `audit:read` |  |")
    page.write_text(f"# Security\n\n{stale}\n\nMore text.\n", encoding="utf-8")
    assert rewrite(page) is True
    assert current_block(page.read_text(encoding="utf-8")) == generated_block()
    assert page.read_text(encoding="utf-8").endswith("\n\nMore text.\n")
    assert rewrite(page) is False
