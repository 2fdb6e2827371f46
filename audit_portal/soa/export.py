"""The Statement of Applicability as a spreadsheet: CSV (UTF-8 with a byte-order mark, so Excel
reads the accents right) and XLSX. Both have the same columns in the same order, one row per
2022 control.

Text that a spreadsheet would take for a formula (it starts with ``=``, ``+``, ``-``, ``@``) is
written as text: justifications and owners are typed by people, and an export must never run
anything on the auditor's machine.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import IO

from audit_portal.coverage.service import status_label
from audit_portal.i18n import DEFAULT_LANGUAGE, N_, Wording
from audit_portal.soa.models import SoaEntry
from audit_portal.soa.service import STATUS_LABELS, SoaRow

# The headers are English by default (what scripts reading the file expect, and the copy kept as
# evidence); the downloads give them in the reader's language.
COLUMNS: tuple[str, ...] = (
    N_("Control"),
    N_("Title"),
    N_("Theme"),
    N_("Applicable"),
    N_("Justification"),
    N_("Implementation status"),
    N_("Owner"),
    N_("Mapped measures"),
    N_("Evidence requirements (key, frequency)"),
    N_("Last updated"),
    N_("Evidence coverage"),
    N_("Coverage as of"),
    N_("Contradiction"),
)
COLUMN_WIDTHS = (9, 48, 26, 11, 60, 20, 24, 26, 60, 18, 16, 14, 60)
SHEET_TITLE = N_("Statement of Applicability")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 64 * 1024
NOT_APPLICABLE = N_("Not applicable")  # the status of an excluded control: nothing to implement
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Cell = str | datetime | None


def export_filename(extension: str, today: date) -> str:
    return f"statement-of-applicability-{today.isoformat()}.{extension}"


def _frequency(days: int, say: Wording) -> str:
    return say.gettext(N_("daily")) if days == 1 else say.gettext(N_("every %(days)s days"), days=days)


def row_values(row: SoaRow, language: str = DEFAULT_LANGUAGE) -> list[Cell]:
    """One control's cells; the words (yes or no, the statuses, the frequencies) in ``language``,
    what people typed and the identifiers as they are."""
    say = Wording(language)
    entry = row.entry
    applicable = "" if entry is None else say.gettext(N_("Yes") if entry.applicable else N_("No"))
    return [
        row.control.ref,
        row.control.title,
        row.theme,
        applicable,
        (entry.justification or "") if entry else "",
        say.gettext(_status(entry)),
        (entry.owner or "") if entry else "",
        ", ".join(measure.ref for measure in row.measures),
        "; ".join(f"{r.key} ({_frequency(r.frequency_days, say)})" for r in row.requirements),
        entry.updated_at.astimezone(UTC) if entry else None,
        say.gettext(status_label(row.coverage.status)) if row.coverage else "",
        row.as_of.isoformat() if row.as_of else "",
        row.contradiction.in_language(language) if row.contradiction else "",
    ]


def _status(entry: SoaEntry | None) -> str:
    if entry is None:
        return ""
    if not entry.applicable:
        return NOT_APPLICABLE
    return STATUS_LABELS.get(entry.status, entry.status)


def export_table(rows: Sequence[SoaRow], language: str = DEFAULT_LANGUAGE) -> list[list[Cell]]:
    """The values of every row, read now: the download streams after the session has closed."""
    return [row_values(row, language) for row in rows]


def _as_text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return _as_text(value)


def headers(language: str = DEFAULT_LANGUAGE) -> list[str]:
    say = Wording(language).gettext
    return [say(column) for column in COLUMNS]


def csv_chunks(table: Sequence[Sequence[Cell]], language: str = DEFAULT_LANGUAGE) -> Iterator[bytes]:
    """The CSV, one line at a time, starting with the UTF-8 byte-order mark; the header line in
    ``language``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield "\ufeff".encode()
    for values in [headers(language), *([_csv_cell(v) for v in values] for values in table)]:
        writer.writerow(values)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


def write_xlsx(table: Sequence[Sequence[Cell]], target: IO[bytes], language: str = DEFAULT_LANGUAGE) -> None:
    from openpyxl import Workbook  # on demand: openpyxl takes about 18 MiB of a process
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = Wording(language).gettext(SHEET_TITLE)[:31]  # Excel's limit for a sheet's name
    sheet.append(headers(language))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in table:
        sheet.append([_xlsx_value(value) for value in values])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str):
                # openpyxl reads a leading "=" as a formula; these cells are always text.
                cell.data_type = "s"
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
                cell.alignment = Alignment(vertical="top")
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(table) + 1}"
    workbook.save(target)


def _xlsx_value(value: Cell) -> Cell:
    if isinstance(value, datetime):
        # Excel has no time zones: the column holds UTC, as the CSV says.
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def xlsx_chunks(table: Sequence[Sequence[Cell]], language: str = DEFAULT_LANGUAGE) -> Iterator[bytes]:
    """The XLSX file in chunks: written to a spooled temporary file, then read back."""
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as handle:
        write_xlsx(table, handle, language)
        handle.seek(0)
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk
