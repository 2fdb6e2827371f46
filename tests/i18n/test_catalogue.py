"""Every user-visible template text is marked for translation, and every marked message has a
Dutch translation that is current.

The completeness check reads each template as a translator would: it removes what is translated
(``{% trans %}`` blocks, ``_()`` calls) and what is not text (Jinja statements and expressions,
tags, code samples, entities, digits and punctuation). Whatever letters remain are text nobody
marked. Attributes a reader sees or hears (``title``, ``placeholder``, ``aria-label``, ``alt``,
``data-confirm``) are checked the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from audit_portal.i18n import LOCALE_DIR
from audit_portal.templating import build_templates, templates_dir

ROOT = Path(__file__).resolve().parents[2]
DUTCH_PO = LOCALE_DIR / "nl" / "LC_MESSAGES" / "messages.po"
TEMPLATES = sorted(p for p in templates_dir().rglob("*") if p.suffix in {".html", ".txt"})

# Text that stays as it is in every language, each with the reason.
ALLOWED_TEXT = {
    "audit-portal": "the product's name",
    "ISO/IEC": "the standard's name (ISO/IEC 27001), the same in every language",
    "SHA-": "the name of the hash function (SHA-256)",
    "UTC": "the time standard, written the same in Dutch",
}
# Placeholders that show the form of an identifier rather than words (OPS-2, 8.8).
IDENTIFIER = re.compile(r"^[\w.:/-]*\d[\w.:/-]*$")
SPOKEN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-confirm")

TRANS_BLOCK = re.compile(r"\{%-?\s*trans\b.*?%\}.*?\{%-?\s*endtrans\s*-?%\}", re.S)
JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
UNTRANSLATED_ELEMENTS = re.compile(r"<(script|style|pre|code|kbd|samp)\b[^>]*>.*?</\1>", re.S | re.I)
TAG = re.compile(r"<[!/]?[a-zA-Z][^>]*>", re.S)
ATTRIBUTE = re.compile(r"\b(" + "|".join(SPOKEN_ATTRIBUTES) + r")=(\"[^\"]*\"|'[^']*')")
ENTITY = re.compile(r"&#?\w+;")
# Macros that write attributes (aria-invalid="true" aria-describedby="...") outside a tag.
ATTRIBUTE_MARKUP = re.compile(r"\b[a-z][\w-]*=\"[^\"]*\"")
LETTERS = re.compile(r"[^\W\d_]+")


def unmarked_text(source: str) -> list[str]:
    """The runs of letters in ``source`` that no trans block or _() call covers."""
    without_translated = TRANS_BLOCK.sub(" ", source)
    findings: list[str] = []
    for match in ATTRIBUTE.finditer(JINJA.sub(" ", without_translated)):
        value = match.group(2)[1:-1].strip()
        if value and LETTERS.search(value) and not IDENTIFIER.match(value) and value not in ALLOWED_TEXT:
            findings.append(f'{match.group(1)}="{value}"')
    text = JINJA.sub(" ", without_translated)
    text = UNTRANSLATED_ELEMENTS.sub(" ", text)
    text = TAG.sub(" ", text)
    text = ENTITY.sub(" ", text)
    text = ATTRIBUTE_MARKUP.sub(" ", text)
    for allowed in ALLOWED_TEXT:
        text = text.replace(allowed, " ")
    findings += [" ".join(chunk.split()) for chunk in re.split(r"\s{2,}|\n", text) if LETTERS.search(chunk)]
    return findings


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(templates_dir())))
def test_every_template_text_is_marked_for_translation(template: Path) -> None:
    assert unmarked_text(template.read_text(encoding="utf-8")) == []


def test_the_completeness_check_finds_unmarked_text() -> None:
    source = (
        '<p>{% trans %}Marked{% endtrans %} Forgotten</p><input placeholder="search here">'
        '<input placeholder="OPS-2"><code>audit-portal user add</code>{{ _("also marked") }}'
    )
    assert unmarked_text(source) == ['placeholder="search here"', "Forgotten"]


def _catalogue():  # type: ignore[no-untyped-def]
    with DUTCH_PO.open("rb") as handle:
        return read_po(handle)


def test_every_message_has_a_dutch_translation_and_none_is_fuzzy() -> None:
    catalogue = _catalogue()
    untranslated = [
        message.id
        for message in catalogue
        if message.id and (not all(message.string) if isinstance(message.id, tuple) else not message.string)
    ]
    fuzzy = [message.id for message in catalogue if message.id and message.fuzzy]
    assert (untranslated, fuzzy) == ([], [])


def test_placeholders_survive_translation() -> None:
    placeholder = re.compile(r"%\((\w+)\)s")
    wrong = []
    for message in _catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(placeholder.findall(ids[-1])) | set(placeholder.findall(ids[0]))
        wrong += [ids[0] for string in strings if set(placeholder.findall(string)) - expected]
        wrong += [ids[0] for string in strings if placeholder.findall(ids[0]) and not placeholder.findall(string)]
    assert wrong == []


def test_the_catalogue_holds_every_message_the_sources_mark() -> None:
    """What `make messages` extracts (babel.cfg, the same keywords) is all in the Dutch catalogue;
    run `make messages` and translate when this fails."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    walked = ("audit_portal", "templates")
    extracted = {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            ROOT,
            method_map,
            options_map,
            keywords=keywords,
            directory_filter=lambda path: Path(path).relative_to(ROOT).parts[0] in walked,
        )
        if message
    }
    in_catalogue = {
        message.id if isinstance(message.id, str) else message.id[0] for message in _catalogue() if message.id
    }
    assert len(extracted) > 500
    assert sorted(extracted - in_catalogue) == []


def test_every_template_compiles_with_the_i18n_extension() -> None:
    env = build_templates().env
    for template in TEMPLATES:
        env.get_template(str(template.relative_to(templates_dir())))
