"""The shipped catalogue: ISO/IEC 27001:2022 and 2013 Annex A, the Annex B correspondence, Bijlage 2."""

from __future__ import annotations

import pytest

from audit_portal.catalogue.schema import (
    ISO27002_ATTRIBUTES,
    CatalogueFile,
    builtin_catalogue_paths,
    read_catalogue_file,
    validate_catalogue,
)

# Controls per theme (2022) and per control objective (2013), as the standards number them.
THEME_SIZES_2022 = {"5": 37, "6": 8, "7": 14, "8": 34}
OBJECTIVE_SIZES_2013 = {
    "A.5.1": 2,
    "A.6.1": 5,
    "A.6.2": 2,
    "A.7.1": 2,
    "A.7.2": 3,
    "A.7.3": 1,
    "A.8.1": 4,
    "A.8.2": 3,
    "A.8.3": 3,
    "A.9.1": 2,
    "A.9.2": 6,
    "A.9.3": 1,
    "A.9.4": 5,
    "A.10.1": 2,
    "A.11.1": 6,
    "A.11.2": 9,
    "A.12.1": 4,
    "A.12.2": 1,
    "A.12.3": 1,
    "A.12.4": 4,
    "A.12.5": 1,
    "A.12.6": 2,
    "A.12.7": 1,
    "A.13.1": 3,
    "A.13.2": 4,
    "A.14.1": 3,
    "A.14.2": 9,
    "A.14.3": 1,
    "A.15.1": 3,
    "A.15.2": 2,
    "A.16.1": 7,
    "A.17.1": 3,
    "A.17.2": 1,
    "A.18.1": 5,
    "A.18.2": 3,
}
NEW_IN_2022 = {"5.7", "5.23", "5.30", "7.4", "8.9", "8.10", "8.11", "8.12", "8.16", "8.23", "8.28"}

# docs/concepts.md and the Annex 2 catalogue: measure -> category, and the frequency of each manual requirement.
MEASURES = {
    "POL-1": "policy",
    "POL-2": "policy",
    "ORG-1": "organisation",
    "ORG-2": "organisation",
    "HR-1": "people",
    "HR-2": "people",
    "HR-3": "people",
    "AST-1": "assets",
    "AST-2": "assets",
    "ACC-1": "access",
    "ACC-2": "access",
    "ACC-3": "access",
    "ACC-4": "access",
    "CRY-1": "cryptography",
    "CRY-2": "cryptography",
    "CRY-3": "cryptography",
    "PHY-1": "physical",
    "PHY-2": "physical",
    "PHY-3": "physical",
    "PHY-4": "physical",
    "OPS-1": "operations",
    "OPS-2": "operations",
    "OPS-3": "operations",
    "OPS-4": "operations",
    "COM-1": "communications",
    "COM-2": "communications",
    "INC-1": "incidents",
    "BCM-1": "continuity",
    "BCM-2": "continuity",
    "BCM-3": "continuity",
    "CMP-1": "compliance",
    "SUP-1": "suppliers",
    "SUP-2": "suppliers",
    "SUP-3": "suppliers",
}
MANUAL_FREQUENCY = {
    "POL-1": 365,
    "POL-2": 365,
    "ORG-1": 365,
    "HR-1": 365,
    "HR-2": 365,
    "HR-3": 180,
    "AST-1": 365,
    "AST-2": 180,
    "CRY-1": 365,
    "PHY-1": 365,
    "PHY-2": 365,
    "PHY-4": 365,
    "INC-1": 365,
    "BCM-1": 90,
    "BCM-3": 365,
    "CMP-1": 365,
    "SUP-1": 365,
    "SUP-2": 365,
    "SUP-3": 365,
}
# The keys the collectors use: key -> (collector, frequency_days).
COLLECTOR_REQUIREMENTS = {
    "ORG-2/advisories": ("advisories", 7),
    "ACC-1/firewall": ("firewall", 90),
    "ACC-2/accounts": ("accounts", 90),
    "ACC-3/accounts": ("accounts", 90),
    "ACC-4/password-policy": ("password-policy", 90),
    "CRY-2/disk-encryption": ("disk-encryption", 30),
    "CRY-3/tls": ("tls", 7),
    "PHY-3/backup": ("backup", 1),
    "OPS-1/anti-malware": ("anti-malware", 30),
    "OPS-2/patches": ("patches", 7),
    "OPS-3/availability": ("availability", 30),
    "OPS-4/hardening": ("hardening", 90),
    "COM-1/firewall-review": ("firewall", 90),
    "COM-2/firewall": ("firewall", 90),
    "BCM-1/backup": ("backup", 1),
    "BCM-2/backup-report": ("backup", 30),
}


