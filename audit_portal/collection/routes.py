"""Collector pages: the instances, one instance with its runs, one run with its log, findings,
artifacts and sign-off; the forms that configure an instance; "run now"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.collection import advisories, review, rule_review, service, views
from audit_portal.collection.secrets import MASK
from audit_portal.db import SessionDep
from audit_portal.engagements import scope
from audit_portal.errors import Conflict, InvalidInput
from audit_portal.forms import Refusal, see_other, submit_form
from audit_portal.i18n import N_
from audit_portal.request_actor import actor_of
from audit_portal.store import StoreDep
from audit_portal.templating import render, request_language
from collectors import registry

router = APIRouter()

Reader = Annotated[Principal, Authorize("collectors:read")]
Manager = Annotated[Principal, Authorize("collectors:manage")]
Runner = Annotated[Principal, Authorize("collectors:run")]
Signer = Annotated[Principal, Authorize("collectors:signoff")]
Decider = Annotated[Principal, Authorize("advisories:decide")]
FormText = Annotated[str, Form()]
FormList = Annotated[list[str] | None, Form()]


@router.get("/collectors", response_class=HTMLResponse)
def collectors_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    service.record_view(session, actor=actor_of(request, principal), object_type="collectors", object_id="list")
    return render(
        request,
        "pages/collectors/index.html",
        {
            "rows": views.overview(session, scope.scope_of(session, principal)),
            "can_manage": allowed("collectors:manage", principal.role),
            "can_run": allowed("collectors:run", principal.role),
        },
        block="content",
    )


@router.get("/collectors/new", response_class=HTMLResponse)
def new_instance_form(request: Request, session: SessionDep, principal: Manager) -> HTMLResponse:
    return _instance_form(
        request,
        None,
        {
            "schedule": "",
            "timeout_seconds": str(service.DEFAULT_TIMEOUT_SECONDS),
            "enabled": "yes",
            "config": "",
            "requirements": "",
        },
        {},
    )


@router.post("/collectors", response_class=HTMLResponse, response_model=None)
def save_instance(
    request: Request,
    session: SessionDep,
    principal: Manager,
    name: FormText = "",
    collector: FormText = "",
    schedule: FormText = "",
    requirements: FormText = "",
    timeout_seconds: FormText = "",
    enabled: FormText = "",
    remote: FormText = "",
    config: FormText = "",
    existing: FormText = "",
) -> Response:
    values = {
        "name": name,
        "collector": collector,
        "schedule": schedule,
        "requirements": requirements,
        "timeout_seconds": timeout_seconds,
        "enabled": enabled,
        "remote": remote,
        "config": config,
    }

    def change() -> Response:
        spec = service.spec_from_form(values)
        instance = service.save_instance(
            session, spec, settings=request.app.state.settings, actor=actor_of(request, principal)
        )
        return see_other(f"/collectors/{instance.name}")

    def refused(refusal: Refusal) -> HTMLResponse:
        current = service.get_instance(session, existing) if existing else None
        return _instance_form(request, current, values, {"form": refusal.message})

    return submit_form(request, change, refused)


@router.get("/collectors/{name}", response_class=HTMLResponse)
def instance_page(request: Request, session: SessionDep, principal: Reader, name: str) -> HTMLResponse:
    detail = views.instance_detail(
        session, name, scope.scope_of(session, principal), request.app.state.settings.collector_allowlist
    )
    service.record_view(session, actor=actor_of(request, principal), object_type="collector_instance", object_id=name)
    return render(
        request,
        "pages/collectors/instance.html",
        {
            "detail": detail,
            "can_manage": allowed("collectors:manage", principal.role),
            "can_run": allowed("collectors:run", principal.role),
        },
        block="content",
    )


@router.get("/collectors/{name}/edit", response_class=HTMLResponse)
def edit_instance_form(request: Request, session: SessionDep, principal: Manager, name: str) -> HTMLResponse:
    instance = service.get_instance(session, name)
    if instance.host_managed:
        raise Conflict(
            N_(
                "%(name)s is managed on the host: change its instance file there and import it again "
                "(audit-portal collectors import)."
            ),
            values={"name": name},
        )
    values = {
        "name": instance.name,
        "collector": instance.collector,
        "schedule": instance.schedule,
        "requirements": "\n".join(instance.requirement_list),
        "timeout_seconds": str(instance.timeout_seconds),
        "enabled": "yes" if instance.enabled else "",
        "remote": "yes" if instance.remote else "",
        "config": service.shown_config(instance),
    }
    return _instance_form(request, instance, values, {})


@router.post("/collectors/{name}/run", response_class=HTMLResponse, response_model=None)
def run_now(request: Request, session: SessionDep, store: StoreDep, principal: Runner, name: str) -> RedirectResponse:
    report = service.run_now(session, store, request.app.state.settings, name, actor=actor_of(request, principal))
    return RedirectResponse(f"/runs/{report.run_id}", status_code=303)


@router.post("/collectors/{name}/enabled", response_class=HTMLResponse, response_model=None)
def set_enabled(
    request: Request, session: SessionDep, principal: Manager, name: str, enabled: FormText = ""
) -> RedirectResponse:
    service.set_enabled(session, name, enabled == "yes", actor=actor_of(request, principal))
    return RedirectResponse(f"/collectors/{name}", status_code=303)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, session: SessionDep, store: StoreDep, principal: Reader, run_id: int) -> HTMLResponse:
    return _run_page(request, session, store, principal, run_id)


@router.post("/runs/{run_id}/rule-decisions", response_class=HTMLResponse, response_model=None)
def decide_rules(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    principal: Signer,
    run_id: int,
    rule: FormList = None,
    decision: FormList = None,
    reason: FormList = None,
) -> Response:
    submitted = _rule_rows(rule or [], decision or [], reason or [])

    def change() -> Response:
        rule_review.record_decisions(session, store, run_id, decisions=submitted, actor=actor_of(request, principal))
        return see_other(f"/runs/{run_id}#rule-decisions")

    def refused(refusal: Refusal) -> HTMLResponse:
        values = {index: (chosen, reason) for index, chosen, reason in submitted}
        return _run_page(
            request,
            session,
            store,
            principal,
            run_id,
            rules_error=refusal.message,
            rule_errors=refusal.fields,
            rule_values=values,
        )

    return submit_form(request, change, refused)


def _rule_rows(rules: list[str], decisions: list[str], reasons: list[str]) -> list[tuple[int, str, str]]:
    """The decision table's rows: each row posts its rule index, decision and reason, in order."""
    if not (len(rules) == len(decisions) == len(reasons)):
        raise InvalidInput(N_("The decision form arrived incomplete; reload the page and try again."))
    rows = []
    for index, decision, reason in zip(rules, decisions, reasons, strict=True):
        if not index.isdigit():
            raise InvalidInput(N_("The decision form names a rule that does not exist; reload the page."))
        rows.append((int(index), decision, reason))
    return rows


