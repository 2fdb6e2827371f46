from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from collectors.patches.models import ParseError
from collectors.patches.parsers import (
    parse_apt_get_simulate,
    parse_apt_history,
    parse_apt_list_upgradable,
    parse_dpkg_log,
    parse_hotfix_csv,
    parse_unattended_upgrades_log,
)
from collectors.patches.sources import RawInput, decode_text

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"


def recorded(name: str) -> str:
    return (RECORDINGS / "apt" / name).read_text(encoding="utf-8")


class TestAptHistory:
    def test_recorded_install_upgrade_and_remove(self) -> None:
        transactions = parse_apt_history(recorded("history.log"))
        by_command = {t.commandline: t for t in transactions}

        install = by_command["apt-get -o DPkg::Lock::Timeout=600 install -y hello"]
        assert install.started == datetime(2026, 11, 28, 10, 51, 47)
        assert install.ended == datetime(2026, 11, 28, 10, 51, 49)
        assert [(c.action, c.package, c.arch, c.version) for c in install.changes] == [
            ("install", "hello", "amd64", "2.10-3")
        ]
        upgrade = by_command["apt-get -o DPkg::Lock::Timeout=600 install -y --only-upgrade jq"]
        assert [(c.action, c.package, c.old_version, c.version) for c in upgrade.changes] == [
            ("upgrade", "jq", "1.6-2.1+deb12u1", "1.6-2.1+deb12u3"),
            ("upgrade", "libjq1", "1.6-2.1+deb12u1", "1.6-2.1+deb12u3"),
        ]
        remove = by_command["apt-get -o DPkg::Lock::Timeout=600 remove -y hello"]
        assert [(c.action, c.package, c.version) for c in remove.changes] == [("remove", "hello", "2.10-3")]
        unattended = by_command["apt-get -o DPkg::Lock::Timeout=600 install -y unattended-upgrades"]
        assert [(c.package, c.automatic) for c in unattended.changes] == [
            ("python3-distro-info", True),
            ("unattended-upgrades", False),
        ]

    def test_dry_run_entries_are_marked_simulated(self) -> None:
        transactions = parse_apt_history(recorded("history.log"))
        simulated = [t for t in transactions if t.simulated]
        assert simulated
        assert all(t.commandline == "/usr/bin/unattended-upgrade --dry-run -v" for t in simulated)
        assert not any(t.simulated for t in transactions if "--dry-run" not in t.commandline)

    def test_empty_input(self) -> None:
        assert parse_apt_history("") == []
        assert parse_apt_history("\n\n") == []

    def test_requested_by_error_and_missing_end_date(self) -> None:
        text = (
            "Start-Date: 2026-01-05  08:00:01\n"
            'Commandline: apt-get install "my pkg" --reinstall\n'
            "Requested-By: Jan de Vries (1000)\n"
            "Reinstall: curl:amd64 (7.88.1-10+deb12u14)\n"
            "Purge: old-tool:amd64 (1.0)\n"
            "Downgrade: libfoo1:amd64 (2.0, 1.9)\n"
            "Error: Sub-process /usr/bin/dpkg returned an error code (1)\n"
            "End-Date: 2026-01-05  08:00:09\n"
            "\n"
            "Start-Date: 2026-01-06  09:00:00\n"
            "Commandline: apt-get upgrade\n"
            "Upgrade: bash:amd64 (5.2.15-2+b8, 5.2.15-2+b13)\n"
        )
        first, second = parse_apt_history(text)
        assert first.requested_by == "Jan de Vries (1000)"
        assert first.commandline == 'apt-get install "my pkg" --reinstall'
        assert first.error.startswith("Sub-process")
        assert [(c.action, c.old_version, c.version) for c in first.changes] == [
            ("reinstall", None, "7.88.1-10+deb12u14"),
            ("purge", None, "1.0"),
            ("downgrade", "2.0", "1.9"),
        ]
        assert second.ended is None
        assert second.changes[0].version == "5.2.15-2+b13"

    def test_truncated_package_list_names_the_line(self) -> None:
        text = recorded("history.log").splitlines()[:5]
        text[-1] = "Upgrade: libsystemd0:amd64 (252.36-1~deb12u1, 252.3"
        with pytest.raises(ParseError, match=r"line 5: cannot parse the Upgrade package list"):
            parse_apt_history("\n".join(text))

    def test_line_that_is_not_a_field(self) -> None:
        with pytest.raises(ParseError, match="line 2: expected 'Key: value'"):
            parse_apt_history("Start-Date: 2026-01-05  08:00:01\ngarbage\n")

    def test_field_before_start(self) -> None:
        with pytest.raises(ParseError, match="line 1: Commandline before any Start-Date"):
            parse_apt_history("Commandline: apt-get upgrade\n")