@pytest.fixture(scope="module")
def catalogue() -> dict[str, CatalogueFile]:
    files = [read_catalogue_file(path) for path in builtin_catalogue_paths()]
    return {file.framework.key: file for file in files}


@pytest.fixture(scope="module")
def iso2022(catalogue: dict[str, CatalogueFile]) -> CatalogueFile:
    return catalogue["iso27001-2022"]


@pytest.fixture(scope="module")
def iso2013(catalogue: dict[str, CatalogueFile]) -> CatalogueFile:
    return catalogue["iso27001-2013"]


@pytest.fixture(scope="module")
def annex2(catalogue: dict[str, CatalogueFile]) -> CatalogueFile:
    return catalogue["annex2"]


def test_builtin_files_are_one_per_framework_and_valid_together(catalogue: dict[str, CatalogueFile]) -> None:
    assert {path.name for path in builtin_catalogue_paths()} == {
        "iso27001-2022.yaml",
        "iso27001-2013.yaml",
        "annex2.yaml",
    }
    assert set(catalogue) == {"iso27001-2022", "iso27001-2013", "annex2"}
    validate_catalogue(list(catalogue.values()))


class TestIso27001v2022:
    def test_has_93_controls_numbered_per_theme(self, iso2022: CatalogueFile) -> None:
        ids = [control.id for control in iso2022.annex_controls()]
        expected = [f"{theme}.{n}" for theme, size in THEME_SIZES_2022.items() for n in range(1, size + 1)]
        assert len(ids) == 93
        assert len(set(ids)) == 93
        assert ids == expected

    def test_themes(self, iso2022: CatalogueFile) -> None:
        assert [(group.key, group.title) for group in iso2022.groups if group.kind == "controls"] == [
            ("5", "Organizational controls"),
            ("6", "People controls"),
            ("7", "Physical controls"),
            ("8", "Technological controls"),
        ]
        for control in iso2022.annex_controls():
            assert control.group == control.id.split(".")[0], control.id

    def test_every_control_has_all_five_27002_attributes(self, iso2022: CatalogueFile) -> None:
        for control in iso2022.annex_controls():
            assert set(control.attributes) == set(ISO27002_ATTRIBUTES), control.id
            for name, values in control.attributes.items():
                assert values, (control.id, name)
                assert set(values) <= ISO27002_ATTRIBUTES[name], (control.id, name)

    @pytest.mark.parametrize(
        ("control_id", "title", "control_type"),
        [
            ("5.1", "Policies for information security", ["preventive"]),
            ("5.7", "Threat intelligence", ["preventive", "detective", "corrective"]),
            ("5.25", "Assessment and decision on information security events", ["detective"]),
            ("5.30", "ICT readiness for business continuity", ["corrective"]),
            ("6.8", "Information security event reporting", ["detective"]),
            ("7.4", "Physical security monitoring", ["preventive", "detective"]),
            ("8.13", "Information backup", ["corrective"]),
            ("8.16", "Monitoring activities", ["detective", "corrective"]),
            ("8.34", "Protection of information systems during audit testing", ["preventive"]),
        ],
    )
    def test_titles_and_control_types(
        self, iso2022: CatalogueFile, control_id: str, title: str, control_type: list[str]
    ) -> None:
        control = next(control for control in iso2022.annex_controls() if control.id == control_id)
        assert control.title == title
        assert control.attributes["control_type"] == control_type


class TestIso27001v2013:
    def test_has_114_controls_numbered_per_objective(self, iso2013: CatalogueFile) -> None:
        ids = [control.id for control in iso2013.annex_controls()]
        expected = [f"{objective}.{n}" for objective, size in OBJECTIVE_SIZES_2013.items() for n in range(1, size + 1)]
        assert len(ids) == 114
        assert len(set(ids)) == 114
        assert ids == expected

    def test_domains_a5_to_a18(self, iso2013: CatalogueFile) -> None:
        assert [group.key for group in iso2013.groups if group.kind == "controls"] == [f"A.{n}" for n in range(5, 19)]
        for control in iso2013.annex_controls():
            assert control.group == ".".join(control.id.split(".")[:2]), control.id

    @pytest.mark.parametrize(
        ("control_id", "title"),
        [
            ("A.5.1.1", "Policies for information security"),
            ("A.9.4.2", "Secure log-on procedures"),
            ("A.12.4.4", "Clock synchronisation"),
            ("A.18.2.3", "Technical compliance review"),
        ],
    )
    def test_titles(self, iso2013: CatalogueFile, control_id: str, title: str) -> None:
        assert next(control.title for control in iso2013.annex_controls() if control.id == control_id) == title


