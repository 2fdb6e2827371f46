"""Service refusals that carry a value are catalogue messages with placeholders: a form shows them
in the reader's language with the value filled in, the problem JSON keeps them English."""

from __future__ import annotations

import random
from datetime import date

import pytest

from audit_portal.clock import utcnow
from audit_portal.errors import Conflict, InvalidInput
from audit_portal.i18n import N_, Word, Words
from audit_portal.principals import Actor
from audit_portal.requests import service as request_service
from audit_portal.trends.service import backfill
from tests.collection.conftest import scope  # noqa: F401
from tests.collection.test_rule_review import _form, _rules, firewall, run_id  # noqa: F401
from tests.conftest import TEST_PASSWORD
from tests.engagements.fixtures import catalogue, workspace  # noqa: F401
from tests.engagements.test_occurrences import HTMX, _requirement_id
from tests.engagements.test_sampling import items, runs  # noqa: F401
from tests.evidence.test_integrity import add, damage
from tests.security.conftest import post_login

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


def test_a_field_error_fills_its_values_after_translation_and_the_api_gets_them_filled_in():
    error = InvalidInput(
        "The request was not sent.",
        errors=[{"location": "subject", "message": "There is no requirement '%(key)s'.", "values": {"key": "5%/x"}}],
    )
    assert error.errors == [{"location": "subject", "message": "There is no requirement '5%/x'."}]
    assert error.field_errors("nl") == {"subject": "Er is geen eis '5%/x'."}


def test_the_date_filters_refuse_in_dutch_and_the_api_stays_english(login_as):
    auditor_view = login_as("it")
    listing = auditor_view.get("/evidence?period_from=yesterday", headers=DUTCH | {"Accept": "text/html"})
    assert listing.status_code == 422 and "period_from: &#39;yesterday&#39; is geen datum (JJJJ-MM-DD)." in listing.text
    audit_log = login_as("admin").get("/admin/audit-log?since=soon", headers=DUTCH | {"Accept": "text/html"})
    assert audit_log.status_code == 422 and "from: gebruik een datum als 2026-12-31." in audit_log.text
    api = auditor_view.get("/api/v1/evidence?requirement=NOPE-1/none", headers=DUTCH)
    assert api.status_code == 422 and api.json()["detail"] == "Unknown requirement 'NOPE-1/none'."
    page = auditor_view.get("/evidence?requirement=NOPE-1/none", headers=DUTCH | {"Accept": "text/html"})
    assert "Onbekende eis &#39;NOPE-1/none&#39;." in page.text


def test_request_and_finding_forms_refuse_in_dutch(workspace, login_as):
    auditor = login_as(workspace.auditor)
    asked = auditor.post(
        f"/engagements/{workspace.engagement_id}/requests/new",
        data={"subject": "99.9", "question": "Patch reports", "due_date": "someday"},
        headers=DUTCH,
    )
    assert asked.status_code == 422
    assert "Er is geen beheersmaatregel of maatregel &#39;99.9&#39; in de editie van deze opdracht." in asked.text
    assert "Geef de uiterste datum als JJJJ-MM-DD." in asked.text
    found = auditor.post(
        f"/engagements/{workspace.engagement_id}/findings/new",
        data={"title": "", "category": "observation", "control_refs": "8.8", "detail": "x" * 20_001},
        headers=DUTCH,
    )
    assert found.status_code == 422 and "Geef de bevinding een titel." in found.text


def test_the_password_change_and_the_user_page_answer_in_dutch(login_as, make_user):
    user = make_user("it")
    browser = login_as(user)
    wrong = browser.post(
        "/profile/password",
        data={"current_password": "not the password", "new_password": "x", "confirm_password": "x"},
        headers=DUTCH,
    )
    assert wrong.status_code == 422 and "Het huidige wachtwoord is onjuist." in wrong.text
    short = browser.post(
        "/profile/password",
        data={"current_password": TEST_PASSWORD, "new_password": "kort", "confirm_password": "kort"},
        headers=DUTCH,
    )
    assert short.status_code == 422 and "Gebruik ten minste 12 tekens." in short.text
    restored = login_as("admin").post(f"/admin/users/{user.id}/restore", headers=DUTCH)
    assert restored.status_code == 200 and "Toegang hersteld." in restored.text


