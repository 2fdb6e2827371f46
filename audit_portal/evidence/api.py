"""The evidence JSON API (``/api/v1/evidence``): collectors and scripts push, people read.

``POST`` takes ``multipart/form-data`` with two parts, in this order: ``metadata`` (JSON, see
:class:`EvidenceMeta`) and ``file``. The order matters: the metadata is checked before the file
is read, so wrong metadata is refused before a byte is stored. Errors are RFC 9457 problem JSON.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel import Session

from audit_portal.authz import Authorize, Principal
from audit_portal.db import SessionDep
from audit_portal.errors import Forbidden, InvalidInput
from audit_portal.evidence import service
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.schemas import EvidenceMeta, EvidencePage, EvidencePublic, EvidenceSource
from audit_portal.evidence.streaming import MultipartUpload, Part, consume_in_thread
from audit_portal.request_actor import actor_of
from audit_portal.store import StoreDep
from evidence_store import ObjectStore

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_PUSH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["metadata", "file"],
                    "properties": {
                        "metadata": {
                            "type": "string",
                            "description": "JSON object (EvidenceMeta); must come BEFORE the file part.",
                        },
                        "file": {"type": "string", "format": "binary"},
                    },
                },
                "encoding": {"metadata": {"contentType": "application/json"}},
            }
        },
    }
}


def parse_meta(text: str) -> EvidenceMeta:
    try:
        return EvidenceMeta.model_validate_json(text)
    except ValidationError as error:
        errors = [
            {
                "location": "metadata." + ".".join(str(p) for p in item["loc"]) if item["loc"] else "metadata",
                "message": item["msg"],
            }
            for item in error.errors()
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        raise InvalidInput(f"The metadata is not valid: {detail}", errors=errors) from None


def _source_for(principal: Principal, meta: EvidenceMeta) -> EvidenceSource:
    if not meta.collector_instance:
        raise InvalidInput(
            "metadata.collector_instance is required: name the collector instance this token pushes for.",
            errors=[{"location": "metadata.collector_instance", "message": "required"}],
        )
    if not principal.may_push_for(meta.collector_instance):
        raise Forbidden(f"This token may not push evidence for {meta.collector_instance!r}.")
    assert principal.token_id is not None
    return EvidenceSource.api(principal.token_id, meta.collector_instance, meta.collector_run_id)


@router.post(
    "",
    status_code=201,
    response_model=EvidencePublic,
    openapi_extra=_PUSH_BODY,
    responses={413: PROBLEM, 422: PROBLEM, 401: PROBLEM, 403: PROBLEM, 409: PROBLEM, 503: PROBLEM},
    summary="Push one evidence file (service token)",
)
async def push_evidence(
    request: Request,
    principal: Annotated[Principal, Authorize("evidence:push")],
    session: SessionDep,
    store: StoreDep,
) -> JSONResponse:
    """Parts: ``metadata`` (JSON) first, then ``file``. The content type is sniffed from the bytes;
    the file streams into the store while it is hashed, and MAX_UPLOAD_BYTES is enforced while it
    streams. Answers 201 with the record and its ``Location``."""
    settings = request.app.state.settings
    meta: EvidenceMeta | None = None
    evidence: Evidence | None = None
    async for part in MultipartUpload(request).parts():
        if part.name == "metadata" and evidence is None:
            meta = parse_meta(await part.text())
        elif part.name == "file":
            if evidence is not None:
                raise InvalidInput("Send one file per request.")
            if meta is None:
                raise InvalidInput("Send the metadata part before the file part.")
            evidence = await _ingest_part(request, session, store, principal, meta, part, settings.max_upload_bytes)
        else:
            raise InvalidInput(f"Unexpected part {part.name!r}; send 'metadata' and then 'file'.")
    if evidence is None:
        raise InvalidInput("The request has no 'file' part.")
    public = await anyio.to_thread.run_sync(service.to_public, session, [evidence])
    return JSONResponse(
        public[0].model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/evidence/{evidence.id}"},
    )


async def _ingest_part(
    request: Request,
    session: Session,
    store: ObjectStore,
    principal: Principal,
    meta: EvidenceMeta,
    part: Part,
    max_bytes: int,
) -> Evidence:
    source = _source_for(principal, meta)
    checked = await anyio.to_thread.run_sync(service.check_meta, session, meta, source)
    settings = request.app.state.settings

    def ingest(reader: Any) -> Evidence:
        evidence = service.ingest(
            session,
            store,
            stream=reader,
            filename=part.filename,
            meta=meta,
            source=source,
            max_bytes=max_bytes,
            actor=actor_of(request, principal),
            checked=checked,
            retention_years=settings.retention_years_after_cycle,
            checkpoint=session.commit,
        )
        # The record's transaction ends here, in this thread, not after a trip through the event
        # loop (under load a wait for a worker thread would hold the write lock meanwhile).
        session.commit()
        return evidence

    # No write transaction may stay open while the bytes stream (on SQLite it would block every
    # other writer, sign-ins included): what this request wrote so far (the session or token
    # bookkeeping, an earlier file's record) is committed now, and the record of this file is
    # written in a short transaction after its stream.
    await anyio.to_thread.run_sync(session.commit)
    return await consume_in_thread(part, ingest)


@router.get("", response_model=EvidencePage, responses={422: PROBLEM}, summary="List evidence")
def list_evidence(
    request: Request,
    principal: Annotated[Principal, Authorize("evidence:read")],
    session: SessionDep,
    requirement: Annotated[str, Query(description="requirement key, e.g. OPS-2/patches")] = "",
    control: Annotated[str, Query(description="'framework:ref' or an Annex 2 measure id")] = "",
    measure: Annotated[str, Query(description="Annex 2 measure id, e.g. OPS-2")] = "",
    source: Annotated[str, Query(description="upload, api, collector, or a collector instance")] = "",
    period_from: Annotated[date | None, Query(description="items covering a day on or after")] = None,
    period_to: Annotated[date | None, Query(description="items covering a day on or before")] = None,
    content_type: str = "",
    include_superseded: bool = True,
    q: Annotated[
        str, Query(max_length=200, description="words of the title, description or file name, or an item number")
    ] = "",
    cursor: str = "",
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 50,
) -> EvidencePage:
    """Newest first; follow ``next_cursor`` for the next page (keyset paging)."""
    filters = service.ListFilters(
        control=control,
        measure=measure,
        requirement=requirement,
        source=source,
        period_from=period_from,
        period_to=period_to,
        content_type=content_type,
        include_superseded=include_superseded,
        q=q,
        cursor=cursor,
        limit=limit,
    )
    page = service.list_page(session, filters, principal)
    service.record_listing(session, actor=actor_of(request, principal), filters=filters)
    return EvidencePage(items=service.to_public(session, page.items), next_cursor=page.next_cursor)


@router.get("/{evidence_id}", response_model=EvidencePublic, responses={404: PROBLEM}, summary="One evidence record")
def get_evidence(
    evidence_id: int,
    request: Request,
    principal: Annotated[Principal, Authorize("evidence:read")],
    session: SessionDep,
) -> EvidencePublic:
    evidence = service.get(session, evidence_id, principal)
    service.record_access(session, evidence=evidence, action="evidence.view", actor=actor_of(request, principal))
    return service.to_public(session, [evidence])[0]
