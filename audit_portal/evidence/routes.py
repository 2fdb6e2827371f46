"""Evidence pages: the list, one item (metadata, links, supersede chain, access, safe preview),
the streamed download, and the upload form for the it role.

The upload route is the one ``async`` route: it reads the request body as a stream. Every
database call it makes runs in a worker thread (``anyio.to_thread``), as sync routes do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import anyio
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlmodel import Session

from audit_portal import clock
from audit_portal.auth import repository as auth_repository
from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.db import SessionDep, unit_of_work
from audit_portal.errors import InvalidInput, NotFound, PortalError, ServiceUnavailable
from audit_portal.evidence import repository, service
from audit_portal.evidence.models import INTEGRITY_CORRUPTED, Evidence
from audit_portal.evidence.preview import CORRUPTED_REASON, Preview, build_preview
from audit_portal.evidence.schemas import SOURCE_FILTERS, EvidenceMeta, EvidenceSource
from audit_portal.evidence.sniffing import previewable_inline
from audit_portal.evidence.streaming import MultipartUpload, Part, consume_in_thread
from audit_portal.i18n import N_
from audit_portal.request_actor import actor_of
from audit_portal.requests import service as requests_service
from audit_portal.search import Search
from audit_portal.store import StoreDep
from audit_portal.templating import is_fragment_request, render
from evidence_store import IntegrityError, ObjectNotFound, ObjectStore
from evidence_store.base import iter_verified

router = APIRouter(tags=["evidence pages"], include_in_schema=False)

Reader = Annotated[Principal, Authorize("evidence:read")]
Uploader = Annotated[Principal, Authorize("evidence:upload")]

UPLOAD_FIELDS = (
    "title",
    "description",
    "collected_on",
    "period_from",
    "period_to",
    "valid_until",
    "supersedes",
    "request_id",
)


# --- list -----------------------------------------------------------------------------------


def _optional_date(value: str, name: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            N_("%(field)s: '%(value)s' is not a date (YYYY-MM-DD)."), values={"field": name, "value": value}
        ) from None


@router.get("/evidence")
def evidence_list(
    request: Request,
    principal: Reader,
    session: SessionDep,
    control: str = "",
    measure: str = "",
    requirement: str = "",
    source: str = "",
    period_from: str = "",
    period_to: str = "",
    content_type: str = "",
    current_only: str = "",
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: str = "",
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 50,
) -> Response:
    filters = service.ListFilters(
        control=control.strip(),
        measure=measure.strip(),
        requirement=requirement.strip(),
        source=source.strip(),
        period_from=_optional_date(period_from, "period_from"),
        period_to=_optional_date(period_to, "period_to"),
        content_type=content_type.strip(),
        include_superseded=not current_only,
        q=q.strip(),
        cursor=cursor,
        limit=limit,
    )
    page = service.list_page(session, filters, principal)
    service.record_listing(session, actor=actor_of(request, principal), filters=filters)
    chosen = {
        "control": control,
        "measure": measure,
        "requirement": requirement,
        "source": source,
        "period_from": period_from,
        "period_to": period_to,
        "content_type": content_type,
        "current_only": current_only,
        "q": q.strip(),
    }
    next_url = None
    if page.next_cursor:
        next_url = "/evidence?" + urlencode({**{k: v for k, v in chosen.items() if v}, "cursor": page.next_cursor})
    return render(
        request,
        "pages/evidence/list.html",
        {
            "page_title": "Evidence",
            "items": page.items,
            "uploaders": auth_repository.usernames(session, [e.uploaded_by_id for e in page.items if e.uploaded_by_id]),
            "chosen": chosen,
            "search": Search.parse(q),
            "next_url": next_url,
            "first_url": "/evidence?" + urlencode({k: v for k, v in chosen.items() if v}),
            "is_continuation": bool(cursor),
            "content_types": repository.distinct_content_types(session),
            "sources": [*SOURCE_FILTERS, *repository.distinct_collector_instances(session)],
            "may_upload": allowed("evidence:upload", principal.role),
        },
        block="results",
    )


# --- one item -------------------------------------------------------------------------------


@router.get("/evidence/{evidence_id:int}")
def evidence_page(
    evidence_id: int, request: Request, principal: Reader, session: SessionDep, store: StoreDep
) -> Response:
    item = service.view(session, evidence_id, principal=principal, with_events=True)
    # Read (and verify) first, then write the access event and commit it before rendering: the
    # write transaction spans neither the reading of the object nor the page.
    try:
        preview = build_preview(store, item.evidence)
    except ObjectNotFound:
        raise _missing_object(item.evidence) from None
    except IntegrityError as error:
        service.mark_corrupted(session, item.evidence.sha256, reason=str(error), actor=actor_of(request, principal))
        preview = Preview("corrupted", reason=CORRUPTED_REASON)
    service.record_access(session, evidence=item.evidence, action="evidence.view", actor=actor_of(request, principal))
    session.commit()
    return render(
        request,
        "pages/evidence/detail.html",
        {
            "page_title": item.evidence.title,
            "item": item,
            "evidence": item.evidence,
            "preview": preview,
            "control_name": service.control_name,
            "may_upload": allowed("evidence:upload", principal.role),
            "may_hold": allowed("evidence:legal-hold", principal.role),
        },
    )


@router.post("/evidence/{evidence_id:int}/legal-hold")
def evidence_legal_hold(
    evidence_id: int,
    request: Request,
    principal: Annotated[Principal, Authorize("evidence:legal-hold")],
    session: SessionDep,
    hold: Annotated[str, Form()] = "",
) -> Response:
    """Place an item on legal hold (the retention purge then keeps it) or release it."""
    if hold not in ("on", "off"):
        raise InvalidInput(N_("hold must be 'on' or 'off'."), errors=[{"location": "hold", "message": N_("on or off")}])
    service.set_legal_hold(session, evidence_id, hold=hold == "on", actor=actor_of(request, principal))
    return RedirectResponse(f"/evidence/{evidence_id}", status_code=303)


def _missing_object(evidence: Evidence) -> ServiceUnavailable:
    return ServiceUnavailable(
        N_(
            "The stored file of evidence %(id)s cannot be read from the evidence store; "
            "ask an administrator to run 'audit-portal store reconcile'."
        ),
        values={"id": evidence.id},
    )


def _disposition(kind: str, filename: str) -> str:
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "evidence"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class EvidenceCorrupted(PortalError):
    status_code = 500
    title = N_("Evidence corrupted")
    slug = "evidence-corrupted"


def _corrupted(evidence: Evidence) -> EvidenceCorrupted:
    return EvidenceCorrupted(
        N_(
            "The stored file of evidence %(id)s is corrupted: it no longer matches the SHA-256 "
            "recorded when it was collected (%(sha256)s), so it is not served. Upload the "
            "original file again to repair it."
        ),
        values={"id": evidence.id, "sha256": evidence.sha256},
    )


def _stream(
    request: Request, session: Session, store: ObjectStore, evidence: Evidence, media_type: str, disposition: str
) -> StreamingResponse:
    """The object, verified while it streams (:func:`iter_verified`). An object of one chunk is
    verified before the response starts, so the client gets an error instead; a larger one
    breaks off before its last chunk, so the client sees an incomplete download, never a
    complete copy of damaged bytes. Either way the item is marked corrupted."""
    if evidence.integrity == INTEGRITY_CORRUPTED:
        raise _corrupted(evidence)
    chunks = iter_verified(store, evidence.store_key, evidence.sha256, size=evidence.size)
    try:
        first = next(chunks, b"")
    except ObjectNotFound:
        raise _missing_object(evidence) from None
    except IntegrityError as error:
        service.mark_corrupted(
            session, evidence.sha256, reason=str(error), actor=actor_of(request, service.VERIFY_ACTOR.principal)
        )
        session.commit()
        raise _corrupted(evidence) from None
    return StreamingResponse(
        _rest_of(request, first, chunks, evidence),
        media_type=media_type,
        headers={
            "Content-Disposition": disposition,
            "Content-Length": str(evidence.size),
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{evidence.sha256}"',
            "Cache-Control": "private, no-store",
        },
    )


def _rest_of(request: Request, first: bytes, chunks: Iterator[bytes], evidence: Evidence) -> Iterator[bytes]:
    yield first
    try:
        yield from chunks
    except IntegrityError as error:
        # The request's own transaction has ended; the mark gets one of its own.
        with unit_of_work(request.app.state.engine) as session:
            service.mark_corrupted(
                session, evidence.sha256, reason=str(error), actor=actor_of(request, service.VERIFY_ACTOR.principal)
            )
        raise


@router.get("/evidence/{evidence_id:int}/download")
def evidence_download(
    evidence_id: int, request: Request, principal: Reader, session: SessionDep, store: StoreDep
) -> Response:
    """The file as stored, streamed, always as an attachment."""
    evidence = service.get(session, evidence_id, principal)
    service.record_access(session, evidence=evidence, action="evidence.download", actor=actor_of(request, principal))
    return _stream(
        request, session, store, evidence, evidence.content_type, _disposition("attachment", evidence.original_filename)
    )


@router.get("/evidence/{evidence_id:int}/preview")
def evidence_preview(
    evidence_id: int, request: Request, principal: Reader, session: SessionDep, store: StoreDep
) -> Response:
    """Images and PDF for the browser to show; every other type has no inline form."""
    evidence = service.get(session, evidence_id, principal)
    if not previewable_inline(evidence.content_type):
        raise NotFound(N_("%(type)s is not shown inline; download it instead."), values={"type": evidence.content_type})
    service.record_access(session, evidence=evidence, action="evidence.preview", actor=actor_of(request, principal))
    return _stream(
        request, session, store, evidence, evidence.content_type, _disposition("inline", evidence.original_filename)
    )


# --- upload ---------------------------------------------------------------------------------


@router.get("/evidence/upload")
def upload_form(
    request: Request,
    principal: Uploader,
    session: SessionDep,
    link: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    supersedes: int | None = None,
    request_id: Annotated[int | None, Query(alias="request")] = None,
) -> Response:
    """The form; ``?link=OPS-2/patches`` preselects links, ``?supersedes=ID`` starts a
    correction, ``?request=ID`` answers an open evidence request with the upload."""
    old = service.get(session, supersedes) if supersedes else None
    answering = None
    if request_id is not None:
        answering = requests_service.open_request_for_upload(session, principal, request_id)
        link = [*link, *service.links_of_request(session, answering.request)]
    return render(
        request,
        "pages/evidence/upload.html",
        {
            "page_title": "Upload evidence",
            "chosen": service.link_targets_named(session, link),
            "supersedes": old,
            "answering": answering,
            "max_upload_bytes": request.app.state.settings.max_upload_bytes,
        },
    )


@router.get("/evidence/upload/targets")
def upload_targets(request: Request, principal: Uploader, session: SessionDep, q: str = "") -> Response:
    """Requirements, measures and controls matching ``q``, as checkboxes for the form."""
    return render(
        request,
        "pages/evidence/_targets.html",
        {
            "targets": service.search_link_targets(session, q),
            "query": q,
        },
    )


def form_meta(fields: dict[str, str], links: list[str], filename: str | None) -> EvidenceMeta:
    """The metadata the upload form sent; the file name is the title when none was given."""
    values: dict[str, Any] = {
        "title": fields.get("title", "").strip() or (filename or ""),
        "description": fields.get("description", "").strip() or None,
        "collected_at": _collected_at(fields.get("collected_on", "")),
        "period_from": _optional_date(fields.get("period_from", ""), "period_from"),
        "period_to": _optional_date(fields.get("period_to", ""), "period_to"),
        "valid_until": _optional_date(fields.get("valid_until", ""), "valid_until"),
        "supersedes": _optional_int(fields.get("supersedes", ""), "supersedes"),
        "requirements": [name for name in links if "/" in name],
        "controls": [name for name in links if "/" not in name],
    }
    try:
        return EvidenceMeta.model_validate(values)
    except ValidationError as error:
        errors = [{"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()]
        raise InvalidInput("; ".join(f"{e['location']}: {e['message']}" for e in errors), errors=errors) from None


def _collected_at(value: str) -> datetime | None:
    day = _optional_date(value, "collected_on")
    if day is None:
        return None
    if day == clock.utcnow().date():
        return clock.utcnow()
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def _optional_int(value: str, name: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(
            N_("%(field)s: '%(value)s' is not a number."), values={"field": name, "value": value}
        ) from None


@router.post("/evidence/upload")
async def upload(request: Request, principal: Uploader, session: SessionDep, store: StoreDep) -> Response:
    """The form's fields come first (browsers send them in page order), then one or more files;
    each file streams into the store as it arrives. Needs the X-CSRF-Token header (htmx sends it)."""
    fields: dict[str, str] = {}
    links: list[str] = []
    created: list[Evidence] = []
    async for part in MultipartUpload(request).parts():
        if not part.is_file:
            value = await part.text()
            if part.name == "links":
                links.append(value)
            elif part.name in UPLOAD_FIELDS:
                fields[part.name] = value
            continue
        if part.name != "files":
            raise InvalidInput(N_("Unexpected file field '%(name)s'."), values={"name": part.name})
        if not part.filename:
            await part.skip()  # a browser sends an empty part for a file input left empty
            continue
        meta = form_meta(fields, links, part.filename)
        answering = _optional_int(fields.get("request_id", ""), "request_id")
        if answering is not None and not created:
            # Refused before the first byte is stored when the request takes no answers.
            await anyio.to_thread.run_sync(requests_service.open_request_for_upload, session, principal, answering)
        evidence = await _ingest_form_file(request, session, store, principal, meta, part)
        if answering is not None:
            await anyio.to_thread.run_sync(_answer_request, session, principal, answering, evidence, request)
        created.append(evidence)
        # A correction supersedes once: further files of the same upload are items of their own.
        fields.pop("supersedes", None)
    if not created:
        raise InvalidInput(
            N_("Choose at least one file to upload."), errors=[{"location": "files", "message": N_("no file")}]
        )
    return _after_upload(request, created)


async def _ingest_form_file(
    request: Request, session: Session, store: ObjectStore, principal: Principal, meta: EvidenceMeta, part: Part
) -> Evidence:
    assert principal.user_id is not None
    source = EvidenceSource.upload(principal.user_id)
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
            max_bytes=settings.max_upload_bytes,
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


def _answer_request(
    session: Session, principal: Principal, request_id: int, evidence: Evidence, request: Request
) -> None:
    requests_service.link_uploaded_evidence(
        session, actor=actor_of(request, principal), request_id=request_id, evidence=evidence
    )


def _after_upload(request: Request, created: list[Evidence]) -> Response:
    if len(created) == 1:
        target = f"/evidence/{created[0].id}"
        if is_fragment_request(request):
            return Response(status_code=200, headers={"HX-Redirect": target})
        return Response(status_code=303, headers={"Location": target})
    return render(
        request, "pages/evidence/uploaded.html", {"page_title": "Uploaded", "created": created}, block="content"
    )
