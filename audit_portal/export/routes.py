"""The export page of an engagement, the streamed package, and the portal's public key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, StreamingResponse
from starlette.background import BackgroundTask

from audit_portal.authz import Authorize, Principal
from audit_portal.db import SessionDep
from audit_portal.export import service
from audit_portal.export.package import TransportChunks, archive_stream
from audit_portal.export.signing import signing_key
from audit_portal.request_actor import actor_of
from audit_portal.store import StoreDep
from audit_portal.templating import render

router = APIRouter()

Exporter = Annotated[Principal, Authorize("export:create")]
PEM_MEDIA_TYPE = "application/x-pem-file"


@router.get("/engagements/{engagement_id}/export", response_class=HTMLResponse)
def export_page(request: Request, session: SessionDep, principal: Exporter, engagement_id: int) -> HTMLResponse:
    preview = service.preview(
        session, request.app.state.settings, actor=actor_of(request, principal), engagement_id=engagement_id
    )
    # The template's top-level names are passed too: an htmx request renders only the block.
    context = {"preview": preview, "engagement": preview.engagement, "contents": preview.contents}
    return render(request, "pages/export/index.html", context, block="content")


@router.get("/engagements/{engagement_id}/export.zip", response_class=StreamingResponse)
def export_zip(
    request: Request, session: SessionDep, store: StoreDep, principal: Exporter, engagement_id: int
) -> StreamingResponse:
    package = service.export(
        session, request.app.state.settings, actor=actor_of(request, principal), engagement_id=engagement_id
    )
    stream = TransportChunks(archive_stream(package, store))
    return StreamingResponse(
        stream,  # a sync iterable: Starlette reads it in a worker thread, so store reads never block the loop
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{package.filename}"',
            "Content-Length": str(len(stream)),
            "Cache-Control": "no-store",
            "X-Manifest-SHA256": package.manifest_sha256,
        },
        background=BackgroundTask(package.close),  # the spooled manifests go once the response is sent
    )


# The public key is published on purpose: an auditor fetches it (over the portal's TLS) to check
# packages offline, with curl as well as in the browser.
@router.get("/api/v1/signing-key", response_class=PlainTextResponse, dependencies=[Authorize("public")])
def public_key(request: Request) -> PlainTextResponse:
    key = signing_key(request.app.state.settings)
    return PlainTextResponse(
        key.public_pem,
        media_type=PEM_MEDIA_TYPE,
        headers={
            "Content-Disposition": 'inline; filename="audit-portal-signing-key.pem"',
            "X-Key-Fingerprint-SHA256": key.fingerprint,
        },
    )
