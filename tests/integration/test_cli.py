"""The `envelope` console script as people run it: a real subprocess on a
data dir of its own. Organization, user and administrator commands; the
first account is the administrator; a command never creates an empty
instance; URLs printed for others come from ENVELOPE_BASE_URL."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from envelope.db import Database
from envelope.models import AuditEvent, Membership, Organization, Role, User
from tests.services import envelope_executable, scrubbed_environ


class Cli:
    """`envelope` on one data dir, run from a folder of its own (not the data dir)."""

    def __init__(self, data_dir: Path, cwd: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.cwd = cwd
        self.env = {**scrubbed_environ(), "ENVELOPE_DATA_DIR": str(data_dir), "HOME": str(cwd), **env}

    def run(self, *args: str, input: str | None = None, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:  # noqa: A002
        result = subprocess.run(
            [str(envelope_executable()), *args], input=input, env={**self.env, **env}, cwd=self.cwd,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert (result.returncode == 0) == ok, result.stdout + result.stderr
        return result

    def database(self) -> Database:
        return Database(f"sqlite:///{self.data_dir / 'envelope.db'}")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = Cli(tmp_path / "data", elsewhere)
    cli.run("migrate")
    return cli


def _users(cli: Cli) -> dict[str, dict]:
    return {row["username"]: row for row in json.loads(cli.run("user", "list", "--json").stdout)}


def test_first_account_created_by_the_cli_is_the_administrator(cli: Cli) -> None:
    first = cli.run("user", "create", "root", "--email", "root@example.com")
    assert "first account and so its administrator" in first.stdout
    cli.run("user", "create", "bob", "--email", "bob@example.com")
    cli.run("user", "create", "ada", "--email", "ada@example.com", "--admin")
    users = _users(cli)
    assert {name: row["admin"] for name, row in users.items()} == {"root": True, "bob": False, "ada": True}


def test_the_first_account_owns_the_organizations_made_before_it(cli: Cli) -> None:
    """The README's quick start: `org create acme` on a fresh instance, then
    the first account (here the CLI's, at the sign-up page alike) owns acme."""
    made = cli.run("org", "create", "acme").stdout
    assert "the instance's first account (the sign-up page or `envelope user create`) becomes its owner" in made
    cli.run("user", "create", "alice", "--email", "alice@example.com", "--org", "acme:owner")
    cli.run("org", "create", "later")
    assert "with no owner yet: an administrator can claim it" in cli.run("org", "create", "lonely").stdout
    cli.run("user", "create", "bob", "--email", "bob@example.com")
    members = cli.run("org", "add-member", "acme", "bob", "--role", "owner").stdout
    assert "bob is now an owner of acme." in members
    demote = cli.run("org", "add-member", "acme", "alice", "--role", "reader").stdout
    assert "alice is now a reader of acme." in demote  # alice was an owner: bob is another one now


def test_user_list_shows_id_first_then_username_email_and_flags(cli: Cli) -> None:
    cli.run("user", "create", "root", "--email", "root@example.com")
    cli.run("user", "create", "bob", "--email", "bob@example.com")
    rows = json.loads(cli.run("user", "list", "--json").stdout)
    assert [list(row) for row in rows] == [["id", "username", "email", "admin", "active", "verified"]] * 2
    assert [(r["username"], r["email"], r["admin"], r["active"], r["verified"]) for r in rows] == [
        ("root", "root@example.com", True, True, False), ("bob", "bob@example.com", False, True, False),
    ]
    table = cli.run("user", "list").stdout.splitlines()
    assert table[0].split() == ["id", "username", "email", "admin", "active", "verified"]
    assert table[2].split() == [str(rows[1]["id"]), "bob", "bob@example.com", "no", "yes", "no"]


def test_set_admin_grants_removes_and_refuses_removing_the_last_admin(cli: Cli) -> None:
    cli.run("user", "create", "root", "--email", "root@example.com")
    cli.run("user", "create", "bob", "--email", "bob@example.com")
    refused = cli.run("user", "set-admin", "root", "--off", ok=False)
    assert refused.stderr.strip() == (
        "Error: root is the only administrator of this instance: make another user an administrator "
        "first (`envelope user set-admin USERNAME`)."
    )
    assert _users(cli)["root"]["admin"]
    assert "bob is now an administrator." in cli.run("user", "set-admin", "bob").stdout
    assert "root is no longer an administrator." in cli.run("user", "set-admin", "root", "--off").stdout
    assert {n: r["admin"] for n, r in _users(cli).items()} == {"root": False, "bob": True}
    assert "Error: No user named 'nobody'." in cli.run("user", "set-admin", "nobody", ok=False).stderr


def test_set_active_disables_enables_and_refuses_disabling_the_last_admin(cli: Cli) -> None:
    cli.run("user", "create", "root", "--email", "root@example.com")
    cli.run("user", "create", "bob", "--email", "bob@example.com")
    refused = cli.run("user", "set-active", "root", "--off", ok=False)
    assert refused.stderr.strip() == (
        "Error: root is the only active administrator of this instance: make another user an administrator "
        "first (`envelope user set-admin USERNAME`)."
    )
    off = cli.run("user", "set-active", "bob", "--off").stdout.strip()
    assert off == "bob is disabled: their password, tokens and browser sessions no longer work."
    assert {n: r["active"] for n, r in _users(cli).items()} == {"root": True, "bob": False}
    assert cli.run("user", "set-active", "bob").stdout.strip() == "bob is enabled: they can sign in again."
    assert {n: r["active"] for n, r in _users(cli).items()} == {"root": True, "bob": True}
    assert "Error: No user named 'nobody'." in cli.run("user", "set-active", "nobody", ok=False).stderr


def test_org_create_with_and_without_owner_and_add_member(cli: Cli) -> None:
    cli.run("user", "create", "root", "--email", "root@example.com")
    cli.run("user", "create", "bob", "--email", "bob@example.com")
    owned = cli.run("org", "create", "acme", "--owner", "bob")
    assert "Created organization acme, owned by bob." in owned.stdout
    orphan = cli.run("org", "create", "lonely")
    assert "no owner yet: an administrator can claim it" in orphan.stdout
    assert "Error: No user named 'ghost'." in cli.run("org", "create", "spooky", "--owner", "ghost", ok=False).stderr

    assert "root is now a maintainer of acme." in cli.run("org", "add-member", "acme", "root", "--role", "maintainer").stdout
    cli.run("org", "add-member", "lonely", "bob")  # default role: reader
    demote = cli.run("org", "add-member", "acme", "bob", "--role", "reader", ok=False)
    assert "bob is the only owner of acme: make someone else an owner first." in demote.stderr
    assert "Invalid value for '--role'" in cli.run("org", "add-member", "acme", "root", "--role", "admin", ok=False).stderr

    database = cli.database()
    try:
        with database.read() as session:
            roles = {
                (org, user): role for org, user, role in session.execute(
                    select(Organization.name, User.username, Membership.role)
                    .join(Membership, Membership.organization_id == Organization.id)
                    .join(User, User.id == Membership.user_id)
                )
            }
            assert session.scalar(select(Organization.id).where(Organization.name == "spooky")) is None
            acme = session.scalar(select(Organization.id).where(Organization.name == "acme"))
            events = [(e.action, e.subject) for e in session.scalars(
                select(AuditEvent).where(AuditEvent.organization_id == acme).order_by(AuditEvent.id))]
    finally:
        database.dispose()
    assert roles == {("acme", "bob"): Role.owner, ("acme", "root"): Role.maintainer, ("lonely", "bob"): Role.reader}
    # The same events the web UI's and the API's organization creation record.
    assert events[:2] == [("org.create", "acme"), ("member.add", "bob")]


def test_org_create_and_repo_add_print_absolute_urls_and_say_when_the_base_url_is_a_guess(cli: Cli) -> None:
    guessed = cli.run("org", "create", "acme").stdout
    assert "Index URL: http://127.0.0.1:8080/acme/simple/" in guessed
    assert "ENVELOPE_BASE_URL is not set" in guessed
    hook = cli.run("repo", "add", "--org", "acme", "acme/lib").stdout.splitlines()
    assert "Webhook URL: http://127.0.0.1:8080/hooks/github" in hook
    assert any("ENVELOPE_BASE_URL is not set" in line and "GitHub can reach" in line for line in hook)
    assert hook[-1].startswith("Webhook secret: ")

    set_ = cli.run("org", "create", "beta", ENVELOPE_BASE_URL="https://pkgs.example.com/").stdout
    assert "Index URL: https://pkgs.example.com/beta/simple/" in set_ and "ENVELOPE_BASE_URL" not in set_
    hook = cli.run("repo", "add", "--org", "beta", "beta/lib", ENVELOPE_BASE_URL="https://pkgs.example.com").stdout
    assert "Webhook URL: https://pkgs.example.com/hooks/github" in hook and "is not set" not in hook


@pytest.mark.parametrize("command", [
    ("user", "list"),
    ("user", "create", "root", "--email", "root@example.com"),
    ("org", "create", "acme"),
    ("token", "list", "--org", "acme"),
])
def test_a_command_finding_no_database_names_the_data_dir_and_creates_nothing(tmp_path: Path, command) -> None:
    missing = tmp_path / "not-the-data-dir"
    cli = Cli(missing, tmp_path)
    result = cli.run(*command, ok=False)
    assert result.stderr.strip() == (
        f"Error: No Envelope database at {missing / 'envelope.db'} (data dir {missing}): set ENVELOPE_DATA_DIR "
        "to the server's data dir (or DATABASE_URL to its database), or start a new instance with `envelope serve`."
    )
    assert not missing.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_postgresql_database_without_the_schema_is_named_without_its_password(tmp_path: Path, postgres) -> None:
    url = make_url(postgres.create_database())
    if url.password is None:  # the throwaway cluster trusts local connections and ignores a password
        url = url.set(password="s3cret-password")
    cli = Cli(tmp_path / "data", tmp_path, DATABASE_URL=url.render_as_string(hide_password=False))
    result = cli.run("user", "list", ok=False)
    assert result.stderr.strip() == (
        f"Error: The database {url.render_as_string(hide_password=True)} has no Envelope schema: set "
        "DATABASE_URL to the server's database, or create the schema with `envelope migrate`."
    )
    assert url.password not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()
