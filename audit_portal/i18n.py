"""The portal's languages: gettext catalogues, the reader's language and time zone, and the
locale-aware formatting of dates and numbers.

Messages are English in the code and templates; ``audit_portal/locale/<lang>/LC_MESSAGES/
messages.po`` holds the translations (``make messages`` extracts and updates them, docs/i18n.md
says how). A compiled ``messages.mo`` next to the ``.po`` is used when it is at least as new;
otherwise the ``.po`` is compiled in memory on first use, so a fresh checkout needs no build step.

This is a leaf module: templating, the security middleware, services that write e-mail and the
profile read it.
"""

from __future__ import annotations

import gettext
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "nl")
# Each language named in itself: the choice must be readable by whoever needs it.
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}
DEFAULT_TIME_ZONE = "Europe/Amsterdam"
# English keeps the ISO dates the portal has always shown (unambiguous for international
# auditors); Dutch uses the day-month-year order people in the Netherlands write.
_DATETIME_PATTERNS = {"en": "yyyy-MM-dd HH:mm", "nl": "dd-MM-yyyy HH:mm"}
_DATE_PATTERNS = {"en": "yyyy-MM-dd", "nl": "dd-MM-yyyy"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark a message for extraction where it is defined; templates translate it when shown."""
    return message


# --- catalogues --------------------------------------------------------------------------------


def _compiled(po_path: Path) -> Translations:
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    buffer = BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language``; English, the language of the msgids, needs none."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT_LANGUAGE or not po_path.exists():
        return gettext.NullTranslations()
    return _compiled(po_path)


@cache
def gettext_for(language: str | None) -> gettext.NullTranslations:
    # Cached as well: a page's phrases ask for their catalogue once per nested part (a coverage
    # table about 500 times), and normalising the language each time showed in its profile.
    return translations(supported(language) or DEFAULT_LANGUAGE)


# --- the reader's language and time zone -------------------------------------------------------


def supported(language: str | None) -> str | None:
    if not language:
        return None
    primary = language.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str:
    """The most preferred supported language of an ``Accept-Language`` header (RFC 9110 §12.5.4);
    English when none is supported."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = supported(tag)
        if language and quality > 0:
            choices.append((-quality, position, language))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE


def resolve_language(preference: str | None, accept_language: str | None) -> str:
    """The user's own choice when they made one, else what the browser asks for."""
    return supported(preference) or from_accept_language(accept_language)


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def common_time_zones() -> list[str]:
    """The choices the profile offers: the region/city zones, sorted."""
    return sorted(name for name in time_zone_names() if "/" in name and not name.startswith(("Etc/", "SystemV/")))


def valid_time_zone(name: str) -> bool:
    if name not in time_zone_names():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=64)
def zone(name: str | None, fallback: str = DEFAULT_TIME_ZONE) -> ZoneInfo:
    # Cached: the pages' date filters ask for the reader's zone on every cell, and checking
    # the name against the zone database each time showed in a table's profile.
    for candidate in (name, fallback, DEFAULT_TIME_ZONE):
        if candidate and valid_time_zone(candidate):
            return ZoneInfo(candidate)
    return ZoneInfo("UTC")


# --- formatting ---------------------------------------------------------------------------------


def local_time(value: datetime, tz: ZoneInfo) -> datetime:
    """A stored (UTC) datetime as wall-clock time in ``tz``; a naive value is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz)


def format_local_datetime(value: datetime | None, language: str, tz: ZoneInfo) -> str:
    if value is None:
        return "—"
    local = local_time(value, tz)
    pattern = _DATETIME_PATTERNS.get(language, _DATETIME_PATTERNS[DEFAULT_LANGUAGE])
    return f"{format_datetime(local, pattern, tzinfo=tz, locale=babel_locale(language))} {local.tzname()}"


def format_local_date(value: date | datetime | None, language: str, tz: ZoneInfo) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = local_time(value, tz).date()
    return _day(value, language)


@lru_cache(maxsize=1024)
def _day(value: date, language: str) -> str:
    """A day in the language's date format. Tables show the same few days on every row (the
    newest evidence of daily collectors), and Babel formats each anew: nearly a tenth of a coverage
    table's rendering."""
    return format_date(
        value, _DATE_PATTERNS.get(language, _DATE_PATTERNS[DEFAULT_LANGUAGE]), locale=babel_locale(language)
    )