def test_the_sample_forms_refuse_in_dutch(workspace, runs, login_as):
    auditor = login_as(workspace.auditor)
    base = f"/engagements/{workspace.engagement_id}/samples"
    too_many = auditor.post(base, data={"subject": "OPS-2/patches", "size": "50"}, headers=DUTCH)
    assert too_many.status_code == 422
    assert "staat 5 tot 15 item(s) toe uit deze populatie van 20; deze steekproef heeft er 50." in too_many.text
    unknown = auditor.post(base, data={"subject": "NOPE-1/none"}, headers=DUTCH)
    assert unknown.status_code == 422 and "Er is geen eis &#39;NOPE-1/none&#39;." in unknown.text
    url = auditor.post(base, data={"subject": "OPS-2/patches", "seed": "12345"}).headers["location"]
    first = random.Random(12345).sample(runs, 5)[0]
    untold = auditor.post(f"{url}/items/{first}/result", data={"result": "not_tested", "note": ""}, headers=DUTCH)
    assert untold.status_code == 422 and "Zeg waarom dit item niet is getest." in untold.text
    early = auditor.post(f"{url}/conclude", data={"conclusion": "effective", "conclusion_note": "ok"}, headers=DUTCH)
    assert early.status_code == 422 and "Leg eerst voor elk item een resultaat vast" in early.text


@pytest.mark.usefixtures("catalogue")
def test_rule_decisions_and_the_sign_off_refuse_in_dutch(login_as, session, store, run_id):
    it = login_as("it")
    rules = _rules(session, store, run_id)
    first = rules[0]
    unreasoned = it.post(
        f"/runs/{run_id}/rule-decisions",
        data=_form(rules, lambda r: ("remove", "") if r.index == first.index else ("", "")),
        headers=DUTCH,
    )
    assert unreasoned.status_code == 422
    assert "een besluit &#39;remove&#39; heeft een reden nodig" in unreasoned.text
    assert "1 besluit over een regel kon niet worden opgeslagen; er is niets opgeslagen." in unreasoned.text
    early = it.post(f"/runs/{run_id}/signoff", data={"remark": "Beoordeeld."}, headers=DUTCH)
    assert early.status_code == 422
    assert f"{len(rules)} van {len(rules)} regels hebben nog geen besluit (eerste: {first.label})" in early.text


def test_the_engagement_form_and_the_evidence_review_refuse_in_dutch(workspace, login_as):
    form = {"name": "Certificeringsaudit", "framework_key": "iso27001-2022", "period_start": "gisteren"}
    refused = login_as(workspace.admin).post(
        "/engagements/new", data=form | {"period_end": "2026-01-01", "scope_refs": "8.8, 99.9"}, headers=DUTCH
    )
    assert refused.status_code == 422
    assert "Geef de eerste dag van de periode als JJJJ-MM-DD." in refused.text
    assert "ISO/IEC 27001:2022 heeft geen beheersmaatregel 99.9." in refused.text
    missing = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/controls/99.9", headers=DUTCH)
    assert missing.status_code == 404 and "heeft geen beheersmaatregel of maatregel &#39;99.9&#39;." in missing.text


def test_the_dashboard_filters_refuse_in_dutch_and_the_problem_json_stays_english(login_as):
    management = login_as("management")
    page = management.get("/dashboard/controls?status=great", headers=DUTCH | {"Accept": "text/html"})
    assert page.status_code == 422 and "Onbekende status &#39;great&#39;; gebruik een van applicable, " in page.text
    missing = management.get("/?engagement=999999", headers=DUTCH | {"Accept": "text/html"})
    assert missing.status_code == 404 and "Audit 999999 bestaat niet." in missing.text
    problem = management.get("/dashboard/collectors?show=everything", headers=DUTCH | {"Accept": "application/json"})
    assert problem.json()["detail"] == "Unknown view 'everything'; use one of all, late, failed."


def test_status_words_and_choice_lists_follow_the_reader_while_the_detail_stays_english():
    error = Conflict(
        N_("Finding %(id)s is %(status)s; plan the action before reporting it remediated."),
        values={"id": 4, "status": Word("action_planned")},
    )
    assert error.detail == "Finding 4 is action planned; plan the action before reporting it remediated."
    assert error.in_language("nl") == (
        "Bevinding 4 heeft de status actie gepland; plan de actie voordat u haar als hersteld meldt."
    )
    listed = InvalidInput(N_("Choose a severity: %(choices)s."), values={"choices": Words(["info", "low", "high"])})
    assert listed.detail == "Choose a severity: info, low, high."
    assert listed.in_language("nl") == "Kies een ernst: info, laag, hoog."


