"""The stored vocabularies (audit actions, run status, trigger, asset and
delivery outcomes, token scope, task names) are StrEnums whose values are the
strings stored before they existed: old rows, JSON output and the CLI read the
same, and every place that writes one names a member instead of a bare string."""
from __future__ import annotations

import ast
import importlib
import json
from enum import StrEnum
from pathlib import Path

import pytest
from sqlalchemy import select

from envelope.audit import AuditAction, record_event
from envelope.audit_log import list_events
from envelope.models import (
    AssetOutcome,
    AuditEvent,
    DeliveryOutcome,
    ProjectStatus,
    RunStatus,
    RunTrigger,
    SyncRun,
    TaskName,
    TokenScope,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("envelope", "web", "worker") for p in (ROOT / folder).rglob("*.py"))

# Today's stored strings, written out by hand: changing one needs a migration
# of the rows that hold it, not just an edit of the enum.
STORED = {
    AuditAction: {
        "org.create", "org.claim", "org.quota", "billing.checkout", "billing.plan", "billing.unpaid", "billing.downgrade",
        "instance.signup", "member.set", "member.add", "member.role", "member.leave",
        "member.remove", "invitation.create", "invitation.revoke", "invitation.accept", "user.create", "user.admin",
        "user.disable", "user.enable",
        "user.password_change", "user.password_reset", "user.email_verify", "user.session_revoke",
        "user.session_revoke_all", "user.2fa_enable", "user.2fa_disable", "user.recovery_code_used",
        "user.recovery_codes_regenerate", "token.create", "token.revoke", "token.mint", "publisher.add", "publisher.remove", "project.create", "project.status", "file.publish",
        "file.yank", "file.unyank", "file.delete", "retention.set", "retention.clear", "repo.add", "repo.remove", "repo.sync",
        "repo.status", "github_app.create", "github_app.install", "github_app.installation", "proxy.enable",
        "proxy.disable", "proxy.reserve", "proxy.unreserve", "proxy.min_age", "proxy.cache_budget",
        "proxy.cache_evict",
    },
    RunStatus: {"queued", "running", "succeeded", "failed"},
    RunTrigger: {"webhook", "followup", "poll", "manual", "reconcile"},
    AssetOutcome: {"published", "present", "ignored", "refused", "failed"},
    DeliveryOutcome: {"queued", "ignored", "coalesced"},
    TokenScope: {"read", "upload"},
    ProjectStatus: {"active", "archived", "quarantined", "deprecated"},
    TaskName: {"envelope.refresh_upstream_page", "envelope.ingest_run", "envelope.render_readme", "envelope.poll_all", "envelope.reconcile",
               "envelope.send_mail", "envelope.housekeeping", "envelope.lifecycle"},
}


def _calls(name: str):
    """(file, call) for every call of a function called `name` in the application code."""
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    yield path.relative_to(ROOT), node


def _members_named(expr: ast.expr, enum_name: str) -> list[str] | None:
    """The members an argument names (`E.x`, or `E.x if c else E.y`), or None
    when it is anything else (a bare string, a variable...)."""
    if isinstance(expr, ast.IfExp):
        body, orelse = _members_named(expr.body, enum_name), _members_named(expr.orelse, enum_name)
        return None if body is None or orelse is None else body + orelse
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == enum_name:
        return [expr.attr]
    return None


@pytest.mark.parametrize("enum", list(STORED), ids=lambda e: e.__name__)
def test_values_are_the_strings_stored_before(enum: type[StrEnum]) -> None:
    assert issubclass(enum, StrEnum)
    assert {m.value for m in enum} == STORED[enum]
    for member in enum:
        # Serialised (API JSON, CLI --json, Celery messages) and formatted
        # (CLI lines, templates) exactly as the bare string was.
        assert json.dumps(member) == json.dumps(member.value)
        assert json.dumps({"v": member}) == json.dumps({"v": member.value})
        assert str(member) == f"{member}" == f"{member:<3}".rstrip() == "%s" % member == member.value
        # Compares and hashes as the plain string loaded from a String column.
        assert member == member.value and hash(member) == hash(member.value)
        assert enum(member.value) is member


def test_every_audit_event_names_an_audit_action_member() -> None:
    used: set[str] = set()
    calls = list(_calls("record_event"))
    assert calls, "no record_event calls found: has the code moved?"
    for path, call in calls:
        action = call.args[3] if len(call.args) > 3 else next(
            (k.value for k in call.keywords if k.arg == "action"), None
        )
        if action is None:  # the definition's own recursion or a pass-through; none today
            pytest.fail(f"{path}:{call.lineno}: record_event without an action")
        members = _members_named(action, "AuditAction")
        assert members is not None, f"{path}:{call.lineno}: action is not an AuditAction member"
        for name in members:
            assert name in AuditAction.__members__, f"{path}:{call.lineno}: AuditAction.{name} does not exist"
        used.update(members)
    # Every member is written somewhere: the enum is the list of what the log can hold.
    assert used == set(AuditAction.__members__)


def test_every_queued_task_names_a_task_member() -> None:
    import worker.tasks  # registers the Celery tasks under their names
    from celery import current_app
    from envelope.packaging import readme

    assert readme.RENDER_TASK is TaskName.render_readme
    for path, call in _calls("enqueue"):
        task = call.args[1]
        if isinstance(task, ast.Name):  # a module constant, like readme.RENDER_TASK: its value
            module = importlib.import_module(".".join(path.with_suffix("").parts))
            assert isinstance(getattr(module, task.id), TaskName), f"{path}:{call.lineno}: {task.id} is not a TaskName"
            continue
        assert _members_named(task, "TaskName"), f"{path}:{call.lineno}: task is not a TaskName member"
    assert worker.tasks.ingest_run.name == TaskName.ingest_run
    assert set(TaskName) <= set(current_app.tasks)


def test_an_audit_action_is_stored_and_read_back_as_its_string(database, organization) -> None:
    with database.write() as session:
        record_event(session, organization.id, "tests", AuditAction.user_2fa_enable, "alice")
    with database.read() as session:
        stored = session.scalar(select(AuditEvent.action).where(AuditEvent.subject == "alice"))
        events, _ = list_events(session, organization.id)
    assert type(stored) is str and stored == "user.2fa_enable"
    assert [e.action for e in events][:1] == ["user.2fa_enable"]


def test_a_run_written_with_members_is_queried_with_them(database, organization) -> None:
    from envelope.github.repositories import add_repository

    with database.write() as session:
        connection = add_repository(session, "k", organization, "acme/billing", github_token=None, actor="t").connection
        session.add(SyncRun(connection_id=connection.id, trigger=RunTrigger.webhook))
    with database.read() as session:
        run = session.scalar(select(SyncRun).where(SyncRun.status == RunStatus.queued))
        assert run is not None and type(run.status) is str
        assert (run.status, run.trigger) == ("queued", "webhook")


def test_every_audit_action_has_a_label_for_the_audit_page() -> None:
    from envelope.audit import AuditAction
    from envelope.audit_log import ACTION_LABELS

    assert set(ACTION_LABELS) == set(AuditAction)