@lru_cache(maxsize=16)
def babel_locale(language: str) -> Locale:
    """The parsed locale of a language: Babel parses a locale name on every call it is given one,
    which was a tenth of a large page's rendering."""
    return Locale.parse(language)


def format_number(value: float | int | None, language: str, decimals: int | None = None) -> str:
    if value is None:
        return "—"
    if decimals is None:
        return format_decimal(value, locale=babel_locale(language))
    return format_decimal(
        value, format="#,##0." + "0" * decimals if decimals else "#,##0", locale=babel_locale(language)
    )


def format_percentage(value: float | None, language: str) -> str:
    """``value`` is a percentage (0 to 100), as the coverage figures hold it."""
    if value is None:
        return "—"
    return format_percent(value / 100, format="#,##0%", locale=babel_locale(language))


class Word(str):
    """A status or state name ("action_planned") among a message's values: the English detail
    says it as a word ("action planned"), a reader's message in their language ("actie gepland").
    The catalogue holds these words for the pages' ``|status`` filter."""

    __slots__ = ()

    def __new__(cls, name: object) -> Word:
        return super().__new__(cls, str(name).replace("_", " "))

    def said(self, catalogue: gettext.NullTranslations) -> str:
        return str(catalogue.gettext(self))


class Label(Word):
    """A catalogue label among a message's values ("Annex 2"), as it is in English, translated
    for a reader; text the catalogue does not hold stays as it is."""

    def __new__(cls, text: object) -> Label:
        return str.__new__(cls, str(text))


class Words(Word):
    """Catalogue words or labels a message lists ("Choose a severity: %(choices)s."): joined by
    commas, each in the reader's language."""

    parts: tuple[str, ...]

    def __new__(cls, parts: Iterable[object]) -> Words:
        words = tuple(str(part).replace("_", " ") for part in parts)
        made = str.__new__(cls, ", ".join(words))
        made.parts = words
        return made

    def said(self, catalogue: gettext.NullTranslations) -> str:
        return ", ".join(str(catalogue.gettext(part)) for part in self.parts)


class Sentences(Word):
    """Catalogue messages with their values, as a refusal's summary lists its field errors
    ("The finding was not saved: %(reasons)s"): each in the reader's language."""

    messages: tuple[tuple[str, Mapping[str, object]], ...]
    separator: str

    def __new__(cls, errors: Iterable[Mapping[str, Any]], separator: str = " ") -> Sentences:
        messages = tuple((str(item["message"]), dict(item.get("values") or {})) for item in errors)
        made = str.__new__(cls, separator.join(message % values if values else message for message, values in messages))
        made.messages, made.separator = messages, separator
        return made

    def said(self, catalogue: gettext.NullTranslations) -> str:
        return self.separator.join(_said(catalogue, message, values) for message, values in self.messages)


def _said(catalogue: gettext.NullTranslations, message: str, values: Mapping[str, object]) -> str:
    """``message`` in the catalogue's language, its values after the words (a value holding "%"
    stays text); status words and lists of them in that language too."""
    translated = str(catalogue.gettext(message))
    if not values:
        return translated
    return translated % {
        key: value.said(catalogue) if isinstance(value, Word) else value for key, value in values.items()
    }


def _value_in(value: object, language: str, catalogue: gettext.NullTranslations) -> object:
    """A phrase's value as ``language`` says it: a nested phrase in that language, a status word
    translated, a date in the language's date format; identifiers and typed text as they are."""
    if isinstance(value, Phrase | Phrases):
        return value.in_language(language)
    if isinstance(value, Word):
        return value.said(catalogue)
    if isinstance(value, date) and not isinstance(value, datetime):
        if language == DEFAULT_LANGUAGE:
            return value.isoformat()
        return _day(value, language)
    return value


class _SaidLater(ABC):
    """Text kept as messages and values until a reader's language is known; ``str()`` and
    ``english`` say it in English (the API, the evidence package, logs)."""

    @abstractmethod
    def in_language(self, language: str) -> str: ...

    @property
    def english(self) -> str:
        return self.in_language(DEFAULT_LANGUAGE)

    def __str__(self) -> str:
        return self.english


