"""What the catalogue and evidence searches share: the words of a search, the query strings each
backend's full-text engine takes, and the highlighting of matches.

PostgreSQL searches through two text search configurations the migration ``0077_search`` creates,
``portal_dutch`` and ``portal_english`` (the built-in ``dutch`` and ``english`` with ``unaccent``
in front of the stemmer), plus a trigram index on ``portal_fold(...)`` (lower case, accents
removed) for ids and parts of words. SQLite searches FTS5 tables with the ``unicode61`` tokenizer
(``remove_diacritics 2``). Both fold case and accents, so "geinventariseerd" finds
"geïnventariseerd" and "Beveiliging" finds "beveiligingsmaatregelen".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import BindParameter, Boolean, ColumnElement, Float, bindparam, text
from sqlalchemy.ext.compiler import compiles

MAX_LENGTH = 100  # characters of a search that count
MAX_TERMS = 8  # more words only slow the query down without narrowing it usefully
MIN_TRIGRAM = 3  # a trigram index cannot answer shorter substrings

# The searchable text of each table, exactly as the expression indexes of 0077_search spell it:
# PostgreSQL uses an index only for the expression it was built on.
EVIDENCE_DOCUMENT = (
    "coalesce(evidence.title, '') || ' ' || coalesce(evidence.description, '') || ' ' || "
    "coalesce(evidence.original_filename, '')"
)
CONTROL_DOCUMENT = (
    "coalesce(control.ref, '') || ' ' || coalesce(control.title, '') || ' ' || coalesce(control.title_nl, '') || ' ' || "
    "coalesce(control.text, '') || ' ' || coalesce(control.text_nl, '')"
)
REQUIREMENT_DOCUMENT = (
    "coalesce(requirement.key, '') || ' ' || coalesce(requirement.title, '') || ' ' || "
    "coalesce(requirement.auditor_expects, '')"
)

# Objects the migration creates that the models do not describe (FTS5 tables and their shadow
# tables on SQLite, expression indexes on PostgreSQL): the model comparison leaves them out.
FTS_TABLES = ("evidence_fts", "control_fts", "requirement_fts")
FTS5_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")
SEARCH_INDEXES = (
    "ix_evidence_search_fts",
    "ix_evidence_search_trgm",
    "ix_control_search_fts",
    "ix_control_search_trgm",
    "ix_requirement_search_fts",
    "ix_requirement_search_trgm",
)


def is_search_object(name: str | None) -> bool:
    if name is None:
        return False
    if name in SEARCH_INDEXES:
        return True
    return any(name == table or name in (table + shadow for shadow in FTS5_SHADOWS) for table in FTS_TABLES)


def fold(text: str) -> str:
    """Lower case without accents: what both backends compare."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Search:
    """A search as typed: ``terms`` are its whitespace-separated parts (at most ``MAX_TERMS``),
    each an AND condition; a part with punctuation ("A.5.15", "ACC-2") is a phrase of its words."""

    text: str
    terms: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Search | None:
        cleaned = " ".join(text.split())[:MAX_LENGTH]
        terms = tuple(term for term in cleaned.split(" ") if re.search(r"\w", term))[:MAX_TERMS]
        if not terms:
            return None
        return cls(text=cleaned, terms=terms)

    @property
    def words(self) -> list[str]:
        """The folded words of the search, longest first (what highlighting looks for)."""
        found = {word for term in self.terms for word in re.findall(r"\w+", fold(term))}
        return sorted(found, key=lambda word: (-len(word), word))

    @property
    def folded(self) -> str:
        return fold(self.text)

    @property
    def annex_ref(self) -> str | None:
        """ "A.5.15" as the 2022 edition spells its Annex A refs ("5.15"), if the search is one."""
        match = re.fullmatch(r"a\.(\d+(?:\.\d+)*)", self.folded)
        return match.group(1) if match else None

    @property
    def evidence_number(self) -> int | None:
        """The id an evidence search names ("123" or "#123"), if it names one."""
        match = re.fullmatch(r"#?(\d{1,18})", self.text)
        return int(match.group(1)) if match else None

    @property
    def number_only(self) -> bool:
        """ "#123" names an item and nothing else; "2026" may also be a word of a title."""
        return self.text.startswith("#") and self.evidence_number is not None

    def fts5_query(self) -> str:
        """An FTS5 MATCH expression: every term, as a phrase of its words, the last word a prefix."""
        phrases = []
        for term in self.terms:
            words = re.findall(r"\w+", term)
            phrases.append('"' + " ".join(words) + '"*')
        return " AND ".join(phrases)

    def tsquery(self) -> str:
        """A ``to_tsquery`` argument: every term quoted (the configuration splits and stems it the
        way it did the documents, so "A.5.15" stays one lexeme), each a prefix, all required."""
        quoted = []
        for term in self.terms:
            escaped = term.replace("\\", "\\\\").replace("'", "''")
            quoted.append(f"'{escaped}':*")
        return " & ".join(quoted)


