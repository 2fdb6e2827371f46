"""The engagement's samples travel in the evidence package: the sample sheet as XLSX and as
JSON, listed and hashed in the signed manifest, and the package still verifies."""

from __future__ import annotations

import io
import json
import zipfile

from openpyxl import load_workbook

from audit_portal.config import Settings
from audit_portal.engagements import sampling
from audit_portal.export.signing import signing_key
from audit_portal.export.verify import verify_package
from audit_portal.principals import Actor, Principal
from tests.export.conftest import assign, write_package


def test_a_tested_sample_is_in_the_package_and_the_package_verifies(
    session, settings, store, seeded, make_user, tmp_path
):
    auditor = make_user("auditor")
    assign(session, seeded.engagement, auditor.id)
    principal = Principal(role="auditor", username=auditor.username, user_id=auditor.id)
    engagement_id = seeded.engagement.id
    sample = sampling.draw(
        session,
        actor=Actor(principal),
        engagement_id=engagement_id,
        form=sampling.SampleForm(subject="OPS-2/patches", seed="42"),
        sizes=Settings(environment="test").sample_sizes,
    )
    item = seeded.patches_v1.id
    sampling.record_result(
        session,
        actor=Actor(principal),
        engagement_id=engagement_id,
        sample_id=sample.id,
        item_id=item,
        result="exception",
        note="Report shows two hosts unpatched.",
    )
    # the corrected report is linked to the requirement too: the second occurrence
    sampling.record_result(
        session,
        actor=Actor(principal),
        engagement_id=engagement_id,
        sample_id=sample.id,
        item_id=seeded.patches_v2.id,
        result="effective",
        note="",
    )
    sampling.conclude(
        session,
        actor=Actor(principal),
        engagement_id=engagement_id,
        sample_id=sample.id,
        conclusion="not_effective",
        note="One of the two reports has an exception.",
    )

    path = tmp_path / "package.zip"
    write_package(session, settings, store, seeded.engagement, path)
    name = f"samples/sample-{sample.id}"
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert listed[f"{name}.xlsx"]["kind"] == listed[f"{name}.json"]["kind"] == "report"

    result = verify_package(path, signing_key(settings).public_pem.encode("ascii"))
    assert result.intact and not result.problems
    with zipfile.ZipFile(path) as archive:
        carried = json.loads(archive.read(f"{name}.json"))
        sheet = load_workbook(io.BytesIO(archive.read(f"{name}.xlsx"))).active
        readme = archive.read("README.txt").decode()
    assert carried["requirement"] == "OPS-2/patches" and carried["seed"] == "42"
    assert carried["population_size"] == 2 and carried["size_rule"].startswith("weekly (every 7 days): 5 to 15")
    assert carried["conclusion"] == "not_effective"
    results = {i["occurrence"]: (i["result"], i["note"]) for i in carried["items"]}
    assert results == {
        item: ("exception", "Report shows two hosts unpatched."),
        seeded.patches_v2.id: ("effective", None),
    }
    rows = {sheet.cell(row, 2).value: sheet.cell(row, 7).value for row in (18, 19)}
    assert sheet.cell(1, 2).value == sample.id and rows == {item: "Exception", seeded.patches_v2.id: "Effective"}
    assert "samples/" in readme and "(1 here)" in readme
