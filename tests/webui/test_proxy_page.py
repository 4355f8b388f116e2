"""The upstream proxy's settings page: owners change them, others only see them."""
from __future__ import annotations

import re

from sqlalchemy import select

from envelope.models import AuditEvent, Organization
from envelope.sealing import unseal
from envelope.upstream.proxy import DEFAULT_UPSTREAM


def _org(world) -> Organization:
    with world.db.read() as session:
        return session.scalar(select(Organization).where(Organization.name == "acme"))


def test_owner_turns_the_proxy_on_with_credentials_and_reserved_names(world):
    owner = world.browser("olivia")
    form = {"enabled": "on", "upstream_url": "https://mirror:s3cret@mirror.example.com/simple",
            "reserved": "Acme_*\n\n*-internal\n"}
    saved = owner.post("/acme/proxy", form)
    assert saved.status_code == 302
    org = _org(world)
    assert org.upstream_url == "https://mirror.example.com/simple/"
    assert org.reserved_names == ["*-internal", "acme-*"]
    assert unseal("s" * 40, org.upstream_credentials_sealed) == '["mirror", "s3cret"]'
    page = owner.get("/acme/proxy").get_data(as_text=True)
    assert "https://mirror.example.com/simple/" in page and "Credentials are set" in page
    assert "s3cret" not in page
    # Saving the page as shown keeps the sealed credentials.
    owner.post("/acme/proxy", {"enabled": "on", "upstream_url": org.upstream_url, "reserved": "acme-*"})
    again = _org(world)
    assert again.upstream_credentials_sealed == org.upstream_credentials_sealed
    assert again.reserved_names == ["acme-*"]
    with world.db.read() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.organization_id == org.id)).all()
    assert {"proxy.enable", "proxy.reserve", "proxy.unreserve"} <= set(actions)


def test_blank_upstream_means_pypi_and_unchecked_turns_it_off(world):
    owner = world.browser("olivia")
    owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": ""})
    assert _org(world).upstream_url == DEFAULT_UPSTREAM
    owner.post("/acme/proxy", {"upstream_url": "", "reserved": ""})
    assert _org(world).upstream_url is None and _org(world).upstream_credentials_sealed is None


def test_bad_input_is_refused_and_changes_nothing(world):
    owner = world.browser("olivia")
    for form in ({"enabled": "on", "upstream_url": "ftp://x/simple/"},
                 {"enabled": "on", "upstream_url": "", "reserved": "not a pattern!"}):
        refused = owner.post("/acme/proxy", form)
        assert refused.status_code == 400
        assert _org(world).upstream_url is None and _org(world).reserved_names == []


def test_readers_see_the_settings_but_cannot_change_them(world):
    world.browser("olivia").post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "acme-*"})
    reader = world.browser("rita")
    page = reader.get("/acme/proxy").get_data(as_text=True)
    assert "acme-*" in page and "Only owners" in page and "<textarea" not in page
    assert reader.post("/acme/proxy", {"upstream_url": "", "reserved": ""}).status_code == 403
    assert world.browser("max").post("/acme/proxy", {"upstream_url": ""}).status_code == 403
    assert _org(world).upstream_url == DEFAULT_UPSTREAM


def test_the_form_needs_its_csrf_token(world):
    assert world.browser("olivia").post("/acme/proxy", {"enabled": "on"}, csrf=False).status_code == 400
    assert _org(world).upstream_url is None


def test_an_upstream_on_a_private_address_is_refused(world):
    owner = world.browser("olivia")
    for url in ("http://169.254.169.254/latest/", "http://127.0.0.1:6379/", "http://[::1]/simple/",
                "http://0x7f000001/simple/"):
        refused = owner.post("/acme/proxy", {"enabled": "on", "upstream_url": url, "reserved": ""})
        assert refused.status_code == 400
        assert "private or reserved network address" in refused.get_data(as_text=True)
        assert _org(world).upstream_url is None


def test_a_refused_form_comes_back_as_typed_without_its_password(world):
    owner = world.browser("olivia")
    refused = owner.post("/acme/proxy", {"enabled": "on", "reserved": "acme-*\nbilling",
                                         "upstream_url": "https://mirror:s3cret@169.254.169.254/simple/"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "s3cret" not in page
    assert 'value="https://169.254.169.254/simple/"' in page
    assert re.search(r'<input type="checkbox" id="enabled" name="enabled"\s+checked>', page)
    assert ">acme-*\nbilling</textarea>" in page
    assert _org(world).upstream_url is None


def test_a_malformed_upstream_url_is_named_without_its_password(world):
    owner = world.browser("olivia")
    refused = owner.post("/acme/proxy", {"enabled": "on", "reserved": "",
                                         "upstream_url": "https://mirror:s3cret@example.com/simple/?x=1"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "no query or fragment" in page and "s3cret" not in page


def test_owner_sets_the_minimum_age_and_everyone_sees_it(world):
    owner = world.browser("olivia")
    saved = owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "", "min_age": " 3D "})
    assert saved.status_code == 302
    assert _org(world).upstream_min_age == 3 * 86400
    page = owner.get("/acme/proxy").get_data(as_text=True)
    assert 'id="min_age" name="min_age" value="3d"' in page
    assert "0 versions held back" in page and "none now" in page
    with world.db.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "proxy.min_age")).one()
    assert event.subject == "3d" and event.actor == "user olivia"
    # A form without the field leaves the age alone; "0" turns it off.
    owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": ""})
    assert _org(world).upstream_min_age == 3 * 86400
    reader_page = world.browser("rita").get("/acme/proxy").get_data(as_text=True)
    assert re.search(r"Minimum age of upstream files</dt><dd>3d</dd>", reader_page)
    assert world.browser("rita").post("/acme/proxy", {"min_age": "0"}).status_code == 403
    assert _org(world).upstream_min_age == 3 * 86400
    owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "", "min_age": "0"})
    assert _org(world).upstream_min_age == 0


