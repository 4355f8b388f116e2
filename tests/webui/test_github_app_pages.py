"""The GitHub App's pages and webhook with Flask's test client against the
fake GitHub (real HTTP): who may create and install it, the `state` checks
on both round trips, and what the App's webhook refuses."""
from __future__ import annotations

import dataclasses
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select, update

from envelope.models import (
    AppDelivery,
    GitHubApp,
    GitHubInstallation,
    RepositoryConnection,
    User,
)
from tests.fake_github import FakeGitHub


@pytest.fixture
def fake():
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture
def settings(settings, fake):
    return dataclasses.replace(settings, github_api_url=fake.api_url)


@pytest.fixture
def admin(world):
    with world.db.write() as session:
        session.execute(update(User).where(User.username == "olivia").values(is_admin=True))
    return world.browser("olivia")


def manifest_form(page: str) -> tuple[str, str]:
    action = html.unescape(re.search(r'<form method="post" action="([^"]+/apps/new[^"]*)"', page).group(1))
    manifest = html.unescape(re.search(r'name="manifest" value="([^"]+)"', page).group(1))
    return action, manifest


def create_app(admin, fake) -> GitHubApp:
    """What the browser does: post the manifest to GitHub, follow it back."""
    action, manifest = manifest_form(admin.get("/admin/github-app").get_data(as_text=True))
    back = requests.post(action, data={"manifest": manifest}, allow_redirects=False, timeout=10)
    assert back.status_code == 302
    target = urlsplit(back.headers["Location"])
    assert target.netloc == "pkgs.example.com"  # ENVELOPE_BASE_URL, never a Host header
    done = admin.get(f"{target.path}?{target.query}")
    assert done.status_code == 302, done.get_data(as_text=True)
    return fake.app


def install(world, browser, fake, repos: list[str]) -> int:
    page = browser.get("/acme/repositories").get_data(as_text=True)
    link = html.unescape(re.search(r'href="([^"]+/installations/new[^"]*)"', page).group(1))
    fake.prepare_installation("acme-gh", repos)
    back = requests.get(link, allow_redirects=False, timeout=10)
    target = urlsplit(back.headers["Location"])
    answer = browser.get(f"{target.path}?{target.query}")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return int(parse_qs(target.query)["installation_id"][0])


def test_only_administrators_manage_the_app(world, fake):
    assert world.browser("max").get("/admin/github-app").status_code == 403
    assert world.browser("olivia").get("/admin/github-app/created?code=abc&state=x").status_code == 403