@dataclass(frozen=True)
class Phrase(_SaidLater):
    """A catalogue message with its values, composed where the facts are and said later in a
    reader's language (the reason beside a coverage status). ``str()`` and :attr:`english` give
    the English text, which the JSON API, the command line and the signed evidence package keep;
    :meth:`in_language` (the pages' ``|said`` filter) translates the message and then fills in the
    values. Two phrases are equal when their message and values are."""

    message: str
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, message: str, **values: object) -> Phrase:
        return cls(message, tuple(values.items()))

    def in_language(self, language: str) -> str:
        catalogue = gettext_for(language)
        translated = str(catalogue.gettext(self.message)) if self.message else self.message
        if not self.values:
            return translated
        # Values after the words: a value holding "%" is text, never a format string.
        return translated % {key: _value_in(value, language, catalogue) for key, value in self.values}


@dataclass(frozen=True)
class Phrases(_SaidLater):
    """Phrases said one after the other, joined by ``separator`` ("; " between a control's
    requirements), each in the reader's language."""

    parts: tuple[Phrase | Phrases, ...]
    separator: str = "; "

    def in_language(self, language: str) -> str:
        return self.separator.join(part.in_language(language) for part in self.parts)


@dataclass(frozen=True)
class Wording:
    """The reader's language for text composed in Python (the audit log's sentences, the charts'
    titles): its catalogue and its formats. Callers pass the language as a plain value, so no
    service or presenter needs the request."""

    language: str

    def gettext(self, message: str, **values: object) -> str:
        if not message:
            return message  # gettext("") is the catalogue's header, not an empty word
        return _said(gettext_for(self.language), message, values)

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """``n`` chooses the plural form and fills ``%(count)s`` unless ``values`` give it (formatted)."""
        translated = str(gettext_for(self.language).ngettext(singular, plural, n))
        return translated % {"count": n, **values}

    def word(self, value: object) -> str:
        """An internal status or role name ("timed_out") as the reader's word for it."""
        return self.gettext(str(value).replace("_", " "))

    def number(self, value: float, decimals: int | None = None) -> str:
        return format_number(value, self.language, decimals)

    def percent(self, value: float, decimals: int | None = 1) -> str:
        """A percentage (0 to 100) with ``decimals`` decimals, as the charts write their values;
        ``None``: as many as the value has, up to two (a target of 82.5%)."""
        pattern = "#,##0.##%" if decimals is None else "#,##0." + "0" * decimals + "%" if decimals else "#,##0%"
        return format_percent(value / 100, format=pattern, locale=self.language)

    def day(self, value: date) -> str:
        return format_date(
            value, _DATE_PATTERNS.get(self.language, _DATE_PATTERNS[DEFAULT_LANGUAGE]), locale=self.language
        )

    def month(self, value: date) -> str:
        """A month as a chart's axis names it: "Jan 26", "jan 26"."""
        return format_date(value, "MMM yy", locale=self.language)


def language_choices(languages: Iterable[str] = LANGUAGES) -> list[tuple[str, str]]:
    return [(code, LANGUAGE_NAMES.get(code) or Locale.parse(code).get_display_name(code) or code) for code in languages]


# The internal status names pages show through the ``status`` filter ("timed_out" reads
# "timed out"); listed here so that extraction gives each a msgid.
STATUS_WORDS = (
    N_("covered"),
    N_("partial"),
    N_("stale"),
    N_("missing"),
    N_("failing"),
    N_("no requirement"),
    N_("not applicable"),
    N_("met"),
    N_("awaiting signoff"),
    N_("running"),
    N_("ok"),
    N_("failed"),
    N_("timed out"),
    N_("open"),
    N_("action planned"),
    N_("remediated"),
    N_("closed"),
    N_("risk accepted"),
    N_("patched"),
    N_("mitigated"),
    N_("not started"),
    N_("implemented"),
    N_("success"),
    N_("failure"),
    N_("refused"),
    N_("pending"),
    N_("accepted"),
    N_("rejected"),
    N_("answered"),
    N_("critical"),
    N_("high"),
    N_("medium"),
    N_("low"),
    N_("info"),
    N_("annual"),
    N_("quarterly"),
    N_("monthly"),
    N_("weekly"),
    N_("daily"),
    N_("keep"),
    N_("change"),
    N_("remove"),
)
# The roles, as the page header names them.
ROLE_WORDS = (N_("admin"), N_("it"), N_("management"), N_("auditor"))
