"""``GET /``: a small index of where things are, instead of a 404."""

from __future__ import annotations

from django.test import Client

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_root_answers_json_links_that_work(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["api"] == "http://testserver/api/v1/"
    links = body["links"]
    assert links["docs"] == "http://testserver/api/docs/"
    assert links["admin"] == "http://testserver/admin/"
    assert links["health"] == "http://testserver/health"
    # Each link leads somewhere real (the admin to its sign-in page).
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/admin/").status_code == 302


def test_a_browser_gets_the_same_links_as_a_page(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert '<a href="http://testserver/api/docs/">docs</a>' in page
    assert '<a href="http://testserver/admin/">admin</a>' in page
    assert '<a href="http://testserver/health">health</a>' in page


def test_an_api_client_asking_for_json_gets_json(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT="application/json, text/html")
    assert response.json()["links"]["ready"] == "http://testserver/ready"


def test_a_write_to_the_root_is_405_in_the_envelope(client: Client) -> None:
    response = client.post("/", {"x": "1"})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"
