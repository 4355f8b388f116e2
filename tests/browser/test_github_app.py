"""The GitHub path without a personal token or a pasted secret, in Chromium
against `envelope serve` (real Celery worker) and the fake GitHub:

an administrator creates the instance's GitHub App by GitHub's manifest flow;
an organization owner installs it on their GitHub organization and connects
a private repository; a release webhook through the App's one webhook URL
publishes the wheels, fetched with installation tokens only; taking the
repository out of the installation stops it; uninstalling disconnects.
Refused: a bad signature, an unknown or uninstalled installation, a
manifest or installation callback whose state this browser did not start."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select

from envelope.db import Database
from envelope.models import AuditEvent, GitHubApp, RepositoryConnection
from tests.browser.conftest import screenshot
from tests.builders import make_sdist_raw, make_wheel
from tests.fake_github import FakeGitHub
from tests.services import EnvelopeServer, free_port

PASSWORD = "correct horse battery staple"
ORG = "acme"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake
        fake.assert_no_auth_leaks()


@pytest.fixture(scope="module")
def app_server(fake, tmp_path_factory) -> Iterator[EnvelopeServer]:
    port = free_port()
    server = EnvelopeServer(tmp_path_factory.mktemp("app-server"), port=port, extra_env={
        "ENVELOPE_BASE_URL": f"http://127.0.0.1:{port}",
        "ENVELOPE_GITHUB_API_URL": fake.api_url,
        "ENVELOPE_SYNC_FOLLOWUPS": "1,2",
        "ENVELOPE_RECONCILE_INTERVAL": "1",
    })
    server.start()
    try:
        server.cli("user", "create", "root", "--email", "root@example.com", "--admin", "--password-stdin",
                   input=PASSWORD + "\n")
        server.cli("user", "create", "olga", "--email", "olga@example.com", "--password-stdin",
                   input=PASSWORD + "\n")
        server.cli("org", "create", ORG, "--owner", "olga")
        yield server
    finally:
        server.stop()


@pytest.fixture
def tab(browser, app_server):
    def open_tab(width: int = 1280):
        context = browser.new_context(base_url=app_server.base_url, viewport={"width": width, "height": 900})
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    contexts: list = []
    yield open_tab
    for context in contexts:
        context.close()


def sign_in(page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or email address").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def database(server: EnvelopeServer) -> Database:
    return Database(f"sqlite:///{server.data_dir / 'envelope.db'}")


def connection_status(server: EnvelopeServer, full_name: str) -> str:
    db = database(server)
    try:
        with db.read() as session:
            return session.scalar(select(RepositoryConnection.status)
                                  .where(RepositoryConnection.full_name == full_name.lower()))
    finally:
        db.dispose()


def wait_for_files(server, token: str, project: str, count: int, timeout: float = 60) -> set[str]:
    deadline = time.monotonic() + timeout
    names: set[str] = set()
    while time.monotonic() < deadline:
        answer = requests.get(server.url(f"/{ORG}/simple/{project}/"), auth=("__token__", token), headers=JSON,
                              timeout=30)
        names = {f["filename"] for f in answer.json()["files"]} if answer.status_code == 200 else set()
        if len(names) >= count:
            return names
        time.sleep(0.3)
    raise AssertionError(f"{project}: {len(names)} of {count} files\n{server.log_text()[-3000:]}")


def both_widths(tab, user: str, path: str, name: str) -> None:
    for width in (1280, 390):
        page = tab(width)
        sign_in(page, user)
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} at {width}"
        screenshot(page, f"{name}-{width}")


def test_github_app_from_creation_to_uninstall(tab, app_server, fake, tmp_path) -> None:
    server = app_server
    repo = fake.add_repo("acme-gh", "billing", private=True)  # its personal token is never given to Envelope
    other = fake.add_repo("acme-gh", "tools", private=True)

    # An administrator creates the App in one click (GitHub confirms, then sends them back).
    admin = tab()
    sign_in(admin, "root")
    admin.goto("/admin/github-app")
    both_widths(tab, "root", "/admin/github-app", "github-app-new")  # other sessions: their own state
    admin.get_by_role("button", name="Create the GitHub App").click()
    admin.wait_for_load_state()
    assert "is ready" in admin.content(), admin.content()
    assert fake.app is not None and fake.app.manifest["default_permissions"] == {"contents": "read",
                                                                                 "metadata": "read"}
    assert fake.app.manifest["default_events"] == ["release"]
    assert fake.app.manifest["hook_attributes"]["url"] == server.url("/hooks/github/app")
    db = database(server)
    try:
        with db.read() as session:
            stored = session.scalar(select(GitHubApp))
            assert (stored.app_id, stored.slug) == (fake.app.id, fake.app.slug)
            assert "PRIVATE KEY" not in stored.private_key_sealed
            assert fake.app.webhook_secret not in stored.webhook_secret_sealed
            assert session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "github_app.create")) == "user root"
    finally:
        db.dispose()
    assert fake.app.pem not in server.log_text() and fake.app.webhook_secret not in server.log_text()
    # A callback this browser did not start is refused, and changes nothing.
    forged = admin.goto("/admin/github-app/created?code=abc123&state=forged")
    assert forged.status == 400
    both_widths(tab, "root", "/admin/github-app", "github-app")

    # The owner installs it on their GitHub organization and connects one repository.
    owner = tab()
    sign_in(owner, "olga")
    owner.goto(f"/{ORG}/repositories")
    fake.prepare_installation("acme-gh", [repo.full_name, other.full_name])
    owner.get_by_role("link", name="Install the GitHub App").click()
    owner.wait_for_load_state()
    assert "installed on acme-gh" in owner.content(), owner.content()
    ((installation_id, _),) = [(i.id, i) for i in fake._apps.installations.values()]
    assert ("installation", "created", 200) in fake.app_deliveries()
    owner.get_by_label("Repository", exact=True).first.select_option(repo.full_name.lower())
    owner.get_by_role("button", name="Connect").first.click()
    owner.wait_for_load_state()
    assert f"Connected {repo.full_name.lower()} through the GitHub App" in owner.content()
    status = json.loads(server.cli("github-app", "status", "--json").stdout)
    assert status["app"]["slug"] == fake.app.slug and status["webhook_url"] == server.url("/hooks/github/app")
    assert [(i["account"], i["status"], i["organization"], i["connections"]) for i in status["installations"]] \
        == [("acme-gh", "active", ORG, 1)]
    assert fake.app.webhook_secret not in json.dumps(status)
    screenshot(owner, "github-app-repositories-1280")
    # An installation link's state made in another session does nothing here.
    stolen = owner.goto(f"/github-app/installed?installation_id={installation_id}&setup_action=install&state=x")
    assert stolen.status == 400

    # A release: the App's webhook queues it, the worker fetches it with installation tokens only.
    read = server.token(ORG, "--scope", "read")
    release = fake.add_release(repo.full_name, "v1.0.0", immutable=True)
    # First, an asset whose bytes are not the ones GitHub vouches for: refused, shown.
    tampered = make_wheel(tmp_path, "billing", "1.0.0", tags="py2-none-any")
    bad = fake.add_asset(repo.full_name, release, tampered.name, tampered.read_bytes())
    fake.set_asset(repo.full_name, bad, digest="sha256:" + "f" * 64)
    dists = [make_wheel(tmp_path, "billing", "1.0.0"), make_sdist_raw(tmp_path, "billing", "1.0.0")]
    for dist in dists:
        fake.add_asset(repo.full_name, release, dist.name, dist.read_bytes())
    answer = fake.app_release_event(installation_id, repo.full_name, release)
    assert answer.status_code == 202, answer.text
    assert wait_for_files(server, read, "billing", 2) == {d.name for d in dists}
    credentials = {r.header("Authorization").split(" ", 1)[1] for r in fake.requests if r.header("Authorization")}
    tokens = set(fake.installation_tokens())
    jwts = {c for c in credentials if c.count(".") == 2}  # the App's own JWT, only for minting tokens
    # The installing owner's OAuth token: used once, to list the installations their account manages.
    user_tokens = {r.header("Authorization").split(" ", 1)[1] for r in fake.requests
                   if (r.header("Authorization") or "").startswith("Bearer ghu_")}
    assert [r.path for r in fake.requests if (r.header("Authorization") or "").startswith("Bearer ghu_")] == [
        "/user/installations?per_page=100"]
    assert jwts and credentials - jwts - user_tokens and credentials - jwts - user_tokens <= tokens, credentials
    assert repo.token not in credentials
    owner.goto(f"/{ORG}/repositories/{repo.full_name.lower()}")
    owner.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert "mismatch" in owner.content() and "verified" in owner.content()
    screenshot(owner, "github-digest-mismatch-1280")
    owner.goto(f"/{ORG}/projects/billing/1.0.0/")
    assert "immutable on GitHub" in owner.content()
    both_widths(tab, "olga", f"/{ORG}/projects/billing/1.0.0/", "github-immutable-release")

    # Refused: a bad signature, an installation Envelope does not know.
    assert fake.deliver_app_webhook("release", {"action": "published", "installation": {"id": installation_id},
                                                "repository": {"full_name": repo.full_name}},
                                    secret="not-the-app-secret").status_code == 403
    unknown = fake.release_json(repo.full_name, release)
    payload = {"action": "published", "release": unknown, "installation": {"id": 999},
               "repository": fake.repo_json(repo.full_name)}
    assert fake.deliver_app_webhook("release", payload).status_code == 403

    # GitHub takes the repository out of the installation: it stops syncing, and says so.
    assert fake.remove_installation_repos(installation_id, [repo.full_name]).status_code == 200
    assert connection_status(server, repo.full_name) == "removed"
    later = fake.add_release(repo.full_name, "v1.1.0")
    wheel = make_wheel(tmp_path, "billing", "1.1.0")
    fake.add_asset(repo.full_name, later, wheel.name, wheel.read_bytes())
    ignored = fake.app_release_event(installation_id, repo.full_name, later)
    assert ignored.status_code == 202 and "not connected" in ignored.text
    owner.goto(f"/{ORG}/repositories/{repo.full_name.lower()}")
    assert "taken out of the GitHub App" in owner.content()
    screenshot(owner, "github-app-removed-1280")
    both_widths(tab, "olga", f"/{ORG}/repositories/{repo.full_name.lower()}", "github-app-removed")
    # Back in: syncing resumes.
    assert fake.add_installation_repos(installation_id, [repo.full_name]).status_code == 200
    assert connection_status(server, repo.full_name) == "active"
    resumed = fake.app_release_event(installation_id, repo.full_name, later)
    assert resumed.status_code == 202, resumed.text
    assert wheel.name in wait_for_files(server, read, "billing", 3)
    both_widths(tab, "olga", f"/{ORG}/repositories", "github-app-repositories")

    # Uninstalled: the connection is disconnected (kept, with its files), and the stale
    # installation's events are refused.
    assert fake.uninstall(installation_id).status_code == 200
    assert connection_status(server, repo.full_name) == "disconnected"
    stale = fake.app_release_event(installation_id, repo.full_name, later, action="edited")
    assert stale.status_code == 403
    assert wait_for_files(server, read, "billing", 3, timeout=1)
    refused = server.cli("sync", repo.full_name, check=False)
    assert refused.returncode != 0 and "disconnected on GitHub's side" in refused.stderr + refused.stdout
    owner.goto(f"/{ORG}/repositories")
    assert "disconnected" in owner.content()
    listed = json.loads(server.cli("repo", "list", "--org", ORG, "--json").stdout)
    assert [(r["repository"], r["status"], r["app_installation"]) for r in listed] == \
        [(repo.full_name.lower(), "disconnected", "acme-gh")]
