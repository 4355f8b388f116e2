"""GET /api/openapi.json: the OpenAPI 3.1 description of /api/v1/, by hand.

tests/webui/test_api_schema.py runs schemathesis against it, so a route
added without a description here, or a response that disagrees with it,
shows up in the tests."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from envelope.models import RunStatus, TokenScope
from web.api import bp

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
    }


def _list_of(key: str, schema: str, **extra: Any) -> dict[str, Any]:
    return _obj(**{key: {"type": "array", "items": _ref(schema)}}, **extra)


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
WHEN = {"type": "string", "format": "date-time"}
NULLABLE_WHEN = {"type": ["string", "null"], "format": "date-time"}
ROLE = {"type": "string", "enum": ["reader", "maintainer", "owner"]}
ROW_ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
COUNT = {"type": "integer", "minimum": 0}
NULLABLE_COUNT = {"type": ["integer", "null"], "minimum": 0, "description": "null: no limit"}
DOWNLOADS = {"type": "integer", "minimum": 0, "description": "Downloads in the last 30 days (GETs of whole files)"}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(error={"type": "string", "description": "A sentence a person can act on."}),
    "Organization": _obj(name=STRING, role=ROLE, created=WHEN),
    "ProjectSummary": _obj(
        name=STRING, normalized_name=STRING, latest_version=NULLABLE_STRING,
        summary=NULLABLE_STRING, updated=NULLABLE_WHEN,
    ),
    "ReleaseSummary": _obj(
        version=STRING, yanked={"type": "boolean"}, prerelease={"type": "boolean"},
        uploaded=WHEN, files={"type": "integer"}, downloads_30d=DOWNLOADS,
    ),
    "Project": _obj(
        name=STRING, normalized_name=STRING, latest_version=NULLABLE_STRING, summary=NULLABLE_STRING,
        releases={"type": "array", "items": _ref("ReleaseSummary")},
    ),
    "File": _obj(
        ["filename", "packagetype", "size", "sha256", "requires_python", "upload_time", "source", "uploaded_by",
         "yanked", "yanked_reason"],
        filename=STRING, packagetype={"type": "string", "enum": ["bdist_wheel", "sdist"]},
        size={"type": "integer"}, sha256=STRING, requires_python=NULLABLE_STRING, upload_time=WHEN,
        source={"type": "string", "enum": ["upload", "github", "import"]}, uploaded_by=STRING,
        yanked={"type": "boolean"}, yanked_reason=NULLABLE_STRING,
        downloads_30d={**DOWNLOADS, "description": "in a release's files; not in yank answers"},
    ),
    "Coverage": {
        **_obj(
            pure={"type": "boolean", "description": "A py3-none-any wheel covers everything."},
            rows={"type": "array", "items": STRING, "description": "Interpreters: cp312, cp313t, pp310, py3."},
            platforms={"type": "array", "items": _obj(key=STRING, label=STRING)},
            cells={
                "type": "object",
                "description": "row -> platform key -> whether a wheel covers it",
                "additionalProperties": {"type": "object", "additionalProperties": {"type": "boolean"}},
            },
        ),
    },
    "Release": _obj(
        version=STRING, yanked={"type": "boolean"}, prerelease={"type": "boolean"}, uploaded=WHEN,
        downloads_30d=DOWNLOADS,
        summary=NULLABLE_STRING, requires_python=NULLABLE_STRING, description_content_type=NULLABLE_STRING,
        github_immutable={"type": ["boolean", "null"],
                          "description": "Whether GitHub marks the release it came from immutable; null: not from GitHub"},
        files={"type": "array", "items": _ref("File")},
        coverage=_ref("Coverage"),
        downloaders_30d={
            "type": ["array", "null"],
            "description": "Who downloaded the release in the last 30 days: for those who may yank it "
                           "(null for others); credentials are named for owners only.",
            "items": _obj(credential=STRING, token_id={"type": ["integer", "null"]},
                          downloads={"type": "integer"}, last_day={"type": "string", "format": "date"}),
        },
    ),
    "Member": _obj(username=STRING, role=ROLE, since=WHEN),
    "Usage": _obj(
        month={"type": "string", "description": "The calendar month (UTC) of the download figures, 2026-12"},
        usage=_obj(
            stored_bytes=COUNT, files=COUNT, downloaded_bytes=COUNT, downloads=COUNT, index_requests=COUNT,
            members=COUNT,
        ),
        limits=_obj(storage_bytes=NULLABLE_COUNT, download_bytes_per_month=NULLABLE_COUNT, members=NULLABLE_COUNT),
        plan={"type": ["string", "null"], "description": "The plan whose limits apply; null: the organization's own"},
        resets=WHEN,
        warnings={"type": "array", "items": STRING, "description": "A sentence per limit used to 80 % or more"},
        billing={
            "oneOf": [{"type": "null"}, _obj(
                status={"type": ["string", "null"], "description": "Stripe's subscription status"},
                plan={"type": ["string", "null"]},
                past_due_since={"type": ["string", "null"], "format": "date-time"},
                downgrade_on={"type": ["string", "null"], "format": "date-time",
                              "description": "When an unpaid subscription falls back to the default plan"},
                current_period_end={"type": ["string", "null"], "format": "date-time"},
                cancel_at_period_end={"type": "boolean",
                                      "description": "Cancelled in the portal: ends at current_period_end"},
            )],
            "description": "null unless the instance bills through Stripe (docs/billing.md)",
        },
    ),
    "Invitation": _obj(id={"type": "integer"}, email=STRING, role=ROLE, created=WHEN, expires=WHEN),
    "NewInvitation": {
        "allOf": [_ref("Invitation"), _obj(link={"type": "string", "description": "Shown once; works once."})]
    },
    "Token": _obj(
        id={"type": "integer"}, name=STRING, scope={"type": "string", "enum": [s.value for s in TokenScope]},
        projects={"type": "array", "items": STRING, "description": "NAME[SPECIFIER]; empty: every project"},
        user={**NULLABLE_STRING, "description": "null for a deploy token"},
        hint=STRING, created=WHEN, expires=NULLABLE_WHEN, last_used=NULLABLE_WHEN, revoked=NULLABLE_WHEN,
        status={"type": "string", "enum": ["active", "revoked", "expired", "orphaned"]},
    ),
    "NewToken": _obj(token=_ref("Token"), secret={"type": "string", "description": "Shown once: envl_…"}),
    "Repository": _obj(
        full_name=STRING, allowed_projects={"type": "array", "items": STRING},
        private={"type": "boolean"}, created=WHEN, last_polled=NULLABLE_WHEN,
    ),
    "Publisher": _obj(
        id={"type": "integer"}, repository=STRING, workflow=STRING, environment=NULLABLE_STRING,
        scope={"type": "string", "enum": [s.value for s in TokenScope]}, projects={"type": "array", "items": STRING},
        created=WHEN, last_used=NULLABLE_WHEN,
    ),
    "NewRepository": _obj(
        repository=_ref("Repository"), webhook_url=STRING,
        webhook_secret={"type": "string", "description": "Shown once."},
    ),
    "SyncAsset": _obj(name=STRING, outcome=STRING, reason=NULLABLE_STRING),
    "SyncRun": _obj(
        id={"type": "integer"}, trigger=STRING, release=NULLABLE_STRING,
        status={"type": "string", "enum": [s.value for s in RunStatus]},
        attempts={"type": "integer"}, assets_seen={"type": "integer"}, published={"type": "integer"},
        present={"type": "integer"}, skipped={"type": "integer"}, failed={"type": "integer"},
        error=NULLABLE_STRING, created=WHEN, started=NULLABLE_WHEN, finished=NULLABLE_WHEN,
        assets={"type": "array", "items": _ref("SyncAsset")},
    ),
    "AuditEvent": _obj(
        id={"type": "integer"}, created=WHEN, actor=STRING, action=STRING, subject=STRING,
        detail={"type": "object"},
    ),
}


def _param(name: str, schema: dict[str, Any], where: str = "path", description: str = "", required: bool = True):
    param = {"name": name, "in": where, "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


ORG = _param("org", STRING, description="Organization name")
PROJECT = _param("project", STRING, description="Project name, any spelling")
VERSION = _param("version", STRING, description="Version; 1.0 and 1.0.0 are the same release")
USERNAME = _param("username", STRING)
OWNER = _param("owner", STRING, description="GitHub repository owner")
REPO = _param("repo", STRING, description="GitHub repository name")
ERRORS = {
    status: {"description": text, "content": {JSON: {"schema": _ref("Error")}}}
    for status, text in {
        "400": "Invalid input, or a missing CSRF token on a cookie-authenticated request",
        "401": "No or bad credentials (a revoked or expired token says so)",
        "403": "The role or token scope is too low: the message names what is needed",
        "404": "No such organization, project or object, or not one the caller may see",
        "409": "Conflicts with the current state (a name taken, the last owner)",
    }.items()
}


def _op(op_id: str, summary: str, ok: str, schema: dict[str, Any] | None, *, params=(), body=None,
        body_required: bool = True, errors=("400", "401", "403", "404"),
        description: str = "") -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary, "parameters": list(params)}
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = {"required": body_required, "content": {JSON: {"schema": body}}}
    success: dict[str, Any] = {"description": summary}
    if schema is not None:
        success["content"] = {JSON: {"schema": schema}}
    operation["responses"] = {ok: success, **{code: ERRORS[code] for code in errors}}
    return operation


ORG_BASE = "/api/v1/orgs/{org}"
RELEASE = f"{ORG_BASE}/projects/{{project}}/releases/{{version}}"
REPOSITORY = f"{ORG_BASE}/repositories/{{owner}}/{{repo}}"

PATHS: dict[str, Any] = {
    "/api/v1/orgs": {
        "get": _op("listOrganizations", "Organizations of the signed-in user (a token: its own)", "200",
                   _list_of("organizations", "Organization"), errors=("401",)),
        "post": _op("createOrganization", "Create an organization; the caller becomes its owner", "201",
                    _ref("Organization"), body=_obj(name={"type": "string", "description": "lowercase slug"}),
                    errors=("400", "401", "403", "409"), description="Needs a signed-in user, not a token."),
    },
    ORG_BASE: {"get": _op("getOrganization", "One organization and the caller's role", "200",
                          _ref("Organization"), params=[ORG])},
    f"{ORG_BASE}/projects": {
        "get": _op("listProjects", "Projects the caller may read, with their latest version", "200",
                   _list_of("projects", "ProjectSummary"),
                   params=[ORG, _param("q", STRING, "query", "Search in names", required=False)]),
    },
    f"{ORG_BASE}/projects/{{project}}": {
        "get": _op("getProject", "A project and its releases, newest first", "200", _ref("Project"),
                   params=[ORG, PROJECT]),
    },
    RELEASE: {
        "get": _op("getRelease", "A release: files and wheel coverage", "200", _ref("Release"),
                   params=[ORG, PROJECT, VERSION]),
        "delete": _op(
            "deleteRelease", "Delete a release's files, or one file, for good (owners)", "200",
            _obj(deleted={"type": "array", "items": STRING}),
            params=[ORG, PROJECT, VERSION,
                    _param("confirm", STRING, "query", "Must repeat the version"),
                    _param("filename", STRING, "query", "Delete only this file", required=False)],
            description="The filenames are burned: they can never be uploaded again. Not for tokens.",
        ),
    },
    f"{RELEASE}/yank": {
        "post": _op("yankRelease", "Yank a release or one of its files (maintainers, upload tokens)", "200",
                    _list_of("files", "File"), params=[ORG, PROJECT, VERSION],
                    body=_obj([], reason={"type": "string"}, filename={"type": "string"}), body_required=False),
    },
    f"{RELEASE}/unyank": {
        "post": _op("unyankRelease", "Unyank a release or one of its files", "200",
                    _list_of("files", "File"), params=[ORG, PROJECT, VERSION],
                    body=_obj([], filename={"type": "string"}), body_required=False),
    },
    f"{ORG_BASE}/usage": {
        "get": _op("getUsage", "What the organization stores and downloaded this month, and its limits", "200",
                   _ref("Usage"), params=[ORG]),
    },
    f"{ORG_BASE}/members": {
        "get": _op("listMembers", "Members and their roles", "200", _list_of("members", "Member"), params=[ORG]),
    },
    f"{ORG_BASE}/members/{{username}}": {
        "patch": _op("changeRole", "Change a member's role (owners)", "200", _ref("Member"),
                     params=[ORG, USERNAME], body=_obj(role=ROLE), errors=("400", "401", "403", "404", "409")),
        "delete": _op("removeMember", "Remove a member (owners), or leave (yourself)", "204", None,
                      params=[ORG, USERNAME], errors=("400", "401", "403", "404", "409"),
                      description="The member's tokens in the organization are revoked. "
                                  "The last owner cannot be removed."),
    },
    f"{ORG_BASE}/invitations": {
        "get": _op("listInvitations", "Pending invitations (owners)", "200",
                   _list_of("invitations", "Invitation"), params=[ORG]),
        "post": _op("invite", "Invite someone by email (owners)", "201", _ref("NewInvitation"),
                    params=[ORG], body=_obj(email={"type": "string", "format": "email"}, role=ROLE),
                    errors=("400", "401", "403", "404", "409")),
    },
    f"{ORG_BASE}/invitations/{{invitation_id}}": {
        "delete": _op("revokeInvitation", "Withdraw an invitation (owners)", "204", None,
                      params=[ORG, _param("invitation_id", ROW_ID)]),
    },
    f"{ORG_BASE}/tokens": {
        "get": _op("listTokens", "Tokens: owners see all, members their own", "200",
                   _list_of("tokens", "Token"), params=[ORG]),
        "post": _op(
            "createToken", "Create a token acting as the caller, or (owners) a deploy token", "201",
            _ref("NewToken"), params=[ORG],
            body=_obj(
                ["name"],
                name={"type": "string"},
                scope={"type": "string", "enum": [s.value for s in TokenScope], "default": TokenScope.read.value},
                projects={"type": "array", "items": STRING, "description": "NAME[SPECIFIER], e.g. billing>=1,<2"},
                expires={"type": "string", "default": "30d",
                         "description": "never, a duration (30d, 2h, 45m, 1w), a date (through that day, UTC) "
                                        "or an ISO-8601 time: what the CLI's --expires takes"},
                deploy={"type": "boolean", "default": False},
            ),
            description="Needs a signed-in user, not a token.",
        ),
    },
    f"{ORG_BASE}/tokens/current": {
        "get": _op("currentToken", "The access token sending this request: its scope, projects and expiry",
                   "200", _ref("Token"), params=[ORG],
                   description="Any live token of the organization, restricted ones included; "
                               "400 for a browser session."),
    },
    f"{ORG_BASE}/tokens/{{token_id}}/revoke": {
        "post": _op("revokeToken", "Revoke a token (your own, or any as an owner)", "200", _ref("Token"),
                    params=[ORG, _param("token_id", ROW_ID)]),
    },
    f"{ORG_BASE}/repositories": {
        "get": _op("listRepositories", "Connected GitHub repositories", "200",
                   _list_of("repositories", "Repository"), params=[ORG]),
        "post": _op(
            "connectRepository", "Connect a GitHub repository (owners)", "201", _ref("NewRepository"),
            params=[ORG],
            body=_obj(["full_name"], full_name={"type": "string", "description": "OWNER/REPO"},
                      github_token={"type": "string"}, projects={"type": "array", "items": STRING}),
            errors=("400", "401", "403", "404", "409"),
        ),
    },
    REPOSITORY: {
        "get": _op("getRepository", "A connection and its recent sync runs", "200",
                   _obj(repository=_ref("Repository"), runs={"type": "array", "items": _ref("SyncRun")}),
                   params=[ORG, OWNER, REPO]),
        "delete": _op("removeRepository", "Disconnect a repository (owners)", "204", None,
                      params=[ORG, OWNER, REPO]),
    },
    f"{REPOSITORY}/sync": {
        "post": _op("syncRepository", "Queue a sync of every release (maintainers)", "202",
                    _obj(run_id={"type": "integer"}, status=STRING), params=[ORG, OWNER, REPO]),
    },
    f"{ORG_BASE}/publishers": {
        "get": _op("listPublishers", "Trusted publishers: workflows that mint 15-minute tokens", "200",
                   _list_of("publishers", "Publisher"), params=[ORG]),
        "post": _op(
            "addPublisher", "Trust a GitHub workflow (owners)", "201", _ref("Publisher"), params=[ORG],
            body=_obj(["repository", "workflow"], repository={"type": "string", "description": "OWNER/REPO"},
                      workflow={"type": "string", "description": "File name in .github/workflows/"},
                      environment={"type": "string"},
                      scope={"type": "string", "enum": [s.value for s in TokenScope],
                             "default": TokenScope.upload.value},
                      projects={"type": "array", "items": STRING}),
            errors=("400", "401", "403", "404", "409"),
        ),
    },
    f"{ORG_BASE}/publishers/{{publisher_id}}": {
        "delete": _op("removePublisher", "Stop trusting a workflow; its live tokens are revoked (owners)", "204",
                      None, params=[ORG, _param("publisher_id", ROW_ID)]),
    },
    f"{ORG_BASE}/audit": {
        "get": _op("auditLog", "The audit log, newest first", "200",
                   _list_of("events", "AuditEvent", page={"type": "integer"}, more={"type": "boolean"}),
                   params=[ORG, _param("page", {"type": "integer", "minimum": 1}, "query", required=False)]),
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Envelope API",
        "version": "1",
        "description": (
            "Manage organizations, projects, tokens and GitHub connections of an Envelope index. "
            "Authenticate with an access token of the organization (Bearer, or Basic with the token "
            "as password) or, from the web UI's own pages, with the session cookie plus an "
            "X-CSRFToken header on POST, PATCH and DELETE. Tokens act within their scope and "
            "restrictions and never as an owner. Errors are {\"error\": message}."
        ),
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "envl_…"},
            "basicToken": {"type": "http", "scheme": "basic",
                           "description": "Any username (__token__), the access token as password."},
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "The web UI's session; send X-CSRFToken on unsafe methods."},
        },
    },
    "security": [{"bearerToken": []}, {"basicToken": []}, {"session": []}],
}


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(SPEC)
