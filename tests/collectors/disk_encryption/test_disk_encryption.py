from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from collectors.base import Collector, CollectorError, Severity
from collectors.disk_encryption import DiskEncryptionCollector, parsers
from collectors.runner import execute
from tests.collectors.part3 import RECORDINGS, context, raw_members

DISK = RECORDINGS / "disk-encryption"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def dropped(tmp_path: Path, recording: str, age: timedelta = timedelta(hours=2)) -> str:
    """A copy of a recording as a device drops its report, ``age`` old."""
    target = tmp_path / "reports" / recording
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DISK / recording, target)
    stamp = (NOW - age).timestamp()
    os.utime(target, (stamp, stamp))
    return str(target)


class TestParsers:
    def test_lsblk_on_the_build_machine_root_is_unencrypted(self) -> None:
        volumes = parsers.parse_lsblk((DISK / "lsblk-vm.json").read_text())
        assert [(v.name, v.mountpoint, v.role, v.encrypted) for v in volumes] == [("vda", "/", "system", False)]

    def test_lsblk_luks_under_lvm_counts_as_encrypted(self) -> None:
        volumes = parsers.parse_lsblk((DISK / "lsblk-laptop.json").read_text())
        assert [(v.mountpoint, v.role, v.encrypted, v.mapping) for v in volumes] == [
            ("/boot/efi", "boot", False, None),
            ("/boot", "boot", False, None),
            ("/", "system", True, "nvme0n1p3_crypt"),
            ("[SWAP]", "swap", True, "nvme0n1p3_crypt"),
            ("/srv/data", "data", False, None),
        ]

    def test_lsblk_mountpoints_list_and_pseudo_filesystems(self) -> None:
        text = json.dumps(
            {
                "blockdevices": [
                    {"name": "loop3", "type": "loop", "fstype": "squashfs", "mountpoints": ["/snap/core/1"]},
                    {"name": "sdb", "type": "disk", "fstype": "ext4", "mountpoints": ["/mnt/a", "/mnt/b", None]},
                ]
            }
        )
        assert [(v.mountpoint, v.encrypted) for v in parsers.parse_lsblk(text)] == [
            ("/mnt/a", False),
            ("/mnt/b", False),
        ]

    @pytest.mark.parametrize("text", ["", "{}", '{"blockdevices": 3}', '{"blockdevices": [{"x": 1}]}'])
    def test_lsblk_garbage_is_refused(self, text: str) -> None:
        with pytest.raises(parsers.ParseError):
            parsers.parse_lsblk(text)

    def test_cryptsetup_status(self) -> None:
        fields = parsers.parse_cryptsetup_status((DISK / "cryptsetup-status-laptop.txt").read_text())
        assert fields["type"] == "LUKS2" and fields["cipher"] == "aes-xts-plain64"
        assert fields["device"] == "/dev/nvme0n1p3"

    def test_cryptsetup_error_output_is_not_status(self) -> None:
        with pytest.raises(parsers.ParseError):
            parsers.parse_cryptsetup_status((DISK / "cryptsetup-status-unavailable.stderr").read_text())

    def test_manage_bde(self) -> None:
        volumes = parsers.parse_manage_bde((DISK / "manage-bde-status.txt").read_text())
        assert [(v.name, v.role, v.encrypted, v.protection_on) for v in volumes] == [
            ("C:", "system", True, True),
            ("D:", "data", False, False),
        ]

    def test_bitlocker_json_list_and_single_object(self) -> None:
        text = (DISK / "get-bitlockervolume.json").read_text()
        volumes = parsers.parse_bitlocker_json(text)
        assert [(v.name, v.role, v.encrypted, v.protection_on) for v in volumes] == [
            ("C:", "system", True, True),
            ("E:", "removable", False, False),
        ]
        single = json.dumps({**json.loads(text)[0], "ProtectionStatus": "Off", "VolumeStatus": "FullyEncrypted"})
        [volume] = parsers.parse_bitlocker_json(single)
        assert (volume.encrypted, volume.protection_on) == (True, False)

    @pytest.mark.parametrize(
        ("recording", "encrypted"),
        [
            ("fdesetup-status-on.txt", True),
            ("fdesetup-status-off.txt", False),
            ("fdesetup-status-encrypting.txt", False),
        ],
    )
    def test_fdesetup(self, recording: str, encrypted: bool) -> None:
        [volume] = parsers.parse_fdesetup((DISK / recording).read_text())
        assert volume.encrypted is encrypted

    def test_intune_export(self) -> None:
        devices = parsers.parse_intune_csv(
            (DISK / "intune-devices.csv").read_text(),
            {
                "name": "Device name",
                "os": "OS",
                "encrypted": "Encrypted",
                "last_check_in": "Last check-in",
                "compliance": "Compliance",
                "user": "Primary user UPN",
            },
        )
        assert [(d.name, d.encrypted) for d in devices] == [
            ("LT-0142", True),
            ("LT-0157", True),
            ("LT-0163", False),
            ("DT-0021", True),
        ]
        assert devices[0].last_check_in == datetime(2026, 11, 27, 8, 14, 2, tzinfo=UTC)

    def test_intune_export_without_the_encrypted_column_is_refused(self) -> None:
        with pytest.raises(parsers.ParseError, match="Encrypted"):
            parsers.parse_intune_csv(
                "Device name,OS\nLT-1,Windows\n",
                {
                    "name": "Device name",
                    "os": "OS",
                    "encrypted": "Encrypted",
                    "last_check_in": "Last check-in",
                    "compliance": "Compliance",
                    "user": "Primary user UPN",
                },
            )


