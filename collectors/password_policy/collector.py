"""The password-policy collector (ACC-4): the enforced password settings of each system,
compared with the organisation's standard."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from collectors.artifacts import (
    finding_changes,
    findings_summary,
    most_severe_first,
    report_environment,
    severity_counts,
    standard_artifacts,
)
from collectors.base import CollectContext, CollectorError, CollectResult, FindingDraft
from collectors.password_policy import parsers
from collectors.password_policy.analysis import compare
from collectors.password_policy.config import (
    AwsAccount,
    LinuxSystem,
    PasswordPolicyConfig,
    WindowsSystem,
)
from collectors.password_policy.sources import account_password_policy, read_text

_templates = report_environment(Path(__file__).parent)


def _parsed(origin: str, parse: Callable[[], parsers.Settings]) -> parsers.Settings:
    try:
        return parse()
    except parsers.ParseError as error:
        raise CollectorError(f"{origin}: {error}") from None


class PasswordPolicyCollector:
    name: ClassVar[str] = "password-policy"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[PasswordPolicyConfig]] = PasswordPolicyConfig
    default_schedule: ClassVar[str] = "0 5 1 * *"  # monthly; ACC-4's frequency is 90 days
    requirements: ClassVar[tuple[str, ...]] = ("ACC-4/password-policy",)

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: PasswordPolicyConfig = ctx.config
        raw: list[tuple[str, bytes]] = []
        systems: dict[str, dict[str, Any]] = {}
        findings: list[FindingDraft] = []
        for system in config.systems:
            ctx.log.info("reading the password policy of %s (%s)", system.name, system.type)
            if isinstance(system, LinuxSystem):
                settings = self._linux(system, raw)
            elif isinstance(system, AwsAccount):
                data = account_password_policy(system)
                raw.append((f"{system.name}/password-policy.json", data))
                settings = _parsed(f"aws {system.name}", partial(parsers.aws_settings, data.decode()))
            else:
                settings = self._windows(system, raw)
            summary, found = compare(system.name, settings, config.standard)
            systems[system.name] = {"type": system.type, **summary}
            findings += found
        findings = most_severe_first(findings)
        normalised = {
            "collector": self.name,
            "collector_version": self.version,
            "instance": ctx.instance_name,
            "collected_at": ctx.now.isoformat(),
            "requirements": list(self.requirements),
            "standard": config.standard.model_dump(),
            "systems": systems,
            "findings": findings_summary(findings),
            "summary": {"systems": len(systems), "findings": severity_counts(findings)},
            "changes": finding_changes(ctx.previous, findings),
        }
        report = _templates.get_template("report.html.j2").render(
            instance=ctx.instance_name, summary=normalised, findings=findings
        )
        return CollectResult(normalised, standard_artifacts(self.name, ctx.now, raw, normalised, report), findings)

    def _linux(self, system: LinuxSystem, raw: list[tuple[str, bytes]]) -> parsers.Settings:
        texts = {}
        for field_name in ("login_defs", "pam_password", "pam_auth", "pwquality_conf", "faillock_conf"):
            path: Path = getattr(system, field_name)
            data, text = read_text(path)
            raw.append((f"{system.name}/{field_name}", data))
            texts[field_name] = (str(path), text)

        def parse() -> parsers.Settings:
            try:
                return parsers.linux_settings(*(text for _, text in texts.values()))
            except parsers.ParseError as error:
                raise parsers.ParseError(
                    f"{error} (in one of {', '.join(origin for origin, _ in texts.values())})"
                ) from None

        return _parsed(system.name, parse)

    def _windows(self, system: WindowsSystem, raw: list[tuple[str, bytes]]) -> parsers.Settings:
        settings: parsers.Settings | None = None
        if system.secedit is not None:
            data, text = read_text(system.secedit)
            raw.append((f"{system.name}/secedit.inf", data))
            settings = _parsed(str(system.secedit), lambda: parsers.windows_secedit(text))
        if system.net_accounts is not None:
            data, text = read_text(system.net_accounts)
            raw.append((f"{system.name}/net-accounts.txt", data))
            from_net = _parsed(str(system.net_accounts), lambda: parsers.windows_net_accounts(text))
            if settings is None:
                settings = from_net
            else:  # secedit is more complete (complexity); net accounts fills what it lacks
                for name, source in from_net.sources.items():
                    if name not in settings.sources:
                        settings.set(name, getattr(from_net, name), source)
        assert settings is not None  # the config requires one of the two
        return settings
