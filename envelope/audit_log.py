"""Reading the audit log: filters (who, what, project, dates), pages,
exports, and the human wording of each row.

Writing stays in envelope/audit.py; this is the read side the page, the
API and the CSV/JSON exports share, so they never disagree on which rows
a filter selects."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from envelope.audit import MAX_PAGE, AuditAction
from envelope.errors import InvalidInput
from envelope.models import AuditEvent

EXPORT_BATCH = 500  # rows fetched at a time while streaming an export
MAX_FILTER_LENGTH = 200

# What each action did, as a person would say it.
ACTION_LABELS: dict[AuditAction, str] = {
    AuditAction.org_create: "Created the organization",
    AuditAction.org_claim: "Claimed the organization",
    AuditAction.org_quota: "Limits set by an administrator",
    AuditAction.billing_checkout: "Started a subscription in Stripe Checkout",
    AuditAction.billing_plan: "Plan changed by the subscription",
    AuditAction.billing_unpaid: "Subscription payment failed",
    AuditAction.billing_downgrade: "Moved to the default plan",
    AuditAction.instance_signup: "Changed who may sign up",
    AuditAction.member_set: "Set a member's role",
    AuditAction.member_add: "Added a member",
    AuditAction.member_role: "Changed a member's role",
    AuditAction.member_leave: "Left the organization",
    AuditAction.member_remove: "Removed a member",
    AuditAction.invitation_create: "Invited someone",
    AuditAction.invitation_revoke: "Withdrew an invitation",
    AuditAction.invitation_accept: "Accepted an invitation",
    AuditAction.user_create: "Created an account",
    AuditAction.user_admin: "Changed administrator rights",
    AuditAction.user_disable: "Disabled an account",
    AuditAction.user_enable: "Enabled an account",
    AuditAction.user_password_change: "Changed a password",
    AuditAction.user_password_reset: "Reset a password",
    AuditAction.user_email_verify: "Confirmed an email address",
    AuditAction.user_session_revoke: "Signed a session out",
    AuditAction.user_session_revoke_all: "Signed every session out",
    AuditAction.user_2fa_enable: "Turned on two-factor sign-in",
    AuditAction.user_2fa_disable: "Turned off two-factor sign-in",
    AuditAction.user_recovery_code_used: "Used a recovery code",
    AuditAction.user_recovery_codes_regenerate: "Made new recovery codes",
    AuditAction.token_create: "Created a token",
    AuditAction.token_revoke: "Revoked a token",
    AuditAction.token_mint: "Minted a token by trusted publishing",
    AuditAction.publisher_add: "Added a trusted publisher",
    AuditAction.publisher_remove: "Removed a trusted publisher",
    AuditAction.project_create: "Created a project",
    AuditAction.project_status: "Changed a project's status",
    AuditAction.file_publish: "Published a file",
    AuditAction.file_yank: "Yanked",
    AuditAction.file_unyank: "Unyanked",
    AuditAction.file_delete: "Deleted",
    AuditAction.retention_set: "Set a retention policy",
    AuditAction.retention_clear: "Removed a retention policy",
    AuditAction.repo_add: "Connected a repository",
    AuditAction.repo_remove: "Disconnected a repository",
    AuditAction.repo_sync: "Synced a repository",
    AuditAction.repo_status: "A repository connection changed status",
    AuditAction.github_app_create: "Created the GitHub App",
    AuditAction.github_app_install: "Installed the GitHub App",
    AuditAction.github_app_installation: "The GitHub App's installation changed",
    AuditAction.proxy_enable: "Turned the upstream proxy on",
    AuditAction.proxy_disable: "Turned the upstream proxy off",
    AuditAction.proxy_reserve: "Reserved a name",
    AuditAction.proxy_unreserve: "Released a reserved name",
    AuditAction.proxy_min_age: "Changed the upstream files' minimum age",
    AuditAction.proxy_cache_budget: "Changed the upstream cache budget",
    AuditAction.proxy_cache_evict: "Evicted cached upstream files",
}
# Actions whose subject begins with the project's name ("billing 1.0.0").
_PROJECT_SUBJECT_ACTIONS = (
    AuditAction.project_create, AuditAction.project_status,
    AuditAction.file_yank, AuditAction.file_unyank, AuditAction.file_delete,
)
# An empty list that means "no limit", not "nothing".
_EMPTY_WORDS = {"projects": "all projects"}
_DIGESTS = {"sha256"}  # shown short on the page; the exports keep them whole
# Detail flags read as words, not as `True`/`False`.
_FLAG_WORDS = {"private": "private repository", "attested": "with attestations", "admin": "administrator",
               "authenticated": "with credentials"}


@dataclass(frozen=True)
class AuditFilter:
    """Which events to show; every field optional. `action` is an exact
    action ("file.yank") or an area ("file")."""

    actor: str = ""
    action: str = ""
    project: str = ""
    since: date | None = None
    until: date | None = None  # inclusive: the whole of that day (UTC)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilter:
        """From a query string; InvalidInput for a malformed date or an unknown action."""
        values = {key: (args.get(key) or "").strip()[:MAX_FILTER_LENGTH] for key in ("actor", "action", "project")}
        action = values["action"]
        if action and action not in {a.value for a in AuditAction} and action not in areas():
            raise InvalidInput(f"No audit action {action!r}.")
        return cls(since=_date(args, "since"), until=_date(args, "until"), **values)

    @property
    def active(self) -> bool:
        return any((self.actor, self.action, self.project, self.since, self.until))

    def query_args(self) -> dict[str, str]:
        """The filter as query-string arguments, for links to other pages and the exports."""
        args = {"actor": self.actor, "action": self.action, "project": self.project,
                "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else ""}
        return {k: v for k, v in args.items() if v}

    def apply(self, statement: Select) -> Select:
        if self.actor:
            statement = statement.where(func.lower(AuditEvent.actor).contains(self.actor.lower(), autoescape=True))
        if self.action:
            if "." in self.action:
                statement = statement.where(AuditEvent.action == self.action)
            else:
                statement = statement.where(AuditEvent.action.startswith(f"{self.action}.", autoescape=True))
        if self.project:
            name = self.project
            statement = statement.where(or_(
                AuditEvent.detail["project"].as_string() == name,
                AuditEvent.action.in_(_PROJECT_SUBJECT_ACTIONS)
                & or_(AuditEvent.subject == name, AuditEvent.subject.startswith(f"{name} ", autoescape=True)),
            ))
        if self.since:
            statement = statement.where(AuditEvent.created >= _midnight(self.since))
        if self.until:
            statement = statement.where(AuditEvent.created < _midnight(self.until + timedelta(days=1)))
        return statement


def areas() -> list[str]:
    """The action areas ("file", "token", ...), for the filter's choices."""
    return sorted({a.value.split(".")[0] for a in AuditAction})