class TestAnnexBCorrespondence:
    def test_every_2013_control_has_a_2022_successor(self, iso2013: CatalogueFile) -> None:
        assert iso2013.framework.successor_framework == "iso27001-2022"
        assert [control.id for control in iso2013.annex_controls() if not control.successors] == []

    def test_exactly_the_11_new_controls_have_no_predecessor(
        self, iso2013: CatalogueFile, iso2022: CatalogueFile
    ) -> None:
        with_predecessor = {successor for control in iso2013.annex_controls() for successor in control.successors}
        assert {c.id for c in iso2022.annex_controls()} - with_predecessor == NEW_IN_2022

    @pytest.mark.parametrize(
        ("control_id", "successors"),
        [
            ("A.6.2.1", ["8.1"]),
            ("A.7.2.1", ["5.4"]),
            ("A.11.1.6", ["7.2"]),
            ("A.11.2.8", ["8.1"]),
            ("A.12.4.3", ["8.15"]),
            ("A.13.2.4", ["6.6"]),
            ("A.14.2.4", ["8.32"]),
            ("A.18.1.5", ["5.31"]),
            ("A.18.2.3", ["5.36", "8.8"]),
        ],
    )
    def test_table_b2_rows(self, iso2013: CatalogueFile, control_id: str, successors: list[str]) -> None:
        assert (
            next(control.successors for control in iso2013.annex_controls() if control.id == control_id) == successors
        )


