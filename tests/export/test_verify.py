"""Offline verification: an intact package passes; each kind of tampering is named."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from audit_portal.cli import app as cli
from audit_portal.export.signing import public_key_pem, signing_key
from audit_portal.export.verify import PackageUnreadable, report_lines, verify_package
from tests.export.conftest import rewrite_zip, write_package


@pytest.fixture
def package_file(session, settings, store, seeded, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "package.zip"
    package = write_package(session, settings, store, seeded.engagement, path)
    return path, package


@pytest.fixture
def portal_key(settings) -> bytes:  # type: ignore[no-untyped-def]
    return signing_key(settings).public_pem.encode("ascii")


def test_an_intact_package_verifies_with_the_portal_key(package_file, portal_key):
    path, package = package_file
    result = verify_package(path, portal_key)
    assert result.intact and result.key_source == "given"
    assert result.files_checked == package.file_count - 2  # all but manifest.json and manifest.sig
    assert report_lines(result)[0].startswith(f"intact: {result.files_checked} files")


def test_without_a_key_the_embedded_one_is_used_with_a_warning(package_file, settings):
    path, _ = package_file
    result = verify_package(path)
    assert result.intact and result.key_source == "embedded"
    assert result.key_fingerprint == signing_key(settings).fingerprint
    assert report_lines(result)[0].startswith("warning: checked with the public key embedded in the package")


def test_a_changed_evidence_file_is_named(package_file, portal_key, tmp_path, seeded):
    path, package = package_file
    target = package.contents.files[1].path
    tampered = tmp_path / "tampered.zip"
    rewrite_zip(path, tampered, replace={target: b"edited after export\n"})
    result = verify_package(tampered, portal_key)
    assert result.signature_valid
    assert [(p.kind, p.path) for p in result.problems] == [("changed", target)]
    assert report_lines(result)[0].startswith(f"NOT INTACT: {target}: differs from the manifest")


def test_a_missing_file_is_named(package_file, portal_key, tmp_path):
    path, package = package_file
    target = package.contents.files[-1].path
    tampered = tmp_path / "tampered.zip"
    rewrite_zip(path, tampered, drop={target})
    result = verify_package(tampered, portal_key)
    assert [(p.kind, p.path) for p in result.problems] == [("missing", target)]


def test_an_extra_file_is_named(package_file, portal_key, tmp_path):
    path, _ = package_file
    tampered = tmp_path / "tampered.zip"
    rewrite_zip(path, tampered, add={"controls/8.8/999-planted.txt": b"not from the portal"})
    result = verify_package(tampered, portal_key)
    assert [(p.kind, p.path) for p in result.problems] == [("extra", "controls/8.8/999-planted.txt")]


def test_a_changed_manifest_breaks_the_signature(package_file, portal_key, tmp_path):
    path, package = package_file
    import zipfile

    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    planted = package.contents.files[0].path
    # Cover up an edited file by rewriting its hash in the manifest.
    entry = next(e for e in manifest["files"] if e["path"] == planted)
    entry["sha256"], entry["size"] = "0" * 64, 5
    tampered = tmp_path / "tampered.zip"
    rewrite_zip(path, tampered, replace={"manifest.json": json.dumps(manifest).encode(), planted: b"fake!"})
    result = verify_package(tampered, portal_key)
    assert result.problems[0].kind == "signature"
    assert report_lines(result)[0].startswith("NOT INTACT: manifest.sig: bad signature")


def test_a_package_signed_by_another_key_fails_with_the_portal_key(package_file, tmp_path, portal_key):
    path, _ = package_file
    import zipfile

    with zipfile.ZipFile(path) as archive:
        manifest_bytes = archive.read("manifest.json")
    forger = Ed25519PrivateKey.generate()
    tampered = tmp_path / "tampered.zip"
    rewrite_zip(path, tampered, replace={"manifest.sig": forger.sign(manifest_bytes)})
    assert [p.kind for p in verify_package(tampered, portal_key).problems] == ["signature"]
    # With the forger's key the signature checks, but the manifest names the portal's key.
    forged = verify_package(tampered, public_key_pem(forger.public_key()).encode())
    assert forged.signature_valid and forged.declared_fingerprint != forged.key_fingerprint


def test_a_damaged_signature_file_is_a_bad_signature(package_file, portal_key, tmp_path):
    path, _ = package_file
    tampered = tmp_path / "tampered.zip"
    rewrite_zip(path, tampered, replace={"manifest.sig": b"\x00" * 64})
    assert [p.kind for p in verify_package(tampered, portal_key).problems] == ["signature"]


def test_something_that_is_no_package_is_refused_clearly(tmp_path, package_file, portal_key):
    not_zip = tmp_path / "notes.zip"
    not_zip.write_bytes(b"plain text")
    with pytest.raises(PackageUnreadable, match="not a readable ZIP archive"):
        verify_package(not_zip, portal_key)
    path, _ = package_file
    no_manifest = tmp_path / "no-manifest.zip"
    rewrite_zip(path, no_manifest, drop={"manifest.json"})
    with pytest.raises(PackageUnreadable, match="no manifest.json"):
        verify_package(no_manifest, portal_key)


# --- the command line ---------------------------------------------------------------------


def test_cli_verify_exits_0_with_a_summary_when_intact(package_file, portal_key, tmp_path):
    path, _ = package_file
    key_file = tmp_path / "portal.pem"
    key_file.write_bytes(portal_key)
    result = CliRunner().invoke(cli, ["package", "verify", str(path), "--public-key", str(key_file)])
    assert result.exit_code == 0, result.output
    assert "intact:" in result.output and "signature valid" in result.output
    assert "warning" not in result.output


def test_cli_verify_names_the_first_file_that_differs_and_exits_1(package_file, portal_key, tmp_path):
    path, package = package_file
    target = package.contents.files[0].path
    tampered = tmp_path / "tampered.zip"
    rewrite_zip(path, tampered, replace={target: b"changed"})
    key_file = tmp_path / "portal.pem"
    key_file.write_bytes(portal_key)
    result = CliRunner().invoke(cli, ["package", "verify", str(tampered), "--public-key", str(key_file)])
    assert result.exit_code == 1
    assert f"NOT INTACT: {target}: differs" in result.output


def test_cli_verify_without_a_key_warns_about_authenticity(package_file):
    path, _ = package_file
    result = CliRunner().invoke(cli, ["package", "verify", str(path)])
    assert result.exit_code == 0
    assert "embedded in the package" in result.output


def test_the_verifier_inside_the_package_runs_on_its_own(package_file, tmp_path, portal_key):
    import subprocess
    import sys
    import zipfile

    path, _ = package_file
    with zipfile.ZipFile(path) as archive:
        (tmp_path / "verify.py").write_bytes(archive.read("verify.py"))
    (tmp_path / "portal.pem").write_bytes(portal_key)
    # Run from the temp folder with -I, so nothing of the portal can be imported.
    completed = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "verify.py"), str(path), "--public-key", str(tmp_path / "portal.pem")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("intact:")