def test_a_collector_instance_refuses_in_dutch_and_the_problem_json_stays_english(login_as):
    it = login_as("it")
    missing = it.get("/collectors/nope", headers=DUTCH | {"Accept": "text/html"})
    assert missing.status_code == 404 and "Er is geen collectorinstantie &#39;nope&#39;." in missing.text
    problem = it.get("/collectors/nope", headers=DUTCH | {"Accept": "application/json"})
    assert problem.json()["detail"] == "There is no collector instance 'nope'."
    form = {"name": "Bad Name", "collector": "tiny", "schedule": "", "config": "", "timeout_seconds": "60"}
    refused = login_as("admin").post("/collectors", data=form, headers=DUTCH)
    assert refused.status_code == 422 and "&#39;Bad Name&#39; is geen bruikbare instantienaam" in refused.text
    unmapped = login_as("admin").post("/collectors", data=form | {"name": "ok", "config": "- a"}, headers=DUTCH)
    assert "De configuratie moet een YAML-mapping zijn" in unmapped.text


@pytest.mark.usefixtures("catalogue")
def test_the_catalogue_and_the_soa_refuse_in_dutch(login_as):
    auditor = login_as("auditor")
    control = auditor.get("/catalogue/iso27001-2022/99.9", headers=DUTCH | {"Accept": "text/html"})
    assert control.status_code == 404 and "ISO 27001:2022 heeft geen beheersmaatregel &#39;99.9&#39;." in control.text
    framework = auditor.get("/catalogue/nist", headers=DUTCH | {"Accept": "text/html"})
    assert "De catalogus heeft geen normenkader &#39;nist&#39;." in framework.text
    admin = login_as("admin")
    soa = admin.post("/soa/8.13", data={"applicable": "yes", "status": "done", "owner": "x" * 101}, headers=DUTCH)
    assert soa.status_code == 422
    assert "Kies een status: Niet gestart, Gedeeltelijk, Geïmplementeerd." in soa.text
    assert "Houd de eigenaar onder 100 tekens." in soa.text
    unknown = admin.post("/soa/A.5.1.1", data={"applicable": "yes"}, headers=DUTCH | {"Accept": "text/html"})
    assert (
        unknown.status_code == 404 and "ISO 27001:2022 heeft geen beheersmaatregel &#39;A.5.1.1&#39;." in unknown.text
    )
    short = admin.post(
        "/catalogue/requirements/switch-off", data={"key": "5.5/authority-contacts", "reason": "no"}, headers=DUTCH
    )
    assert short.status_code == 422 and "Geef aan waarom deze eis niet van toepassing is" in short.text


def test_reports_and_trends_refuse_in_dutch(login_as):
    page = login_as("admin").post("/reports/generate", data={"month": "soon"}, headers=DUTCH | {"Accept": "text/html"})
    assert page.status_code == 422 and "&#39;soon&#39; is geen maand; schrijf die als JJJJ-MM" in page.text
    problem = login_as("admin").post(
        "/reports/generate", data={"month": "soon"}, headers={"Accept": "application/json"}
    )
    assert problem.json()["detail"] == "'soon' is not a month; write it as YYYY-MM, e.g. 2026-10."
    later = f"{utcnow().year + 1}-01"
    future = login_as("admin").post("/reports/generate", data={"month": later}, headers=DUTCH)
    assert future.status_code == 422 and f"{later} is nog niet begonnen" in future.text
    with pytest.raises(InvalidInput) as refused:
        backfill(None, date(2026, 3, 2), date(2026, 3, 1))  # type: ignore[arg-type]  # refused before any query
    assert refused.value.detail == "The back-fill ends (2026-03-01) before it starts (2026-03-02)."
    assert refused.value.in_language("nl").startswith("De aanvulling met terugwerkende kracht eindigt (2026-03-01)")


def test_a_user_or_token_looked_up_by_id_and_the_role_refusal_are_dutch(login_as):
    admin = login_as("admin")
    user = admin.post("/admin/users/999999/restore", headers=DUTCH)
    assert user.status_code == 404 and "Er is geen gebruiker 999999." in user.text
    token = admin.post("/admin/tokens/999999/revoke", headers=DUTCH)
    assert token.status_code == 404 and "Er is geen servicetoken 999999." in token.text
    role = login_as("management").get("/admin/users", headers=DUTCH | {"Accept": "text/html"})
    assert role.status_code == 403 and "Uw rol (management) mag dit niet (" in role.text
    it = login_as("it").get("/admin/users", headers=DUTCH | {"Accept": "text/html"})
    assert "Uw rol (IT) mag dit niet (" in it.text
    problem = login_as("it").get("/admin/users", headers={"Accept": "application/json"})
    assert problem.json()["detail"].startswith("Your role (it) may not do this (")


