"""What every command of the ``audit-portal`` CLI shares: the consoles, settings loading that
exits with one clear line, and the failure exit. A leaf module, so the domain command groups use
it without importing the CLI that assembles them."""

from __future__ import annotations

import typer
from rich.console import Console

from audit_portal.config import Settings, SettingsError, load_settings

console = Console()
err_console = Console(stderr=True)


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.ensure_secret_key()
        return settings
    except SettingsError as error:
        err_console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
