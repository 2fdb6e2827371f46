"""The catalogue file reader refuses malformed files and says where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_portal.catalogue.schema import (
    CatalogueFile,
    CatalogueFormatError,
    builtin_catalogue_paths,
    read_catalogue_file,
    validate_catalogue,
)

BASE = """\
format: audit-portal-catalogue/1
framework:
  key: base
  name: Base framework
  version: "1"
groups:
  - key: G
    title: Group
controls:
  - id: B.1
    group: G
    title: First base control
  - id: B.2
    group: G
    title: Second base control
"""

OWN = """\
format: audit-portal-catalogue/1
framework:
  key: own
  name: Own measures
  version: "2024"
groups:
  - key: ops
    title: Operations
controls:
  - id: OWN-1
    group: ops
    title: Backups are made
    maps_to:
      - framework: base
        id: B.1
        rationale: B.1 asks for backups.
    requirements:
      - key: OWN-1/backup
        title: Backup log
        evidence_kind: log
        collector: backup
        frequency_days: 1
        grace_days: 1
        auditor_expects: A daily backup log.
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line number of the n-th line containing ``fragment``."""
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return hits[occurrence - 1]


def read_error(tmp_path: Path, name: str, text: str) -> CatalogueFormatError:
    with pytest.raises(CatalogueFormatError) as caught:
        read_catalogue_file(write(tmp_path, name, text))
    return caught.value


def test_a_valid_file_of_ones_own_is_read(tmp_path: Path) -> None:
    base = read_catalogue_file(write(tmp_path, "base.yaml", BASE))
    own = read_catalogue_file(write(tmp_path, "own.yaml", OWN))
    validate_catalogue([base, own])
    assert own.controls[0].maps_to[0].id == "B.1"
    assert own.controls[0].requirements[0].evidence_kind == "log"
    assert own.source.name == "own.yaml"


def test_broken_yaml_syntax_is_rejected_with_its_line(tmp_path: Path) -> None:
    text = OWN.replace("    title: Backups are made", "    title: [Backups are made")
    error = read_error(tmp_path, "own.yaml", text)
    assert error.file.name == "own.yaml"
    assert error.line is not None and error.line >= line_of(text, "[Backups")
    assert str(error).startswith(f"own.yaml:{error.line}: invalid YAML")


def test_a_missing_title_is_rejected_at_its_control(tmp_path: Path) -> None:
    text = BASE.replace("    title: Second base control\n", "")
    error = read_error(tmp_path, "base.yaml", text)
    assert (error.line, error.path) == (line_of(text, "- id: B.2"), "controls[1].title")
    assert str(error) == f"base.yaml:{error.line}: controls[1].title: required field is missing"


def test_a_blank_title_is_rejected(tmp_path: Path) -> None:
    text = BASE.replace("title: Second base control", 'title: "  "')
    error = read_error(tmp_path, "base.yaml", text)
    assert (error.line, error.path) == (line_of(text, 'title: "  "'), "controls[1].title")
    assert "must not be blank" in error.reason


def test_a_duplicate_control_id_is_rejected_at_the_second(tmp_path: Path) -> None:
    text = BASE.replace("id: B.2", "id: B.1")
    error = read_error(tmp_path, "base.yaml", text)
    assert (error.line, error.path) == (line_of(text, "id: B.1", occurrence=2), "controls[1].id")
    assert error.reason == "duplicate control id 'B.1'"


def test_a_duplicate_yaml_key_is_rejected(tmp_path: Path) -> None:
    text = BASE.replace("    title: First base control\n", "    title: First base control\n    title: Other\n")
    error = read_error(tmp_path, "base.yaml", text)
    assert (error.line, error.path) == (line_of(text, "title: Other"), "controls[0].title")
    assert error.reason == "duplicate key 'title'"


def test_an_unquoted_numeric_id_is_refused_rather_than_renamed(tmp_path: Path) -> None:
    # YAML reads 5.10 as the number 5.1: accepting it would silently turn control 5.10 into 5.1.
    text = BASE.replace("id: B.1", "id: 5.10")
    error = read_error(tmp_path, "base.yaml", text)
    assert (error.line, error.path) == (line_of(text, "id: 5.10"), "controls[0].id")
    assert "quote it" in error.reason


def test_an_unknown_field_is_rejected(tmp_path: Path) -> None:
    text = BASE.replace("    title: First base control\n", "    title: First base control\n    titel: typo\n")
    error = read_error(tmp_path, "base.yaml", text)
    assert (error.line, error.path, error.reason) == (line_of(text, "titel"), "controls[0].titel", "unknown field")


def test_an_unknown_group_is_rejected(tmp_path: Path) -> None:
    text = BASE.replace("    group: G\n    title: Second", "    group: H\n    title: Second")
    error = read_error(tmp_path, "base.yaml", text)
    assert (error.line, error.path, error.reason) == (
        line_of(text, "group: H"),
        "controls[1].group",
        "unknown group 'H'",
    )


def test_an_unknown_evidence_kind_is_rejected(tmp_path: Path) -> None:
    text = OWN.replace("evidence_kind: log", "evidence_kind: screenshot")
    error = read_error(tmp_path, "own.yaml", text)
    assert (error.line, error.path) == (line_of(text, "screenshot"), "controls[0].requirements[0].evidence_kind")


def test_a_requirement_key_must_name_its_control(tmp_path: Path) -> None:
    text = OWN.replace("key: OWN-1/backup", "key: OWN-2/backup")
    error = read_error(tmp_path, "own.yaml", text)
    assert (error.line, error.path) == (line_of(text, "OWN-2/backup"), "controls[0].requirements[0].key")


def test_an_iso27002_attribute_value_outside_the_vocabulary_is_rejected(tmp_path: Path) -> None:
    text = BASE.replace(
        "    title: First base control\n",
        "    title: First base control\n    attributes:\n      control_type: [preventive, deterrent]\n",
    )
    error = read_error(tmp_path, "base.yaml", text)
    assert (error.line, error.path) == (line_of(text, "deterrent"), "controls[0].attributes.control_type[1]")
    assert "'deterrent' is not a value of control_type" in error.reason


def test_an_empty_file_is_rejected(tmp_path: Path) -> None:
    error = read_error(tmp_path, "empty.yaml", "# nothing here\n")
    assert str(error) == "empty.yaml:1: the file is empty"


class TestCrossFileChecks:
    def files(self, tmp_path: Path, own_text: str) -> tuple[list[CatalogueFile], str]:
        base = read_catalogue_file(write(tmp_path, "base.yaml", BASE))
        own = read_catalogue_file(write(tmp_path, "own.yaml", own_text))
        return [base, own], own_text

    def test_a_mapping_to_an_unknown_id_is_rejected_with_its_location(self, tmp_path: Path) -> None:
        files, text = self.files(tmp_path, OWN.replace("id: B.1", "id: B.9"))
        with pytest.raises(CatalogueFormatError) as caught:
            validate_catalogue(files)
        line = line_of(text, "id: B.9")
        assert (
            str(caught.value)
            == f"own.yaml:{line}: controls[0].maps_to[0].id: unknown control 'B.9' in framework 'base'"
        )

    def test_a_mapping_to_an_unknown_framework_is_rejected(self, tmp_path: Path) -> None:
        files, text = self.files(tmp_path, OWN.replace("framework: base", "framework: iso27001-2023"))
        with pytest.raises(CatalogueFormatError) as caught:
            validate_catalogue(files)
        line = line_of(text, "iso27001-2023")
        expected = f"own.yaml:{line}: controls[0].maps_to[0].framework: unknown framework 'iso27001-2023'"
        assert str(caught.value) == expected

    def test_a_framework_defined_twice_is_rejected(self, tmp_path: Path) -> None:
        files, text = self.files(tmp_path, OWN.replace("key: own", "key: base"))
        with pytest.raises(CatalogueFormatError) as caught:
            validate_catalogue(files)
        assert (caught.value.file.name, caught.value.line, caught.value.path) == ("own.yaml", 3, "framework.key")

    def test_a_requirement_key_used_twice_is_rejected(self, tmp_path: Path) -> None:
        files, _ = self.files(tmp_path, OWN)
        other = read_catalogue_file(write(tmp_path, "other.yaml", OWN.replace("key: own", "key: other")))
        with pytest.raises(CatalogueFormatError) as caught:
            validate_catalogue([*files, other])
        assert caught.value.file.name == "other.yaml"
        assert caught.value.path == "controls[0].requirements[0].key"
        assert "duplicate requirement key 'OWN-1/backup'" in caught.value.reason

    def test_an_unknown_successor_is_rejected(self, tmp_path: Path) -> None:
        text = OWN.replace('  version: "2024"\n', '  version: "2024"\n  successor_framework: base\n').replace(
            "    title: Backups are made\n", "    title: Backups are made\n    successors: [B.2, B.7]\n"
        )
        files, _ = self.files(tmp_path, text)
        with pytest.raises(CatalogueFormatError) as caught:
            validate_catalogue(files)
        assert (caught.value.line, caught.value.path) == (line_of(text, "successors:"), "controls[0].successors[1]")

    def test_successors_without_a_successor_framework_are_rejected(self, tmp_path: Path) -> None:
        text = OWN.replace("    title: Backups are made\n", "    title: Backups are made\n    successors: [B.2]\n")
        error = read_error(tmp_path, "own.yaml", text)
        assert error.path == "controls[0].successors"

    def test_a_broken_mapping_in_a_builtin_file_is_found(self, tmp_path: Path) -> None:
        annex2 = next(path for path in builtin_catalogue_paths() if path.name == "annex2.yaml")
        text = annex2.read_text(encoding="utf-8").replace("id: A.9.4.2\n", "id: A.9.4.9\n")
        files = [read_catalogue_file(path) for path in builtin_catalogue_paths() if path.name != "annex2.yaml"]
        files.append(read_catalogue_file(write(tmp_path, "annex2.yaml", text)))
        with pytest.raises(CatalogueFormatError) as caught:
            validate_catalogue(files)
        assert caught.value.line == line_of(text, "id: A.9.4.9")
        assert caught.value.reason == "unknown control 'A.9.4.9' in framework 'iso27001-2013'"
