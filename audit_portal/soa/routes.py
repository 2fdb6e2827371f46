"""The Statement of Applicability: the table for everyone, the edit form for admins, and the
CSV and XLSX downloads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from audit_portal import clock
from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.coverage.service import STATUS_LABELS as COVERAGE_LABELS
from audit_portal.db import SessionDep
from audit_portal.forms import see_other, submit_form
from audit_portal.request_actor import actor_of
from audit_portal.soa import evidence as soa_evidence
from audit_portal.soa import export, service
from audit_portal.soa.models import STATUSES, SoaEntry
from audit_portal.store import StoreDep
from audit_portal.templating import render, request_language

router = APIRouter()

SoaReader = Annotated[Principal, Authorize("soa:read")]
SoaEditor = Annotated[Principal, Authorize("soa:edit")]
OptionalField = Annotated[str | None, Form()]


@router.get("/soa", response_class=HTMLResponse)
def soa_page(request: Request, session: SessionDep, principal: SoaReader) -> HTMLResponse:
    rows = service.soa_rows(session)
    return render(
        request,
        "pages/soa/index.html",
        {
            "rows": rows,
            "summary": service.summarise(rows),
            "status_labels": service.STATUS_LABELS,
            "coverage_labels": COVERAGE_LABELS,
            "can_edit": allowed("soa:edit", principal.role),
        },
        block="content",
    )


# The downloads are declared before /soa/{ref} so their names are never read as control ids.
@router.get("/soa/export.csv", response_class=StreamingResponse)
def export_csv(request: Request, session: SessionDep, principal: SoaReader) -> StreamingResponse:
    rows = service.rows_for_export(session, file_format="csv", actor=actor_of(request, principal))
    language = request_language(request)
    return _download(export.csv_chunks(export.export_table(rows, language), language), export.CSV_MEDIA_TYPE, "csv")


@router.get("/soa/export.xlsx", response_class=StreamingResponse)
def export_xlsx(request: Request, session: SessionDep, principal: SoaReader) -> StreamingResponse:
    rows = service.rows_for_export(session, file_format="xlsx", actor=actor_of(request, principal))
    language = request_language(request)
    return _download(export.xlsx_chunks(export.export_table(rows, language), language), export.XLSX_MEDIA_TYPE, "xlsx")


def _download(chunks: Iterator[bytes], media_type: str, extension: str) -> StreamingResponse:
    filename = export.export_filename(extension, clock.utcnow().date())
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/soa/{ref}", response_class=HTMLResponse)
def edit_form(request: Request, session: SessionDep, principal: SoaEditor, ref: str) -> HTMLResponse:
    row = service.soa_row(session, ref)
    return _form(request, row, service.form_values(row), errors={})


@router.post("/soa/{ref}", response_class=HTMLResponse, response_model=None)
def save(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    principal: SoaEditor,
    ref: str,
    applicable: OptionalField = None,
    justification: OptionalField = None,
    status: OptionalField = None,
    owner: OptionalField = None,
) -> Response:
    submitted = {"applicable": applicable, "justification": justification, "status": status, "owner": owner}
    before = service.soa_row(session, ref).entry
    version = (before.updated_at, before.updated_by) if before else None
    saved: list[SoaEntry] = []

    def change() -> Response:
        saved.append(service.update_entry(session, ref=ref, actor=actor_of(request, principal), **submitted))
        return see_other(f"/soa#control-{ref}")

    response = submit_form(
        request, change, lambda refusal: _form(request, service.soa_row(session, ref), submitted, errors=refusal.fields)
    )
    # Outside the form's refusal: an export the evidence store refuses is an error, not a field's.
    if saved and (saved[0].updated_at, saved[0].updated_by) != version:  # it changed: keep it (6.1.3 d)
        soa_evidence.keep_export(
            session, store, max_bytes=request.app.state.settings.max_upload_bytes, actor=actor_of(request, principal)
        )
    return response


def _form(
    request: Request,
    row: service.SoaRow,
    values: dict[str, str | None],
    *,
    errors: dict[str, str],
) -> HTMLResponse:
    return render(
        request,
        "pages/soa/edit.html",
        {
            "row": row,
            "values": values,
            "errors": errors,
            "statuses": STATUSES,
            "status_labels": service.STATUS_LABELS,
        },
        block="form",
    )