def highlight(text: str | None, search: Search | None) -> Markup:
    """``text`` escaped, with every occurrence of a search word (ignoring case and accents) in
    ``<mark>``. Escaping comes first, per piece, so nothing in ``text`` can become markup."""
    if not text:
        return Markup("")
    if search is None:
        return escape(text)
    folded, origin = _fold_with_positions(text)
    marked = [False] * len(text)
    for word in search.words:
        start = folded.find(word)
        while start != -1:
            for position in range(origin[start], origin[start + len(word) - 1] + 1):
                marked[position] = True
            start = folded.find(word, start + 1)
    pieces: list[str] = []
    index = 0
    while index < len(text):
        end = index
        while end < len(text) and marked[end] == marked[index]:
            end += 1
        piece = str(escape(text[index:end]))
        pieces.append(f"<mark>{piece}</mark>" if marked[index] else piece)
        index = end
    return Markup("".join(pieces))


def excerpt(text: str | None, search: Search | None, width: int = 160) -> Markup:
    """A highlighted window of ``text`` around its first match (the whole text when short)."""
    if not text:
        return Markup("")
    if len(text) <= width or search is None:
        return highlight(text if len(text) <= width else text[:width] + "…", search)
    folded, origin = _fold_with_positions(text)
    hits = [folded.find(word) for word in search.words]
    first = min((hit for hit in hits if hit != -1), default=-1)
    if first == -1:
        return highlight(text[:width] + "…", search)
    begin = max(0, origin[first] - width // 3)
    end = min(len(text), begin + width)
    window = ("…" if begin else "") + text[begin:end] + ("…" if end < len(text) else "")
    return highlight(window, search)


def _fold_with_positions(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, the index of the character it came from."""
    folded: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        for piece in fold(character):
            folded.append(piece)
            origin.append(index)
    return "".join(folded), origin


# --- the match and its score in SQL, compiled for each backend ---------------------------------

DOCUMENTS = {"evidence": EVIDENCE_DOCUMENT, "control": CONTROL_DOCUMENT, "requirement": REQUIREMENT_DOCUMENT}


class Matches(ColumnElement[bool]):
    """True for the rows of ``table`` (evidence, control or requirement) the search finds.

    PostgreSQL: the Dutch or English full-text match of every term (both expression-indexed), or
    the whole search as a substring of the folded text (trigram-indexed; ids, parts of words).
    SQLite: the row's id among the FTS5 table's matches."""

    inherit_cache = False  # the search text is part of the statement
    type = Boolean()

    def __init__(self, table: str, search: Search) -> None:
        self.table, self.search = table, search


class Score(ColumnElement[float]):
    """How well a row matches, higher is better (``ts_rank`` / ``-bm25``); NULL when only the
    substring or the id matched."""

    inherit_cache = False
    type = Float()

    def __init__(self, table: str, search: Search) -> None:
        self.table, self.search = table, search


def _vector(table: str) -> str:
    document = DOCUMENTS[table]
    return f"(to_tsvector('portal_dutch', {document}) || to_tsvector('portal_english', {document}))"


def _tsquery_parameter(search: Search) -> BindParameter[str]:
    return bindparam("tsquery", search.tsquery(), unique=True)


@compiles(Matches, "postgresql")
def _matches_postgresql(element: Matches, compiler, **kw):
    tsquery = "(to_tsquery('portal_dutch', :tsquery) || to_tsquery('portal_english', :tsquery))"
    condition = f"{_vector(element.table)} @@ {tsquery}"
    parameters = [_tsquery_parameter(element.search)]
    if len(element.search.folded) >= MIN_TRIGRAM:
        condition += f" OR portal_fold({DOCUMENTS[element.table]}) LIKE :substring ESCAPE '/'"
        parameters.append(bindparam("substring", "%" + _escape_like(element.search.folded) + "%", unique=True))
    return compiler.process(text(f"({condition})").bindparams(*parameters), **kw)


@compiles(Matches, "sqlite")
def _matches_sqlite(element: Matches, compiler, **kw):
    fts = f"{element.table}_fts"
    clause = text(f"{element.table}.id IN (SELECT rowid FROM {fts} WHERE {fts} MATCH :match)").bindparams(
        bindparam("match", element.search.fts5_query(), unique=True)
    )
    return compiler.process(clause, **kw)


@compiles(Score, "postgresql")
def _score_postgresql(element: Score, compiler, **kw):
    tsquery = "(to_tsquery('portal_dutch', :tsquery) || to_tsquery('portal_english', :tsquery))"
    clause = text(f"ts_rank({_vector(element.table)}, {tsquery})").bindparams(_tsquery_parameter(element.search))
    return compiler.process(clause, **kw)


@compiles(Score, "sqlite")
def _score_sqlite(element: Score, compiler, **kw):
    fts = f"{element.table}_fts"
    clause = text(
        f"(SELECT -bm25({fts}) FROM {fts} WHERE {fts} MATCH :match AND {fts}.rowid = {element.table}.id)"
    ).bindparams(bindparam("match", element.search.fts5_query(), unique=True))
    return compiler.process(clause, **kw)


def _escape_like(value: str) -> str:
    return value.replace("/", "//").replace("%", "/%").replace("_", "/_")