def test_a_bad_minimum_age_is_refused_and_changes_nothing(world):
    owner = world.browser("olivia")
    for age, says in (("3 days", "Invalid minimum age"), ("-1d", "Invalid minimum age"), ("91d", "at most 90d")):
        refused = owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "acme-*", "min_age": age})
        assert refused.status_code == 400 and says in refused.get_data(as_text=True)
        org = _org(world)
        assert org.upstream_min_age == 0 and org.upstream_url is None and org.reserved_names == []
    assert world.browser("olivia").post("/acme/proxy", {"enabled": "on", "min_age": "3d"}, csrf=False).status_code == 400
    assert _org(world).upstream_min_age == 0


def test_a_page_stored_before_upload_times_were_kept_is_held_back_too(world):
    """A row from before migration 0019 (upload_times NULL) still holds fresh
    files back: its upload times are read from its files once, and kept."""
    from datetime import timedelta

    from envelope.models import UpstreamPage
    from envelope.models.base import utcnow
    from envelope.index.pages import UPLOAD_TIME_FORMAT
    from tests.webui.conftest import SIMPLE_JSON, basic

    world.browser("olivia").post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "", "min_age": "3d"})
    now = utcnow()

    def entry(version: str, age: timedelta) -> dict:
        return {"filename": f"oldrow-{version}-py3-none-any.whl", "version": version,
                "url": f"https://files.example/oldrow-{version}-py3-none-any.whl", "metadata_url": None,
                "sha256": version[0] * 64, "metadata_sha256": None, "requires_python": None, "yanked": False,
                "size": 10, "upload_time": (now - age).strftime(UPLOAD_TIME_FORMAT)}

    with world.db.write() as session:
        # Fetched just now: fresh for ENVELOPE_UPSTREAM_TTL, so nothing asks PyPI.
        session.add(UpstreamPage(organization_id=_org(world).id, upstream_url=DEFAULT_UPSTREAM,
                                 normalized_name="oldrow", status=200, digest="d" * 64, fetched=now,
                                 files=[entry("1.0", timedelta(days=30)), entry("2.0", timedelta(hours=1))],
                                 project_meta={}, upload_times=None))
    client, auth = world.app.test_client(), basic(world.token(scope="read"))
    page = client.get("/acme/simple/oldrow/", headers={**auth, "Accept": SIMPLE_JSON})
    assert page.status_code == 200 and page.get_json()["versions"] == ["1.0"]
    with world.db.read() as session:
        row = session.scalar(select(UpstreamPage).where(UpstreamPage.normalized_name == "oldrow"))
        assert row.upload_times is not None and len(row.upload_times) == 2
    held = client.get(f"/acme/files/{'2' * 64}/oldrow-2.0-py3-none-any.whl", headers=auth)
    assert held.status_code == 404


def test_owner_sets_the_cache_budget_and_everyone_sees_it(world):
    owner = world.browser("olivia")
    saved = owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "",
                                       "cache_max_size": " 5GB ", "cache_max_age": "12w"})
    assert saved.status_code == 302
    org = _org(world)
    assert (org.upstream_cache_max_bytes, org.upstream_cache_max_age) == (5 * 10**9, 12 * 7 * 86400)
    page = owner.get("/acme/proxy").get_data(as_text=True)
    assert 'name="cache_max_size" value="5GB"' in page and 'name="cache_max_age" value="12w"' in page
    assert "Cached now: 0 bytes in 0 files" in page
    with world.db.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "proxy.cache_budget")).one()
    assert event.subject == "at most 5 GB, each used within 12w" and event.actor == "user olivia"
    # A form without the fields leaves the budget alone; blank fields keep every file.
    owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": ""})
    assert _org(world).upstream_cache_max_bytes == 5 * 10**9
    reader_page = world.browser("rita").get("/acme/proxy").get_data(as_text=True)
    assert "Cache budget</dt><dd>at most 5 GB, each used within 12w; cached now: 0 bytes in 0 files" in reader_page
    owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "",
                               "cache_max_size": "", "cache_max_age": "none"})
    org = _org(world)
    assert org.upstream_cache_max_bytes is None and org.upstream_cache_max_age is None


def test_a_bad_cache_budget_is_refused_as_typed_and_changes_nothing(world):
    owner = world.browser("olivia")
    for size, age, says in (("lots", "", "is not a size"), ("", "30m", "between 1h and 10 years"),
                            ("1GB", "soon", "Invalid cache age")):
        refused = owner.post("/acme/proxy", {"enabled": "on", "upstream_url": "", "reserved": "",
                                             "cache_max_size": size, "cache_max_age": age})
        page = refused.get_data(as_text=True)
        assert refused.status_code == 400 and says in page
        assert f'name="cache_max_size" value="{size}"' in page and f'name="cache_max_age" value="{age}"' in page
        org = _org(world)
        assert org.upstream_cache_max_bytes is None and org.upstream_cache_max_age is None
        assert org.upstream_url is None
