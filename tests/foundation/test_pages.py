from __future__ import annotations


def test_unknown_page_renders_the_error_page(client):
    response = client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "<html" in response.text and "404 · Not found" in response.text
    assert response.headers["vary"] == "HX-Request, Accept-Language"


def test_htmx_request_gets_only_the_fragment(client):
    response = client.get("/no-such-page", headers={"accept": "text/html", "hx-request": "true"})
    assert response.status_code == 404
    assert "<html" not in response.text
    assert "404 · Not found" in response.text


def test_api_errors_are_problem_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404
    assert response.json()["instance"] == "/api/v1/no-such-thing"


def test_vendored_htmx_is_served(client):
    response = client.get("/static/htmx-2.0.11.min.js")
    assert response.status_code == 200
    assert response.text.startswith("var htmx=")