def _date(args: Mapping[str, str], key: str) -> date | None:
    text = (args.get(key) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{key.capitalize()} must be a date like 2026-01-31, not {text[:40]!r}.") from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _events(organization_id: int, filters: AuditFilter) -> Select:
    statement = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
    return filters.apply(statement).order_by(AuditEvent.created.desc(), AuditEvent.id.desc())


def list_events(
    session: Session, organization_id: int, filters: AuditFilter | None = None, *, page: int = 1, per_page: int = 50
) -> tuple[list[AuditEvent], bool]:
    """One page of an organization's log, newest first, and whether an older page exists."""
    page = min(max(page, 1), MAX_PAGE)
    rows = session.scalars(
        _events(organization_id, filters or AuditFilter()).offset((page - 1) * per_page).limit(per_page + 1)
    ).all()
    return list(rows[:per_page]), len(rows) > per_page


def iter_events(session: Session, organization_id: int, filters: AuditFilter) -> Iterator[AuditEvent]:
    """Every matching event, newest first, fetched in batches (for exports of any size)."""
    statement = _events(organization_id, filters).execution_options(yield_per=EXPORT_BATCH)
    yield from session.scalars(statement)


def action_label(action: str) -> str:
    try:
        return ACTION_LABELS[AuditAction(action)]
    except ValueError:
        return action


def describe_detail(detail: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """A row's details as (label, text) pairs a person reads: lists joined,
    flags as words, no Python reprs."""
    described: list[tuple[str, str]] = []
    for key, value in (detail or {}).items():
        label = key.replace("_", " ")
        if isinstance(value, bool):
            word = _FLAG_WORDS.get(key, label)
            described.append(("", word if value else f"not {word}"))
        elif isinstance(value, (list, tuple)):
            described.append((label, ", ".join(str(v) for v in value) or _EMPTY_WORDS.get(key, "none")))
        elif isinstance(value, dict):
            described.append((label, ", ".join(f"{k} {v}" for k, v in value.items())))
        elif value is None or value == "":
            continue
        elif key in _DIGESTS and isinstance(value, str):
            described.append((label, f"{value[:12]}…"))
        else:
            described.append((label, _moment(value) if isinstance(value, str) else str(value)))
    return described


def _moment(text: str) -> str:
    """An ISO-8601 timestamp as the pages write times (minutes, UTC); other text unchanged."""
    if len(text) < 16 or text[4:5] != "-" or "T" not in text:
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def event_record(event: AuditEvent) -> dict[str, Any]:
    """One event as the exports and the API write it."""
    return {
        "id": event.id,
        "created": event.created.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "detail": event.detail or {},
    }


CSV_COLUMNS = ("created", "actor", "action", "subject", "detail")


def csv_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    """The export as CSV, one line at a time; details as a JSON object in one column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(list(CSV_COLUMNS))
    for event in events:
        record = event_record(event)
        yield line([record["created"], _cell(record["actor"]), record["action"], _cell(record["subject"]),
                    json.dumps(record["detail"], sort_keys=True)])


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula, quoted so it stays text."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def json_chunks(events: Iterator[AuditEvent]) -> Iterator[str]:
    """The export as one JSON array, streamed one event at a time."""
    yield "["
    for index, event in enumerate(events):
        yield ("," if index else "") + "\n" + json.dumps(event_record(event))
    yield "\n]\n"