@router.post("/runs/{run_id}/signoff", response_class=HTMLResponse, response_model=None)
def sign_off(
    request: Request, session: SessionDep, store: StoreDep, principal: Signer, run_id: int, remark: FormText = ""
) -> Response:
    def change() -> Response:
        review.sign_off_run(session, run_id, remark=remark, actor=actor_of(request, principal), store=store)
        return see_other(f"/runs/{run_id}#signoff")

    def refused(refusal: Refusal) -> HTMLResponse:
        where = refusal.first_field("remark")
        return _run_page(
            request, session, store, principal, run_id, error=refusal.message, remark=remark, error_location=where
        )

    return submit_form(request, change, refused)


@router.post("/runs/{run_id}/advisory-decisions", response_class=HTMLResponse, response_model=None)
def decide_advisory(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    principal: Decider,
    run_id: int,
    advisory: FormText = "",
    status: FormText = "",
    note: FormText = "",
) -> Response:
    def change() -> Response:
        advisories.record_decision(
            session,
            run_id,
            advisory=advisory,
            status=status,
            note=note,
            actor=actor_of(request, principal),
            settings=request.app.state.settings,
        )
        return see_other(f"/runs/{run_id}#advisory-decisions")

    def refused(refusal: Refusal) -> HTMLResponse:
        values = {"advisory": advisory, "status": status, "note": note}
        return _run_page(request, session, store, principal, run_id, decision_error=refusal.message, decision=values)

    return submit_form(request, change, refused)


def _run_page(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    principal: Principal,
    run_id: int,
    *,
    error: str = "",
    error_location: str = "remark",
    remark: str = "",
    decision_error: str = "",
    decision: dict[str, str] | None = None,
    rules_error: str = "",
    rule_errors: dict[str, str] | None = None,
    rule_values: dict[int, tuple[str, str]] | None = None,
) -> HTMLResponse:
    detail = views.run_detail(session, run_id, scope.scope_of(session, principal))
    try:
        rules = rule_review.rules_of(session, store, detail)
    except rule_review.RulesUnreadable as unreadable:
        rules, rules_error = [], rules_error or unreadable.in_language(request_language(request))
    service.record_view(session, actor=actor_of(request, principal), object_type="collector_run", object_id=run_id)
    return render(
        request,
        "pages/collectors/run.html",
        {
            "detail": detail,
            "rules": rules,
            "undecided": len(rule_review.undecided(rules)),
            "decision_names": rule_review.RULE_DECISIONS,
            "decider_names": service.decider_names(session, rules),
            "rules_error": rules_error,
            "rule_errors": rule_errors or {},
            "rule_values": rule_values or {},
            "error_location": error_location,
            "signers": service.signer_names(session, detail),
            "can_sign": allowed("collectors:signoff", principal.role),
            "error": error,
            "remark": remark,
            "advisory_decisions": advisories.decisions_of(detail.instance),
            "open_advisories": advisories.open_advisories(detail),
            "can_decide": allowed("advisories:decide", principal.role),
            "decision_error": decision_error,
            "decision": decision or {},
        },
        block="content",
    )


def _instance_form(request: Request, instance: object, values: dict[str, str], errors: dict[str, str]) -> HTMLResponse:
    return render(
        request,
        "pages/collectors/edit.html",
        {
            "instance": instance,
            "values": values,
            "errors": errors,
            "plugins": [
                info
                for info in registry.discover(request.app.state.settings.collector_allowlist).values()
                if info.usable
            ],
            "mask": MASK,
        },
        block="form",
    )