def fleet_config(tmp_path: Path) -> dict:
    return {
        "inventory": ["laptop-7", "vm-build", "LT-0142", "LT-0157", "LT-0163", "DT-0021", "LT-0200", "WS-09"],
        "sources": [
            {
                "type": "linux",
                "device": "laptop-7",
                "path": dropped(tmp_path, "lsblk-laptop.json"),
                "cryptsetup_status": {"nvme0n1p3_crypt": str(DISK / "cryptsetup-status-laptop.txt")},
            },
            {"type": "linux", "device": "vm-build", "path": dropped(tmp_path, "lsblk-vm.json")},
            {"type": "manage-bde", "device": "WS-09", "path": dropped(tmp_path, "manage-bde-status.txt")},
            {"type": "intune-csv", "name": "intune", "path": str(DISK / "intune-devices.csv")},
        ],
    }


class TestCollect:
    def test_protocol(self) -> None:
        assert isinstance(DiskEncryptionCollector(), Collector)
        assert DiskEncryptionCollector.requirements == ("CRY-2/disk-encryption",)

    def test_fleet_findings_and_artifacts(self, tmp_path: Path) -> None:
        collector = DiskEncryptionCollector()
        result = collector.collect(context(collector, fleet_config(tmp_path), tmp_path / "w", now=NOW))
        found = {f.key: f.severity for f in result.findings}
        assert found == {
            "unencrypted-volume:laptop-7:/srv/data": Severity.high,
            "unencrypted-volume:vm-build:/": Severity.high,
            "unencrypted-volume:WS-09:D:": Severity.high,
            "unencrypted-volume:LT-0163:device": Severity.high,
            "no-encryption-report:DT-0021": Severity.medium,  # last MDM check-in in September
            "no-encryption-report:LT-0200": Severity.medium,  # never reported
        }
        raw, normalised, report = result.artifacts
        assert (raw.kind, normalised.kind, report.kind) == ("raw", "normalised", "report")
        members = raw_members(raw.path)  # type: ignore[arg-type]
        assert members["laptop-7/linux/lsblk-laptop.json"] == (DISK / "lsblk-laptop.json").read_bytes()
        assert members["intune/intune-csv/intune-devices.csv"] == (DISK / "intune-devices.csv").read_bytes()
        data = json.loads(normalised.data)  # type: ignore[arg-type]
        assert data["devices"]["laptop-7"]["dm_crypt"]["nvme0n1p3_crypt"]["cipher"] == "aes-xts-plain64"
        assert data["summary"]["inventory_without_report"] == ["LT-0200"]
        html = report.data.decode()  # type: ignore[union-attr]
        assert "vm-build" in html and "/srv/data" in html and "LT-0200" in html

    def test_stale_dropped_report_counts_as_missing(self, tmp_path: Path) -> None:
        config = {
            "inventory": ["laptop-7"],
            "sources": [
                {
                    "type": "linux",
                    "device": "laptop-7",
                    "path": dropped(tmp_path, "lsblk-laptop.json", age=timedelta(days=31)),
                }
            ],
        }
        collector = DiskEncryptionCollector()
        result = collector.collect(context(collector, config, tmp_path / "w", now=NOW))
        assert "no-encryption-report:laptop-7" in {f.key for f in result.findings}

    def test_allowed_unencrypted_is_configurable_and_diff_closes(self, tmp_path: Path) -> None:
        collector = DiskEncryptionCollector()
        config = {"sources": [{"type": "linux", "device": "laptop-7", "path": str(DISK / "lsblk-laptop.json")}]}
        first = collector.collect(context(collector, config, tmp_path / "a", now=NOW))
        assert [f.key for f in first.findings] == ["unencrypted-volume:laptop-7:/srv/data"]
        config["allowed_unencrypted"] = ["/boot", "/boot/efi", "/srv/data"]
        second = collector.collect(
            context(collector, config, tmp_path / "b", now=NOW + timedelta(days=1), previous=first.normalised)
        )
        assert second.findings == []
        assert second.normalised["diff"]["findings_closed"] == ["unencrypted-volume:laptop-7:/srv/data"]

    def test_bitlocker_suspended_protection(self, tmp_path: Path) -> None:
        document = json.loads((DISK / "get-bitlockervolume.json").read_text())
        document[0]["ProtectionStatus"] = 0
        report = tmp_path / "lt.json"
        report.write_text(json.dumps(document))
        collector = DiskEncryptionCollector()
        config = {
            "sources": [{"type": "bitlocker-json", "device": "LT-0142", "path": str(report)}],
            "removable_must_be_encrypted": True,
        }
        result = collector.collect(context(collector, config, tmp_path / "w", now=NOW))
        assert {f.key for f in result.findings} == {"encryption-suspended:LT-0142:C:", "unencrypted-volume:LT-0142:E:"}

    def test_local_lsblk_runs_on_this_machine(self, tmp_path: Path) -> None:
        if shutil.which("lsblk") is None:
            pytest.skip("lsblk (util-linux) is not installed")
        config = DiskEncryptionCollector.Config.model_validate({"sources": [{"type": "linux", "device": "here"}]})
        outcome = execute(
            DiskEncryptionCollector(), config, instance_name="here", now=datetime.now(UTC), timeout_seconds=60
        )
        assert outcome.ok, outcome.error
        assert outcome.result is not None and "here" in outcome.result.normalised["devices"]
        outcome.discard_workdir()

    def test_unreadable_input_fails_the_run(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.json"
        bad.write_text("lsblk: failed to access sysfs directory")
        collector = DiskEncryptionCollector()
        with pytest.raises(CollectorError, match="bad.json"):
            collector.collect(
                context(
                    collector,
                    {"sources": [{"type": "linux", "device": "x", "path": str(bad)}]},
                    tmp_path / "w",
                    now=NOW,
                )
            )

    @pytest.mark.parametrize(
        "config",
        [
            {"sources": []},
            {"sources": [{"type": "linux", "device": "x", "command": ["sh", "-c", "id"]}]},
            {"sources": [{"type": "linux", "device": "a b"}]},
            {"sources": [{"type": "linux", "device": "x"}, {"type": "fdesetup", "device": "x"}]},
            {"sources": [{"type": "intune-csv", "name": "m"}]},
        ],
    )
    def test_bad_config_is_refused(self, config: dict) -> None:
        with pytest.raises(ValidationError):
            DiskEncryptionCollector.Config.model_validate(config)
