"""Usage per organization and the limits an administrator sets: a download
past the month's bandwidth is a 429 until the first of the next month, a
file past the storage limit a 413 naming both figures, a member past the
member limit a sentence; the usage page and the API show the figures and the
80 % warnings."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from envelope import quotas, usage
from envelope.errors import InvalidInput
from envelope.models import AuditEvent, Role
from envelope.models.base import utcnow
from envelope.orgs.organizations import add_member
from tests.webui.conftest import basic
from tests.webui.test_invitations import invite, role_of


def set_limits(world, **limits) -> None:
    with world.db.write() as session:
        quotas.set_limits(session, world.acme, quotas.Limits(**limits), actor="tests")


def test_sizes_and_months_are_read_as_people_write_them():
    assert quotas.parse_size("10GB") == 10 * 10**9
    assert quotas.parse_size("512MiB") == 512 * 2**20
    assert quotas.parse_size("1.5 tb") == 1_500_000_000_000
    assert quotas.parse_size("0") == 0
    for bad in ("ten", "10 parsecs", "-1GB", ""):
        with pytest.raises(InvalidInput, match="is not a size"):
            quotas.parse_size(bad)
    assert quotas.format_bytes(1_500_000_000) == "1.5 GB" and quotas.format_bytes(999) == "999 bytes"
    assert quotas.next_month(datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc)) == datetime(
        2027, 1, 1, tzinfo=timezone.utc)
    assert quotas.next_month(datetime(2026, 2, 1, tzinfo=timezone.utc)) == datetime(2026, 3, 1, tzinfo=timezone.utc)


def test_a_download_past_the_monthly_limit_is_429_until_the_next_month(world, monkeypatch):
    monkeypatch.setattr(quotas, "CACHE_SECONDS", 0.0)  # every download reads the flushed figures
    wheel = world.wheel("demo", "1.0")
    token = world.token(scope="read")
    url = f"/acme/files/{wheel.sha256}/{wheel.filename}"
    client = world.app.test_client()
    set_limits(world, download_bytes=2 * wheel.size)
    for _ in range(2):
        assert client.get(url, headers=basic(token)).status_code == 200
    usage.flush_all()

    refused = client.get(url, headers=basic(token))
    assert refused.status_code == 429
    assert refused.status.startswith("429 Download quota exceeded: this organization may download ")
    assert f"and used {quotas.format_bytes(2 * wheel.size)}" in refused.status
    reset = quotas.next_month(utcnow())
    assert f"resets at {reset:%Y-%m-%d} 00:00 UTC" in refused.status
    assert "Retry-After" not in refused.headers
    assert 0 < int(refused.headers["RateLimit-Reset"]) <= (reset - utcnow()).total_seconds() + 1
    assert client.get(url + ".metadata", headers=basic(token)).status_code == 200  # resolvers still resolve
    # Another organization's downloads are not limited by acme's figures.
    other = world.wheel("elsewhere", "1.0", org=world.other)
    other_token = world.token(org=world.other, scope="read")
    assert client.get(f"/other/files/{other.sha256}/{other.filename}", headers=basic(other_token)).status_code == 200
    # A higher limit lets downloads through again at once in this process.
    set_limits(world, download_bytes=10 * wheel.size)
    assert client.get(url, headers=basic(token)).status_code == 200


def test_a_file_past_the_storage_limit_is_refused_naming_limit_and_usage(world):
    first = world.wheel("demo", "1.0")
    set_limits(world, storage_bytes=first.size + 10)
    with pytest.raises(quotas.StorageQuotaExceeded) as refused:
        world.wheel("demo", "2.0")
    message = str(refused.value)
    assert message.startswith(f"Storage quota exceeded: this organization may store "
                              f"{quotas.format_bytes(first.size + 10)} and uses {quotas.format_bytes(first.size)};")
    with world.db.read() as session:
        assert quotas.stored(session, world.acme.id) == (first.size, 1)  # nothing stored
    # The same bytes again are still a no-op, not a refusal; another organization is not limited.
    assert world.wheel("demo", "1.0").id == first.id
    world.wheel("demo", "2.0", org=world.other)


def test_a_member_past_the_limit_is_refused_with_a_sentence(world):
    set_limits(world, members=3)  # olivia, max, rita
    with world.db.write() as session, pytest.raises(quotas.MemberQuotaExceeded) as refused:
        add_member(session, world.acme, world.users["nina"], Role.reader, actor="tests")
    assert str(refused.value) == ("This organization already has 3 members, its limit is 3: remove a member "
                                  "or ask an administrator for a higher limit.")
    with world.db.write() as session:  # a role change is not a new member
        add_member(session, world.acme, world.users["rita"], Role.maintainer, actor="tests")
    # At the limit no invitation goes out, on the page or by the API.
    page = world.browser("olivia").post("/acme/invitations", {"email": "nina@example.com", "role": "reader"})
    assert page.status_code == 409 and "its limit is 3" in page.get_data(as_text=True)
    api = world.browser("olivia").api("POST", "/api/v1/orgs/acme/invitations",
                                            {"email": "nina@example.com", "role": "reader"})
    assert api.status_code == 409 and "its limit is 3" in api.get_json()["error"]
    # An invitation sent before the limit is refused when accepted, and nothing changes.
    set_limits(world, members=None)
    path = invite(world)
    set_limits(world, members=3)
    response = world.browser("nina").post(path)
    assert "This organization already has 3 members, its limit is 3" in response.get_data(as_text=True)
    assert role_of(world, "nina") is None


def test_usage_page_and_api_show_figures_limits_and_warnings(world):
    wheel = world.wheel("demo", "1.0")
    token = world.token(scope="read")
    client = world.app.test_client()
    assert client.get(f"/acme/files/{wheel.sha256}/{wheel.filename}", headers=basic(token)).status_code == 200
    assert client.get("/acme/simple/", headers=basic(token)).status_code == 200
    assert client.get("/acme/simple/demo/", headers=basic(token)).status_code == 200
    usage.flush_all()

    rita = world.browser("rita")
    page = rita.get("/acme/usage").get_data(as_text=True)
    assert "Usage of acme" in page and '<td class="nowrap">none</td>' in page and "notice warning" not in page
    api = rita.api("GET", "/api/v1/orgs/acme/usage").get_json()
    month = utcnow().strftime("%Y-%m")
    assert api["usage"] == {"month": month, "stored_bytes": wheel.size, "files": 1, "downloaded_bytes": wheel.size,
                            "downloads": 1, "index_requests": 2, "members": 3,
                            "upstream_cache_bytes": 0, "upstream_cache_files": 0}
    assert api["limits"] == {"storage_bytes": None, "download_bytes_per_month": None, "members": None}
    assert api["plan"] is None
    assert api["warnings"] == [] and api["resets"].startswith(quotas.next_month(utcnow()).date().isoformat())

    set_limits(world, storage_bytes=wheel.size, members=100)  # storage full, members far from it
    api = rita.api("GET", "/api/v1/orgs/acme/usage").get_json()
    assert api["warnings"] == [f"Storage: {quotas.format_bytes(wheel.size)} of the "
                               f"{quotas.format_bytes(wheel.size)} limit (100 %)."]
    page = rita.get("/acme/usage").get_data(as_text=True)
    assert "notice warning" in page and "limit (100 %)." in page
    dashboard = world.browser("olivia").get("/acme/").get_data(as_text=True)
    assert "limit (100 %)." in dashboard and 'href="/acme/usage"' in dashboard
    assert "limit (100 %)" not in world.browser("otto").get("/other/").get_data(as_text=True)
    # Outsiders: the organization does not exist for them.
    assert world.browser("otto").get("/acme/usage").status_code == 404
    assert world.browser("otto").api("GET", "/api/v1/orgs/acme/usage").status_code == 404


def test_limits_are_audited(world):
    set_limits(world, storage_bytes=10**10, download_bytes=None, members=20)
    with world.db.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "org.quota")).one()
    assert event.subject == "acme" and event.detail == {"storage": "10 GB", "downloads": "none", "members": "20"}
    with world.db.write() as session, pytest.raises(InvalidInput):
        quotas.set_limits(session, world.acme, quotas.Limits(members=-1), actor="tests")


def test_the_upload_status_line_names_the_limit_and_the_usage(world):
    from tests.webui.conftest import wheel_bytes

    first = world.wheel("demo", "1.0")
    set_limits(world, storage_bytes=first.size)
    token = world.token(scope="upload")
    data = wheel_bytes("demo", "2.0")
    response = world.app.test_client().post("/acme/legacy/", headers=basic(token), data={
        ":action": "file_upload", "content": (io.BytesIO(data), "demo-2.0-py3-none-any.whl")})
    assert response.status_code == 413
    assert response.status == (
        f"413 Storage quota exceeded: this organization may store {quotas.format_bytes(first.size)} and uses "
        f"{quotas.format_bytes(first.size)}; this file needs {quotas.format_bytes(len(data))} more. "
        "Delete old files or ask an administrator for a higher limit.")


def test_an_administrator_sets_limits_on_the_settings_page(world):
    from sqlalchemy import update

    from envelope.models import User

    with world.db.write() as session:
        session.execute(update(User).where(User.username == "nina").values(is_admin=True))
    admin = world.browser("nina")
    page = " ".join(admin.get("/admin/settings").get_data(as_text=True).split())
    assert 'id="limits"' in page and "<strong>acme</strong> · no limits" in page
    response = admin.post("/admin/orgs/acme/quota", {"storage": "10GB", "downloads": "1500MB", "members": "20"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/settings#limits")
    with world.db.read() as session:
        assert quotas.get_limits(session, world.acme.id) == quotas.Limits(10**10, 15 * 10**8, 20)
    page = " ".join(admin.get("/admin/settings").get_data(as_text=True).split())
    assert "<strong>acme</strong> · storage 10 GB, downloads 1.5 GB/month, members 20" in page
    assert 'value="10GB"' in page and 'value="1500MB"' in page and 'value="20"' in page  # resubmits unchanged
    # Bad input: a sentence, nothing changed.
    admin.post("/admin/orgs/acme/quota", {"storage": "lots", "downloads": "", "members": ""})
    assert "Limits of acme not changed: &#39;lots&#39; is not a size" in admin.get("/admin/settings").get_data(as_text=True)
    with world.db.read() as session:
        assert quotas.get_limits(session, world.acme.id).storage_bytes == 10**10
    # Blank: no limit. Members and owners who are not administrators are refused, without CSRF nobody gets in.
    admin.post("/admin/orgs/acme/quota", {"storage": "", "downloads": "", "members": ""})
    with world.db.read() as session:
        assert quotas.get_limits(session, world.acme.id) == quotas.Limits()
    assert world.browser("olivia").post("/admin/orgs/acme/quota", {"storage": "1GB"}).status_code == 403
    assert admin.post("/admin/orgs/acme/quota", {"storage": "1GB"}, csrf=False).status_code == 400
    assert admin.post("/admin/orgs/nowhere/quota", {"storage": "1GB"}).status_code == 302
    with world.db.read() as session:
        assert quotas.get_limits(session, world.acme.id) == quotas.Limits()


def test_owners_are_mailed_once_a_month_per_kind_at_80_percent(world, settings):
    import email
    import email.policy

    from envelope.quota_warnings import mail_warnings
    from tests.mailbox import delivered_mail

    wheel = world.wheel("demo", "1.0")
    set_limits(world, storage_bytes=wheel.size * 2, members=100)  # 50 %: nothing to say
    assert mail_warnings(world.db, settings) == 0
    set_limits(world, storage_bytes=wheel.size + 1, members=3)  # both at 80 % or more
    assert mail_warnings(world.db, settings) == 1  # one owner, olivia; one message for both kinds
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in delivered_mail(settings)]
    assert [m["To"] for m in mails] == ["olivia@example.com"] and mails[0]["Subject"] == "acme: 80 % of a limit reached"
    text = mails[0].get_content()
    assert "Storage: " in text and "Members: 3 of the 3 limit (100 %)." in text
    assert "https://pkgs.example.com/acme/usage" in text
    assert mail_warnings(world.db, settings) == 0  # this month's are sent
    set_limits(world, storage_bytes=wheel.size + 1, members=3, download_bytes=0)
    assert mail_warnings(world.db, settings) == 1  # a new kind is still due
    with world.db.read() as session:
        assert set(session.get(quotas.OrgQuota, world.acme.id).warned) == {"storage", "members", "downloads"}