def test_a_requests_state_inside_a_refusal_is_the_readers_word(workspace, login_as):
    asked = request_service.create(
        workspace.session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        subject="8.8",
        question="Patch reports",
        due_date=utcnow().date().isoformat(),
    )
    auditor = login_as(workspace.auditor)
    url = f"/engagements/{workspace.engagement_id}/requests/{asked.id}/state"
    assert auditor.post(url, data={"action": "close"}).status_code == 303
    again = auditor.post(url, data={"action": "accept"}, headers=DUTCH | {"Accept": "text/html"})
    assert again.status_code == 409
    assert f"Verzoek {asked.id} heeft de status gesloten en kan van daaruit niet worden geaccepteerd." in again.text
    problem = auditor.post(url, data={"action": "accept"}, headers={"Accept": "application/json"})
    assert problem.json()["detail"] == f"Request {asked.id} is closed; it cannot be accepted from there."


def test_the_finding_form_lists_the_readers_labels(workspace, login_as):
    found = login_as(workspace.auditor).post(
        f"/engagements/{workspace.engagement_id}/findings/new",
        data={"title": "Patching", "category": "bogus", "severity": "dire", "control_refs": "8.8"},
        headers=DUTCH,
    )
    assert found.status_code == 422
    assert "Kies een categorie: Grote afwijking, Kleine afwijking, Observatie, Verbeterpunt." in found.text
    assert "Kies een ernst: info, laag, middel, hoog, kritiek." in found.text


def test_the_occurrence_review_refuses_in_dutch(workspace, runs, session, login_as):
    base = f"/engagements/{workspace.engagement_id}/controls/OPS-2/requirements/{_requirement_id(session)}"
    auditor = login_as(workspace.auditor)
    nothing = auditor.post(f"{base}/occurrences/review", data={"decision": "maybe"}, headers=DUTCH | HTMX)
    assert nothing.status_code == 422
    assert "Kies accepteren of afwijzen." in nothing.text
    other = auditor.get(
        f"/engagements/{workspace.engagement_id}/controls/OPS-2/requirements/999999/occurrences",
        headers=DUTCH | {"Accept": "text/html"},
    )
    assert other.status_code == 404 and "OPS-2 heeft geen eis 999999." in other.text


def test_an_unknown_page_says_not_found_in_dutch_and_the_problem_json_keeps_starlettes_words(client):
    page = client.get("/no-such-page", headers=DUTCH | {"Accept": "text/html"})
    assert page.status_code == 404 and "<p>Niet gevonden</p>" in page.text and "Not Found" not in page.text
    wrong_method = client.delete("/login", headers=DUTCH | {"Accept": "text/html"})
    assert wrong_method.status_code == 405 and "Methode niet toegestaan" in wrong_method.text
    assert client.get("/api/v1/no-such-thing", headers=DUTCH).json()["detail"] == "Not Found"


def test_a_locked_sign_in_is_refused_in_dutch(client, make_user):
    make_user("it", "it.ops")
    client.headers["Accept-Language"] = "nl"
    for _ in range(5):
        post_login(client, "it.ops", "wrong-password-here")
    refused = post_login(client, "it.ops", TEST_PASSWORD)
    assert refused.status_code == 429
    assert "Te veel mislukte aanmeldpogingen. Aanmelden is 15 minuten geblokkeerd, tot " in refused.text
    assert "Too many" not in refused.text


def test_an_evidence_preview_explains_itself_in_dutch(login_as, session, catalogue, store):  # noqa: F811
    damaged, binary = add(session, store), add(session, store, b"\x00\x01\x02 no text \xff\xfe" * 50)
    damage(store, damaged)
    it = login_as("it")
    it.headers["Accept-Language"] = "nl"
    assert "Dit item is beschadigd: het opgeslagen bestand" in it.get(f"/evidence/{damaged.id}").text
    page = it.get(f"/evidence/{binary.id}").text
    assert f"Geen voorbeeld voor {binary.content_type}; download het bestand om het te openen." in page
