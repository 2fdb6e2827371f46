"""Dates, times and numbers as each language writes them; stored UTC shown as local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timezone

import pytest

from audit_portal import i18n
from audit_portal.templating import build_templates, i18n_context

AMSTERDAM = i18n.zone("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        # Winter: CET is UTC+1.
        (datetime(2026, 1, 15, 11, 30, tzinfo=UTC), "2026-01-15 12:30 CET"),
        # Summer: CEST is UTC+2.
        (datetime(2026, 7, 15, 11, 30, tzinfo=UTC), "2026-07-15 13:30 CEST"),
        # The night the clocks go back (25 October 2026, 03:00 CEST -> 02:00 CET): the same wall
        # clock hour twice, told apart by the zone.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25 02:30 CEST"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "2026-10-25 02:30 CET"),
        # Late in the UTC evening it is already the next day in Amsterdam.
        (datetime(2026, 12, 31, 23, 15, tzinfo=UTC), "2027-01-01 00:15 CET"),
    ],
)
def test_a_utc_timestamp_is_shown_as_amsterdam_time(stored: datetime, shown: str) -> None:
    assert i18n.format_local_datetime(stored, "en", AMSTERDAM) == shown


def test_dutch_writes_day_month_year() -> None:
    stored = datetime(2026, 7, 1, 22, 5, tzinfo=UTC)
    assert i18n.format_local_datetime(stored, "nl", AMSTERDAM) == "02-07-2026 00:05 CEST"
    assert i18n.format_local_date(stored, "nl", AMSTERDAM) == "02-07-2026"
    assert i18n.format_local_date(date(2026, 3, 9), "en", AMSTERDAM) == "2026-03-09"


def test_the_same_day_is_written_anew_for_each_language_and_zone() -> None:
    """Formatted days are remembered (a table repeats a few days on every row): per language,
    and for the day in the reader's zone, never the first formatting served to everyone."""
    stored = datetime(2026, 7, 1, 22, 5, tzinfo=UTC)
    assert i18n.format_local_date(stored, "en", AMSTERDAM) == "2026-07-02"
    assert i18n.format_local_date(stored, "nl", AMSTERDAM) == "02-07-2026"
    assert i18n.format_local_date(stored, "en", i18n.zone("America/New_York")) == "2026-07-01"
    assert i18n.format_local_date(stored, "en", AMSTERDAM) == "2026-07-02"


def test_a_users_own_time_zone_wins_over_the_organisations() -> None:
    stored = datetime(2026, 7, 15, 11, 30, tzinfo=UTC)
    assert i18n.format_local_datetime(stored, "en", i18n.zone("America/New_York")) == "2026-07-15 07:30 EDT"
    assert i18n.zone(None, "Asia/Tokyo").key == "Asia/Tokyo"
    assert i18n.zone("Not/AZone").key == "Europe/Amsterdam"


@pytest.mark.parametrize(
    ("language", "number", "percentage"),
    [("en", "1,234,567.5", "87%"), ("nl", "1.234.567,5", "87%")],
)
def test_numbers_follow_the_language(language: str, number: str, percentage: str) -> None:
    assert i18n.format_number(1234567.5, language) == number
    assert i18n.format_number(3, language, decimals=1) == ("3.0" if language == "en" else "3,0")
    assert i18n.format_percentage(87.0, language) == percentage


def test_the_template_filters_read_language_and_zone_from_the_render() -> None:
    env = build_templates().env
    template = env.from_string("{{ at | datetime }} · {{ at | date }} · {{ n | number }} · {{ 'timed_out' | status }}")
    at = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the first hour of summer time
    english = template.render(at=at, n=2500.25, **i18n_context("en", None, "Europe/Amsterdam"))
    dutch = template.render(at=at, n=2500.25, **i18n_context("nl", None, "Europe/Amsterdam"))
    london = template.render(at=at, n=2500.25, **i18n_context("en", "Europe/London", "Europe/Amsterdam"))
    assert english == "2026-03-29 03:30 CEST · 2026-03-29 · 2,500.25 · timed out"
    assert dutch == "29-03-2026 03:30 CEST · 29-03-2026 · 2.500,25 · time-out"
    assert london == "2026-03-29 02:30 BST · 2026-03-29 · 2,500.25 · timed out"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", "nl"),
        ("en-GB,en;q=0.9,nl;q=0.8", "en"),
        ("de-DE,de;q=0.9,nl;q=0.5,en;q=0.4", "nl"),
        ("fr-FR,fr;q=0.9", "en"),
        ("nl;q=0, en", "en"),
        ("NL_be", "nl"),
        ("", "en"),
        (None, "en"),
        ("en;q=0.5, nl;q=0.5", "en"),
        ("en;q=bogus, nl", "nl"),
    ],
)
def test_accept_language_picks_the_most_preferred_supported_language(header: str | None, language: str) -> None:
    assert i18n.from_accept_language(header) == language


def test_a_users_choice_wins_over_the_browser() -> None:
    assert i18n.resolve_language("nl", "en-GB,en") == "nl"
    assert i18n.resolve_language(None, "nl") == "nl"
    assert i18n.resolve_language("xx", "nl") == "nl"
