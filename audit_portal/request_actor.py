"""The :class:`~audit_portal.principals.Actor` of an HTTP request: the web layer's side of it.

Routes and API modules build the actor here and hand it to services, so no service reads the
request itself (``tests/foundation/test_services_take_an_actor.py``).
"""

from fastapi import Request

from audit_portal.principals import Actor, Principal


def client_address(request: Request | None) -> str | None:
    """The client's address as the audit log records it (after the trusted-proxy rewrite)."""
    if request is None or request.client is None:
        return None
    return request.client.host[:64]


def actor_of(request: Request | None, principal: Principal) -> Actor:
    """The principal of a request, with the address it came from."""
    return Actor(principal, client_address(request))


def route_of(request: Request | None) -> str:
    """The route a request matched, as the refusal log names it (``GET /admin/users``)."""
    if request is None:
        return ""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"