def test_manifest_flow_checks_state_and_stores_the_app_sealed(world, admin, fake, settings):
    page = admin.get("/admin/github-app")
    assert f"form-action 'self' {fake.api_url}" in page.headers["Content-Security-Policy"]
    action, manifest = manifest_form(page.get_data(as_text=True))
    assert action.startswith(f"{fake.api_url}/settings/apps/new?state=")
    back = requests.post(action, data={"manifest": manifest}, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    # Another session's state (or none) is refused; the code stays unused.
    assert world.browser("olivia").get(f"/admin/github-app/created?code={code}&state=guess").status_code == 400
    with world.db.read() as session:
        assert session.scalar(select(func.count()).select_from(GitHubApp)) == 0
    state = parse_qs(urlsplit(action).query)["state"][0]
    assert admin.get(f"/admin/github-app/created?code={code}&state={state}").status_code == 302
    # The state works once.
    assert admin.get(f"/admin/github-app/created?code={code}&state={state}").status_code == 400
    with world.db.read() as session:
        stored = session.scalar(select(GitHubApp))
        assert stored.app_id == fake.app.id and fake.app.pem.split("\n")[1] not in stored.private_key_sealed
    assert "App id" in admin.get("/admin/github-app").get_data(as_text=True)


def test_org_variant_and_bad_org_names(world, admin, fake):
    page = admin.get("/admin/github-app?github_org=acme-gh").get_data(as_text=True)
    assert manifest_form(page)[0].startswith(f"{fake.api_url}/organizations/acme-gh/settings/apps/new?state=")
    assert admin.get("/admin/github-app?github_org=../evil").status_code == 400


def test_install_binds_to_the_session_that_started_it(world, admin, fake):
    create_app(admin, fake)
    repo = fake.add_repo("acme-gh", "billing", private=True)
    owner = world.browser("olivia")
    page = owner.get("/acme/repositories").get_data(as_text=True)
    link = html.unescape(re.search(r'href="([^"]+/installations/new[^"]*)"', page).group(1))
    fake.prepare_installation("acme-gh", [repo.full_name])
    target = urlsplit(requests.get(link, allow_redirects=False, timeout=10).headers["Location"])
    # Another person (owner of another organization) following the same link changes nothing.
    assert world.browser("otto").get(f"{target.path}?{target.query}").status_code == 400
    # A maintainer of acme in their own session cannot either (not theirs, and not an owner).
    assert world.browser("max").get(f"{target.path}?{target.query}").status_code == 400
    assert owner.get(f"{target.path}?{target.query}").status_code == 302
    with world.db.read() as session:
        row = session.scalar(select(GitHubInstallation))
        assert (row.account_login, row.organization_id) == ("acme-gh", world.acme.id)
    listing = owner.get("/acme/repositories").get_data(as_text=True)
    assert 'value="acme-gh/billing"' in listing
    # Repositories the installation cannot see are refused.
    installation_id = row.installation_id
    refused = owner.post("/acme/repositories/app", {"installation_id": str(installation_id),
                                                    "full_name": "acme-gh/secret"})
    assert refused.status_code == 302
    with world.db.read() as session:
        assert session.scalar(select(func.count()).select_from(RepositoryConnection)) == 0
    # Readers and maintainers do not connect.
    assert world.browser("max").post("/acme/repositories/app", {"installation_id": str(installation_id),
                                                                 "full_name": "acme-gh/billing"}).status_code == 403
    assert owner.post("/acme/repositories/app", {"installation_id": str(installation_id),
                                                 "full_name": "acme-gh/billing"}).status_code == 302
    with world.db.read() as session:
        connection = session.scalar(select(RepositoryConnection))
        assert connection.webhook_secret_sealed is None and connection.github_token_sealed is None
    overview = admin.get("/admin/github-app").get_data(as_text=True)
    assert re.search(r"<th scope=\"row\">acme-gh</th><td>active</td>\s*<td>acme</td>\s*<td>1</td>", overview)


def test_an_installation_belongs_to_one_organization(world, admin, fake):
    create_app(admin, fake)
    repo = fake.add_repo("acme-gh", "billing")
    installation_id = install(world, world.browser("olivia"), fake, [repo.full_name])
    # The owner of another organization installs on the same GitHub account (GitHub answers
    # with the existing installation, setup_action=update): refused, acme keeps it.
    otto = world.browser("otto")
    page = otto.get("/other/repositories").get_data(as_text=True)
    link = html.unescape(re.search(r'href="([^"]+/installations/new[^"]*)"', page).group(1))
    fake.prepare_installation("acme-gh", [repo.full_name])
    target = urlsplit(requests.get(link, allow_redirects=False, timeout=10).headers["Location"])
    assert parse_qs(target.query)["installation_id"] == [str(installation_id)]
    assert otto.get(f"{target.path}?{target.query}").status_code == 409
    with world.db.read() as session:
        assert session.scalar(select(GitHubInstallation.organization_id)) == world.acme.id


def test_app_webhook_refusals_and_redelivery(world, admin, fake):
    create_app(admin, fake)
    repo = fake.add_repo("acme-gh", "billing", private=True)
    installation_id = install(world, world.browser("olivia"), fake, [repo.full_name])
    client = world.app.test_client()
    payload = fake.installation_event(installation_id, "suspend")
    body, headers = fake.app_webhook_request("installation", payload, delivery="d-1")
    assert client.post("/hooks/github/app", data=body, headers={**headers, "X-Hub-Signature-256": ""}
                       ).status_code == 401
    _, forged = fake.app_webhook_request("installation", payload, secret="wrong", delivery="d-1")
    assert client.post("/hooks/github/app", data=body, headers=forged).status_code == 403
    assert client.post("/hooks/github/app", data=body, headers=headers).status_code == 200
    again = client.post("/hooks/github/app", data=body, headers=headers)
    assert again.status_code == 200 and "Already received" in again.get_json()["message"]
    with world.db.read() as session:
        assert session.scalar(select(GitHubInstallation.status)) == "suspended"
        assert session.scalar(select(func.count()).select_from(AppDelivery)) == 1
    # A release of a suspended installation, and of one never seen, are refused.
    release = fake.add_release(repo.full_name, "v1")
    event = {"action": "published", "release": fake.release_json(repo.full_name, release),
             "repository": fake.repo_json(repo.full_name), "installation": {"id": installation_id}}
    body, headers = fake.app_webhook_request("release", event)
    assert client.post("/hooks/github/app", data=body, headers=headers).status_code == 403
    body, headers = fake.app_webhook_request("release", {**event, "installation": {"id": 4242}})
    assert client.post("/hooks/github/app", data=body, headers=headers).status_code == 403


def test_app_webhook_without_an_app_is_refused(world, fake):
    client = world.app.test_client()
    response = client.post("/hooks/github/app", data=b'{"installation": {"id": 1}}', headers={
        "X-GitHub-Event": "installation", "X-GitHub-Delivery": "d",
        "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert response.status_code == 403


def test_an_installation_id_alone_claims_nothing(world, admin, fake):
    """An owner of another organization, with a state of their own session and a
    GitHub account of their own, types the id of acme's fresh installation into
    the callback: GitHub's list of what their account manages does not have it,
    so nothing is bound; the real installer's callback still works after."""
    create_app(admin, fake)
    assert fake.app.manifest["request_oauth_on_install"] is True
    assert fake.app.manifest["callback_urls"] == ["https://pkgs.example.com/github-app/installed"]
    repo = fake.add_repo("acme-gh", "billing", private=True)
    olivia = world.browser("olivia")
    page = olivia.get("/acme/repositories").get_data(as_text=True)
    link = html.unescape(re.search(r'href="([^"]+/installations/new[^"]*)"', page).group(1))
    fake.prepare_installation("acme-gh", [repo.full_name], installer="acme-admin")
    back = urlsplit(requests.get(link, allow_redirects=False, timeout=10).headers["Location"])
    assert back.path == "/github-app/installed" and "code" in parse_qs(back.query)
    installation_id = parse_qs(back.query)["installation_id"][0]

    otto = world.browser("otto")
    page = otto.get("/other/repositories").get_data(as_text=True)
    otto_state = parse_qs(urlsplit(html.unescape(
        re.search(r'href="([^"]+/installations/new[^"]*)"', page).group(1))).query)["state"][0]
    forged = f"/github-app/installed?installation_id={installation_id}&setup_action=install&state={otto_state}"
    stolen = otto.get(f"{forged}&code={fake.oauth_code('mallory')}")
    assert stolen.status_code == 403
    assert f"Your GitHub account does not manage installation {installation_id}" in stolen.get_data(as_text=True)
    assert otto.get(forged).status_code == 400  # no code: GitHub did not say who installed it
    assert otto.get(f"{forged}&code={fake.oauth_code('mallory')}x").status_code == 400  # not GitHub's code
    with world.db.read() as session:
        assert session.scalar(select(func.count()).select_from(GitHubInstallation)) == 0

    assert olivia.get(f"{back.path}?{back.query}").status_code == 302
    with world.db.read() as session:
        assert session.scalar(select(GitHubInstallation.organization_id)) == world.acme.id
    # The code works once: replaying the owner's own callback binds nothing new and says why.
    replay = olivia.get(f"{back.path}?{back.query}")
    assert replay.status_code == 400 and "used or expired" in replay.get_data(as_text=True)


def test_the_hourly_poll_reads_app_connections_with_installation_tokens(world, admin, fake):
    """A release GitHub never sent a webhook for (a missed delivery) is found by
    the poll, which reads the repository as the installation: a fresh token,
    no JWT on the repository routes, no personal token anywhere."""
    from envelope.github import polling
    from envelope.models import SyncRun

    create_app(admin, fake)
    repo = fake.add_repo("acme-gh", "billing", private=True)
    installation_id = install(world, world.browser("olivia"), fake, [repo.full_name])
    assert world.browser("olivia").post("/acme/repositories/app", {"installation_id": str(installation_id),
                                                                   "full_name": repo.full_name}).status_code == 302
    release = fake.add_release(repo.full_name, "v2.0.0")
    fake.add_asset(repo.full_name, release, "billing-2.0.0-py3-none-any.whl", b"not read by the poll")
    fake.clear_requests()
    runtime = world.app.extensions["envelope"]
    assert polling.poll_connections(runtime) == 1
    with world.db.read() as session:
        run = session.scalar(select(SyncRun))
        assert (run.trigger, run.release_tag) == ("poll", "v2.0.0")
    listing = fake.matching("/releases?per_page=100", host="api")
    assert listing and all(r.header("Authorization").split(" ", 1)[1].startswith("ghs_") for r in listing), listing
    assert polling.poll_connections(runtime) == 0  # nothing changed: the conditional request says so
    # Taken out of the installation (its webhook lost too): GitHub hides the repository from
    # the installation's token, the poll says so in the log and queues nothing.
    fake.remove_installation_repos(installation_id, [repo.full_name])
    fake.add_release(repo.full_name, "v2.1.0")
    assert polling.poll_connections(runtime) == 0
    with world.db.read() as session:
        assert session.scalar(select(func.count()).select_from(SyncRun)) == 1