class TestAnnex2:
    def test_the_34_measures_in_their_categories(self, annex2: CatalogueFile) -> None:
        assert {control.id: control.group for control in annex2.controls} == MEASURES
        assert len(annex2.controls) == 34
        assert len(annex2.groups) == 13

    def test_every_measure_has_dutch_and_english_text(self, annex2: CatalogueFile) -> None:
        for measure in annex2.controls:
            assert measure.text and measure.text_nl, measure.id
            assert measure.text != measure.text_nl, measure.id

    def test_dutch_text_is_the_seed_wording(self, annex2: CatalogueFile) -> None:
        texts = {measure.id: measure.text_nl for measure in annex2.controls}
        assert texts["HR-2"] == "Geheimhouding is opgenomen in de arbeidsovereenkomst."
        assert texts["SUP-2"] == "De hostingprovider voldoet aan norm ISO 27001:2013."

    def test_scope_note_in_both_languages(self, annex2: CatalogueFile) -> None:
        assert annex2.framework.scope_nl is not None
        assert annex2.framework.scope_nl.startswith("De beveiligingsmaatregelen worden toegepast op de in bijlage 1")
        assert annex2.framework.scope is not None
        assert "Annex 1" in annex2.framework.scope

    @pytest.mark.parametrize("edition", ["iso27001-2022", "iso27001-2013"])
    def test_every_measure_maps_to_both_editions_with_a_rationale(
        self, catalogue: dict[str, CatalogueFile], annex2: CatalogueFile, edition: str
    ) -> None:
        known = catalogue[edition].control_ids()
        for measure in annex2.controls:
            mappings = [mapping for mapping in measure.maps_to if mapping.framework == edition]
            assert mappings, (measure.id, edition)
            for mapping in mappings:
                assert mapping.id in known, (measure.id, mapping.id)
                assert mapping.rationale.strip(), (measure.id, mapping.id)

    def test_every_measure_has_a_requirement(self, annex2: CatalogueFile) -> None:
        for measure in annex2.controls:
            assert measure.requirements, measure.id
            for requirement in measure.requirements:
                assert requirement.owner_id == measure.id
                assert requirement.auditor_expects.strip()

    def test_collector_requirements_use_the_agreed_keys(self, annex2: CatalogueFile) -> None:
        collected = {
            requirement.key: (requirement.collector, requirement.frequency_days)
            for measure in annex2.controls
            for requirement in measure.requirements
            if not requirement.is_manual
        }
        assert collected == COLLECTOR_REQUIREMENTS

    def test_manual_requirements_follow_the_design_frequencies(self, annex2: CatalogueFile) -> None:
        manual = {
            measure.id: requirement.frequency_days
            for measure in annex2.controls
            for requirement in measure.requirements
            if requirement.is_manual
        }
        assert manual == MANUAL_FREQUENCY

    def test_grace_is_shorter_than_the_period(self, annex2: CatalogueFile) -> None:
        for measure in annex2.controls:
            for requirement in measure.requirements:
                assert 0 < requirement.grace_days <= max(1, requirement.frequency_days // 3), requirement.key

    def test_signoff_and_expiry_flags(self, annex2: CatalogueFile) -> None:
        requirements = [requirement for measure in annex2.controls for requirement in measure.requirements]
        assert {r.key for r in requirements if r.needs_signoff} == {
            "COM-1/firewall-review",
            "ORG-2/advisories",
            "ACC-2/accounts",
        }
        assert {r.key for r in requirements if r.tracks_expiry} == {"SUP-2/certificate", "SUP-3/certificate"}
        assert {r.key for r in requirements if r.evidence_kind == "certificate"} == {
            "SUP-2/certificate",
            "SUP-3/certificate",
        }


def test_requirement_keys_are_unique_across_the_catalogue(catalogue: dict[str, CatalogueFile]) -> None:
    keys = [
        requirement.key
        for file in catalogue.values()
        for control in file.controls
        for requirement in control.requirements
    ]
    assert len(keys) == len(set(keys))


# --- the requirement library and the ISMS clauses ------------------------------------------------

CLAUSES_BOTH = [
    "4.1",
    "4.2",
    "4.3",
    "4.4",
    "5.1",
    "5.2",
    "5.3",
    "6.1.1",
    "6.1.2",
    "6.1.3",
    "6.2",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "8.1",
    "8.2",
    "8.3",
    "9.1",
    "9.2",
    "9.3",
    "10.1",
    "10.2",
]
CLAUSES_BY_EDITION = {
    "iso27001-2022": sorted(["C." + c for c in [*CLAUSES_BOTH, "6.3"]]),
    "iso27001-2013": sorted("C." + c for c in CLAUSES_BOTH),
}
# The mandatory documented information an auditor asks for first, by clause: at least one
# requirement of the clause must name it (a word of the requirement's title).
MANDATORY = {
    "C.4.3": "scope",
    "C.5.2": "policy",
    "C.6.1.2": "risk assessment",
    "C.6.1.3": "statement of applicability",
    "C.6.2": "objectives",
    "C.7.2": "competence",
    "C.7.5": "documented information",
    "C.8.1": "operational",
    "C.8.2": "risk assessment results",
    "C.8.3": "risk treatment results",
    "C.9.1": "monitoring",
    "C.9.2": "internal audit",
    "C.9.3": "management review",
}


@pytest.mark.parametrize("framework", ["iso27001-2022", "iso27001-2013"])
def test_every_control_and_clause_has_a_requirement(catalogue: dict[str, CatalogueFile], framework: str) -> None:
    file = catalogue[framework]
    assert len(file.annex_controls()) == {"iso27001-2022": 93, "iso27001-2013": 114}[framework]
    for control in file.controls:
        assert control.requirements, f"{framework} {control.id} has no requirement"
        for requirement in control.requirements:
            assert len(requirement.auditor_expects) > 40, requirement.key


@pytest.mark.parametrize("framework", ["iso27001-2022", "iso27001-2013"])
def test_clauses_4_to_10_are_their_own_group_and_never_collide(
    catalogue: dict[str, CatalogueFile], framework: str
) -> None:
    file = catalogue[framework]
    assert sorted(c.id for c in file.clauses()) == CLAUSES_BY_EDITION[framework]
    assert {c.id for c in file.clauses()}.isdisjoint({c.id for c in file.annex_controls()})
    assert all(group.startswith("C.") for group in file.clause_groups())
    for clause, wording in MANDATORY.items():
        titles = " ".join(r.title.lower() for c in file.clauses() if c.id == clause for r in c.requirements)
        assert wording in titles, (framework, clause, titles)
    corrective = "C.10.2" if framework == "iso27001-2022" else "C.10.1"
    assert next(c.title for c in file.clauses() if c.id == corrective) == "Nonconformity and corrective action"


def test_amendment_2024_climate_sentences_are_noted(iso2022: CatalogueFile) -> None:
    texts = {c.id: c.text or "" for c in iso2022.clauses()}
    assert "climate change" in texts["C.4.1"] and "Amendment 1:2024" in texts["C.4.1"]
    assert "climate change" in texts["C.4.2"] and "Amendment 1:2024" in texts["C.4.2"]
