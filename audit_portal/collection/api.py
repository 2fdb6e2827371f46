"""The remote-run API: a collector on the host it inspects opens a run, pushes its three
artifacts to ``/api/v1/evidence`` (with ``collector_run_id``), then finishes the run with its
status, log and findings. Service tokens only, each scoped to its collector instances."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from audit_portal.authz import Authorize, Principal
from audit_portal.collection import service
from audit_portal.collection.schemas import RemoteRunFinish, RemoteRunOpened, RemoteRunStart
from audit_portal.db import SessionDep
from audit_portal.request_actor import actor_of

router = APIRouter(prefix="/api/v1/collector-runs", tags=["collectors"])
Pusher = Annotated[Principal, Authorize("evidence:push")]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.post(
    "",
    status_code=201,
    response_model=RemoteRunOpened,
    responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: PROBLEM},
    summary="Open a run of a remote collector instance (service token)",
)
def open_run(request: Request, session: SessionDep, principal: Pusher, body: RemoteRunStart) -> JSONResponse:
    opened = service.open_remote_run(session, body, actor=actor_of(request, principal))
    return JSONResponse(opened.model_dump(mode="json"), status_code=201, headers={"Location": f"/runs/{opened.run_id}"})


@router.post(
    "/{run_id}/finish",
    response_model=RemoteRunOpened,
    responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM},
    summary="Finish a remote run: status, log and findings (service token)",
)
def finish_run(
    request: Request, session: SessionDep, principal: Pusher, run_id: int, body: RemoteRunFinish
) -> RemoteRunOpened:
    return service.finish_remote_run(session, run_id, body, actor=actor_of(request, principal))
