"""The collector instance API (``/api/v1/collector-instances``): list, create and change
instances as the instance form does, under the same rules: only what each collector declares
safe, never a command or file of the caller's choosing, never a host-managed instance."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from audit_portal.authz import Authorize, Principal
from audit_portal.collection import repository, service
from audit_portal.collection.models import CollectorInstance
from audit_portal.collection.secrets import masked_stored
from audit_portal.db import SessionDep
from audit_portal.request_actor import actor_of

router = APIRouter(prefix="/api/v1/collector-instances", tags=["collectors"])
Reader = Annotated[Principal, Authorize("collectors:read")]
Manager = Annotated[Principal, Authorize("collectors:manage")]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class InstanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collector: str = Field(max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)
    schedule: str | None = Field(default=None, max_length=100)
    enabled: bool = True
    remote: bool = False
    requirements: list[str] | None = None
    timeout_seconds: int = service.DEFAULT_TIMEOUT_SECONDS


class InstanceOut(BaseModel):
    name: str
    collector: str
    schedule: str
    enabled: bool
    remote: bool
    host_managed: bool
    requirements: list[str]
    timeout_seconds: int
    config: dict[str, Any] = Field(description="Secrets masked.")


def _out(instance: CollectorInstance) -> InstanceOut:
    return InstanceOut(
        name=instance.name,
        collector=instance.collector,
        schedule=instance.schedule,
        enabled=instance.enabled,
        remote=instance.remote,
        host_managed=instance.host_managed,
        requirements=instance.requirement_list,
        timeout_seconds=instance.timeout_seconds,
        config=masked_stored(json.loads(instance.config_json)),
    )


def _spec(name: str, body: InstanceBody) -> service.InstanceSpec:
    return service.InstanceSpec(name=name, **body.model_dump())


@router.get(
    "",
    response_model=list[InstanceOut],
    responses={401: PROBLEM, 403: PROBLEM},
    summary="Every collector instance, secrets masked",
)
def list_instances(session: SessionDep, principal: Reader) -> list[InstanceOut]:
    return [_out(instance) for instance in repository.instances(session)]


@router.put(
    "/{name}",
    response_model=InstanceOut,
    responses={201: {"model": InstanceOut}, 401: PROBLEM, 403: PROBLEM, 409: PROBLEM, 422: PROBLEM},
    summary="Create or change an instance (only the sources its collector declares safe)",
)
def put_instance(
    request: Request, session: SessionDep, principal: Manager, name: str, body: InstanceBody
) -> JSONResponse:
    created = repository.instance_by_name(session, name) is None
    instance = service.save_instance(
        session, _spec(name, body), settings=request.app.state.settings, actor=actor_of(request, principal)
    )
    return JSONResponse(_out(instance).model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    "/{name}",
    response_model=InstanceOut,
    responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM},
    summary="One collector instance, secrets masked",
)
def get_instance(session: SessionDep, principal: Reader, name: str) -> InstanceOut:
    return _out(service.get_instance(session, name))
