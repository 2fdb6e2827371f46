"""``Principal.account_id``: the user id of a person acting, and a 403 for a principal without
an account (a service token, the system, nobody signed in), so code that needs a person never
passes ``None`` on as a user id."""

from __future__ import annotations

import pytest

from audit_portal.errors import Forbidden
from audit_portal.principals import ANONYMOUS_PRINCIPAL, COLLECTOR, Actor, Principal, Role


def test_a_person_has_an_account_id() -> None:
    principal = Principal(role=Role.auditor, username="alice", user_id=7, session_id="s")
    assert principal.account_id == 7


@pytest.mark.parametrize(
    "principal",
    [
        Principal(role=COLLECTOR, username="token:edge", token_id=3, scopes=frozenset({"edge"})),
        Actor.system("scheduler").principal,
        ANONYMOUS_PRINCIPAL,
    ],
    ids=["service token", "system", "anonymous"],
)
def test_a_principal_without_an_account_is_refused(principal: Principal) -> None:
    with pytest.raises(Forbidden) as refused:
        principal.account_id  # noqa: B018 - the property raises
    assert refused.value.status_code == 403
    assert refused.value.detail == "Only a signed-in person can do this."
    assert refused.value.in_language("nl") == "Alleen een aangemelde persoon kan dit doen."