class TestDpkgLog:
    def test_recorded_changes(self) -> None:
        events = parse_dpkg_log(recorded("dpkg.log"))
        hello = [(e.action, e.old_version, e.new_version) for e in events if e.package == "hello"]
        assert hello == [("install", None, "2.10-3"), ("remove", "2.10-3", None)]
        jq = [e for e in events if e.package == "jq" and e.action == "upgrade"]
        assert [(e.arch, e.old_version, e.new_version) for e in jq] == [("amd64", "1.6-2.1+deb12u1", "1.6-2.1+deb12u3")]
        assert {e.action for e in events} <= {"install", "upgrade", "remove", "purge"}

    def test_empty_input(self) -> None:
        assert parse_dpkg_log("") == []

    def test_truncated_last_line(self) -> None:
        lines = recorded("dpkg.log").splitlines()[:3]
        lines.append("2026-11-28 10:5")
        with pytest.raises(ParseError, match="line 4: not a dpkg log line"):
            parse_dpkg_log("\n".join(lines))

    def test_change_line_with_missing_version(self) -> None:
        with pytest.raises(ParseError, match="line 1: upgrade line needs"):
            parse_dpkg_log("2026-11-28 10:51:50 upgrade jq:amd64 1.6-2.1+deb12u1\n")


class TestAptListUpgradable:
    def test_recorded(self) -> None:
        updates = {u.package: u for u in parse_apt_list_upgradable(recorded("apt-list-upgradable.txt"))}
        assert len(updates) == 124
        assert sum(u.security for u in updates.values()) == 73
        apt = updates["apt"]
        assert (apt.version, apt.current_version, apt.arch, apt.archives, apt.security) == (
            "2.6.2",
            "2.6.1",
            "amd64",
            ("oldstable-security",),
            True,
        )
        assert updates["krb5-locales"].archives == ("oldstable", "oldstable-security")
        assert updates["krb5-locales"].security
        assert not updates["bash"].security

    def test_header_only_is_nothing_pending(self) -> None:
        assert parse_apt_list_upgradable("Listing...\n") == []

    @pytest.mark.parametrize("text", ["", "\n", "bash/oldstable 5.2.15-2+b13 amd64 [upgradable from: 5.2.15-2+b8]\n"])
    def test_without_listing_header_is_incomplete(self, text) -> None:
        # apt always prints "Listing..." first: without it the output is empty or cut off,
        # and must not read as "nothing pending"
        with pytest.raises(ParseError, match="no 'Listing...' header"):
            parse_apt_list_upgradable(text)

    def test_unrecognised_line(self) -> None:
        with pytest.raises(ParseError, match="line 2: not an 'apt list --upgradable' line"):
            parse_apt_list_upgradable("Listing...\nbash/oldstable 5.2.15-2+b13 amd64 [upgradable\n")


class TestAptGetSimulate:
    def test_recorded_matches_apt_list(self) -> None:
        simulated = {u.package: u for u in parse_apt_get_simulate(recorded("apt-get-s-upgrade.txt"))}
        listed = {u.package: u for u in parse_apt_list_upgradable(recorded("apt-list-upgradable.txt"))}
        # base-files has two Inst lines in the recording; it is counted once
        assert set(simulated) == set(listed)
        assert {p for p, u in simulated.items() if u.security} == {p for p, u in listed.items() if u.security}
        gcrypt = simulated["libgcrypt20-dev"]
        assert gcrypt.current_version == "1.10.1-3"
        assert gcrypt.archives == ("oldstable", "oldstable-security")

    def test_new_install_without_old_version(self) -> None:
        text = (
            "0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n"
            "Inst linux-image-6.1.0-30-amd64 (6.1.124-1 Debian-Security:12/stable-security [amd64])\n"
        )
        (update,) = parse_apt_get_simulate(text)
        assert update.current_version is None
        assert update.security

    def test_nothing_to_upgrade(self) -> None:
        text = "Reading package lists...\nCalculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
        assert parse_apt_get_simulate(text) == []

    def test_recorded_output_cut_off_in_the_inst_lines(self) -> None:
        # the real recording cut after 60 lines: the summary says 124, 19 Inst lines follow
        text = recorded("apt-get-s-upgrade.truncated.txt")
        with pytest.raises(ParseError, match=r"announces 124 package\(s\).*but 19 Inst line\(s\)"):
            parse_apt_get_simulate(text)

    @pytest.mark.parametrize("lines", [0, 3, 28])
    def test_recorded_output_cut_before_the_summary(self, lines) -> None:
        text = "\n".join(recorded("apt-get-s-upgrade.txt").splitlines()[:lines])
        with pytest.raises(ParseError, match="no 'N upgraded, M newly installed, ...' summary"):
            parse_apt_get_simulate(text)

    def test_removals_are_counted_too(self) -> None:
        text = "0 upgraded, 0 newly installed, 2 to remove and 0 not upgraded.\nRemv hello [2.10-3]\n"
        with pytest.raises(ParseError, match="announces 2 removal"):
            parse_apt_get_simulate(text)

    def test_apt_error(self) -> None:
        with pytest.raises(ParseError, match="apt-get reported an error: Could not get lock"):
            parse_apt_get_simulate("E: Could not get lock /var/lib/dpkg/lock-frontend\n")


