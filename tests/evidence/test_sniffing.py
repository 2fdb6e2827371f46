"""Content types from the bytes, and file names kept only when they are just names."""

from __future__ import annotations

import pytest

from audit_portal.errors import InvalidInput
from audit_portal.evidence.sniffing import sanitise_filename, sniff


@pytest.mark.parametrize(
    ("head", "filename", "content_type"),
    [
        (b"%PDF-1.7\n", "scan.bin", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.jpg", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "photo.png", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "x.webp", "image/webp"),
        (b"a,b,c\n1,2,3\n", "table.csv", "text/csv"),
        (b'{"hosts": ["a", "b"]}', "hosts.json", "application/json"),
        (b"not json at all", "fake.json", "text/plain"),
        (b"plain words\n", "notes", "text/plain"),
        (b"<!DOCTYPE html><html></html>", "report.txt", "text/html"),
        (b"  <html><body>x</body></html>", "report.csv", "text/html"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "logo.png", "image/svg+xml"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "logo", "image/svg+xml"),
        (b"PK\x03\x04\x14\x00", "sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (b"caf\xc3", "cut-in-a-character.txt", "text/plain"),
    ],
)
def test_type_is_judged_from_the_bytes(head, filename, content_type):
    sniffed = sniff(head, filename)
    assert sniffed.content_type == content_type
    assert not sniffed.executable


@pytest.mark.parametrize(
    ("head", "filename"),
    [
        (b"\x7fELF\x02\x01\x01", "harmless.txt"),
        (b"MZ\x90\x00", "report.pdf"),
        (b"\xcf\xfa\xed\xfe\x07", "tool"),
        (b"#!/usr/bin/env python3\n", "collect.txt"),
        (b"Write-Host hi", "setup.ps1"),
        (b"@echo off", "RUN.BAT"),
    ],
)
def test_programs_and_scripts_are_executable(head, filename):
    assert sniff(head, filename).executable


def test_a_plain_name_is_kept_normalised():
    assert sanitise_filename("  Restore test Q1 (final).pdf ") == "Restore test Q1 (final).pdf"
    assert sanitise_filename("cafe\u0301.txt") == "caf\u00e9.txt"


def test_a_long_name_keeps_its_extension():
    name = sanitise_filename("x" * 400 + ".csv")
    assert len(name) == 255 and name.endswith(".csv")


@pytest.mark.parametrize("name", [None, "", "   "])
def test_a_missing_name_is_refused(name):
    with pytest.raises(InvalidInput, match="no name"):
        sanitise_filename(name)
