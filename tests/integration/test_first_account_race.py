"""Two people signing up at once on a fresh PostgreSQL instance: only the
first account becomes the administrator and owns the CLI-made organizations,
however the two transactions interleave (SQLite serializes its writers)."""
from __future__ import annotations

import threading

from sqlalchemy import select

from envelope import migrate
from envelope.accounts.users import create_account
from envelope.db import Database
from envelope.models import Membership, User
from envelope.orgs.organizations import create_organization


def test_only_one_of_two_concurrent_first_accounts_is_the_administrator(postgres) -> None:
    url = postgres.create_database()
    migrate.upgrade(url)
    db = Database(url)
    try:
        with db.write() as session:
            create_organization(session, "acme", actor="cli")  # ownerless, for the first account
        first_inside = threading.Event()
        errors: list[BaseException] = []

        def sign_up(name: str, hold: bool) -> None:
            try:
                with db.write() as session:
                    create_account(session, name, email=f"{name}@example.com", actor=f"user {name}")
                    if hold:  # still uncommitted while the other signs up
                        first_inside.set()
                        threading.Event().wait(1.0)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        ada = threading.Thread(target=sign_up, args=("ada", True))
        ada.start()
        assert first_inside.wait(10)
        bob = threading.Thread(target=sign_up, args=("bob", False))
        bob.start()
        ada.join(20)
        bob.join(20)
        assert not errors, errors
        with db.read() as session:
            admins = {u.username: u.is_admin for u in session.scalars(select(User))}
            owners = session.scalars(select(Membership.user_id)).all()
        assert admins == {"ada": True, "bob": False}
        assert len(owners) == 1
    finally:
        db.dispose()