class TestUnattendedUpgrades:
    def test_recorded_dry_run(self) -> None:
        (run,) = parse_unattended_upgrades_log(recorded("unattended-upgrades.log"))
        assert run.started == datetime(2026, 11, 28, 10, 51, 57)
        assert run.dry_run
        assert run.outcome == "installed"
        assert len(run.packages) == 124
        assert "openssh-client" in run.packages

    def test_failed_run_with_traceback_and_nothing_to_do(self) -> None:
        text = (
            "2026-10-01 06:10:01,100 INFO Starting unattended upgrades script\n"
            "2026-10-01 06:10:05,200 ERROR Installing the upgrades failed!\n"
            "Traceback (most recent call last):\n"
            '  File "/usr/bin/unattended-upgrade", line 1, in <module>\n'
            "2026-10-02 06:10:01,100 INFO Starting unattended upgrades script\n"
            "2026-10-02 06:10:03,100 INFO No packages found that can be upgraded unattended and no pending auto-removals\n"
        )
        failed, quiet = parse_unattended_upgrades_log(text)
        assert failed.outcome == "failed"
        assert failed.errors == ["Installing the upgrades failed!"]
        assert quiet.outcome == "nothing-to-do"
        assert not quiet.dry_run

    def test_empty(self) -> None:
        assert parse_unattended_upgrades_log("") == []

    def test_foreign_text(self) -> None:
        with pytest.raises(ParseError, match="line 1: not an unattended-upgrades log line"):
            parse_unattended_upgrades_log("Start-Date: 2026-01-05  08:00:01\n")


class TestHotfixCsv:
    def recorded_text(self) -> str:
        path = RECORDINGS / "windows" / "get-hotfix.csv"
        data = path.read_bytes()
        return decode_text(RawInput("WEB01", "hotfix-csv", str(path), data), data)

    def test_recorded_utf16_sample(self) -> None:
        hotfixes = parse_hotfix_csv(self.recorded_text())
        assert [h.hotfix_id for h in hotfixes] == [
            "KB5005112",
            "KB4589208",
            "KB5043050",
            "KB5044089",
            "KB5046615",
        ]
        newest = hotfixes[-1]
        assert newest.installed_on == datetime(2026, 11, 13)
        assert newest.security and newest.computer == "WEB01"
        assert newest.installed_by == "NT AUTHORITY\\SYSTEM"
        assert hotfixes[3].installed_on is None
        assert not hotfixes[1].security

    def test_culture_specific_date_format(self) -> None:
        text = '"HotFixID","Description","InstalledBy","InstalledOn","CSName"\n"KB1","Update","","13-11-2026 00:00:00","NL01"\n'
        (hotfix,) = parse_hotfix_csv(text, ["%d-%m-%Y %H:%M:%S"])
        assert hotfix.installed_on == datetime(2026, 11, 13)

    def test_unknown_date_format(self) -> None:
        text = '"HotFixID","Description","InstalledBy","InstalledOn"\n"KB1","Update","","13.11.2026"\n'
        with pytest.raises(ParseError, match="line 2: InstalledOn '13.11.2026' matches none"):
            parse_hotfix_csv(text)

    def test_type_line_and_empty(self) -> None:
        assert parse_hotfix_csv("") == []
        text = '#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_QuickFixEngineering\n"HotFixID","Description","InstalledBy","InstalledOn"\n'
        assert parse_hotfix_csv(text) == []

    def test_not_hotfix_csv(self) -> None:
        with pytest.raises(ParseError, match="missing column"):
            parse_hotfix_csv('"Name","Value"\n"a","b"\n')

    def test_row_cut_between_fields(self) -> None:
        lines = self.recorded_text().splitlines()
        cut = lines[2][: lines[2].index(',"CIM_LogicalElement"')]
        with pytest.raises(ParseError, match="line 3: row has a different number of fields"):
            parse_hotfix_csv("\n".join([*lines[:2], cut]))

    def test_row_cut_inside_a_quoted_field(self) -> None:
        lines = self.recorded_text().splitlines()
        with pytest.raises(ParseError, match="malformed CSV after line 2: unexpected end of data"):
            parse_hotfix_csv("\n".join([*lines[:2], lines[2][:40]]))
