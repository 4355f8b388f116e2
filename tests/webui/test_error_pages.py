"""Error pages say what to do next; machines keep their plain-text answers."""
from __future__ import annotations

CHROMIUM_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
                   "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


def test_a_browser_gets_a_page_with_next_steps_for_an_unknown_address(world):
    response = world.browser("rita").get("/no/such/page", headers={"Accept": CHROMIUM_ACCEPT})
    assert response.status_code == 404 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "What to do next" in text and "ask an owner of the organization to invite you" in text


def test_pip_and_curl_keep_plain_text(world):
    for accept in (PIP_ACCEPT, "*/*"):
        response = world.app.test_client().get("/no/such/page", headers={"Accept": accept})
        assert response.status_code == 404 and response.mimetype == "text/plain"


def test_a_private_project_page_404_names_the_next_steps(world):
    response = world.browser("otto").get("/acme/projects/anything/")
    assert response.status_code == 404
    assert "private organizations and projects look missing" in response.get_data(as_text=True).lower()
