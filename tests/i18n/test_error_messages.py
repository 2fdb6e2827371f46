"""Service refusals that carry a value are catalogue messages with placeholders: a form shows them
in the reader's language with the value filled in, the problem JSON keeps them English."""

from __future__ import annotations

from audit_portal.errors import InvalidInput

DUTCH = {"Accept-Language": "nl"}


def test_a_refusal_fills_its_values_after_translation():
    error = InvalidInput("'%(email)s' is not an e-mail address.", values={"email": "50%off"})
    assert error.detail == str(error) == "'50%off' is not an e-mail address."
    assert error.in_language("nl") == "'50%off' is geen e-mailadres."


def test_the_digest_form_refuses_an_address_in_dutch(login_as):
    page = login_as("management").post(
        "/notifications", data={"email": "boss at example", "digest": "on"}, headers=DUTCH
    )
    assert page.status_code == 422
    assert "&#39;boss at example&#39; is geen e-mailadres." in page.text


def test_the_user_and_token_forms_refuse_in_dutch(login_as, make_user):
    taken = make_user("it")
    admin = login_as("admin")
    users = admin.post("/admin/users", data={"username": taken.username, "role": "it"}, headers=DUTCH)
    assert users.status_code == 409 and f"De gebruikersnaam &#39;{taken.username}&#39; is al in gebruik." in users.text
    role = admin.post("/admin/users", data={"username": "new.user", "role": "boss"}, headers=DUTCH)
    assert "Onbekende rol &#39;boss&#39;; kies uit " in role.text
    tokens = admin.post("/admin/tokens", data={"name": "host", "scopes": "aws", "days": "9999"}, headers=DUTCH)
    assert tokens.status_code == 422 and "Een token verloopt na 1 tot 730 dagen." in tokens.text


def test_the_error_page_is_dutch_and_the_problem_json_english(app, client):
    def refuse() -> None:
        raise InvalidInput("'%(email)s' is not an e-mail address.", values={"email": "100%"})

    for path in ("/refusal", "/api/refusal"):
        app.add_api_route(path, refuse)
    page = client.get("/refusal", headers=DUTCH | {"Accept": "text/html"})
    assert page.status_code == 422 and "&#39;100%&#39; is geen e-mailadres." in page.text  # a "%" in a value is text
    problem = client.get("/api/refusal", headers=DUTCH)
    assert problem.json()["detail"] == "'100%' is not an e-mail address."
