"""The project page's sidebar: links, license, people, Requires-Python,
classifiers and dependencies, from the core metadata stored at publish;
private dependencies linked only for those who may read them."""
from __future__ import annotations

import html
import re

from sqlalchemy import select

from envelope.models import Project
from envelope.orgs.authentication import authenticate
from envelope.orgs.identity import operator
from envelope.packaging.core_metadata import release_metadata
from envelope.packaging.project_facts import project_facts
from tests.unit.archives import core_metadata, wheel_members, zip_bytes

RICH = """Home-page: https://billing.example.com
Project-URL: Source, https://git.example.com/acme/billing
Project-URL: Sneaky, javascript:alert(1)
License-Expression: MIT OR Apache-2.0
Author: Ada Lovelace
Author-email: Ada Lovelace <ada@example.com>
Maintainer-email: Platform Team <platform@example.com>
Classifier: Programming Language :: Python :: 3
Classifier: Programming Language :: Python :: 3.12
Classifier: Operating System :: OS Independent
Requires-Dist: ledger>=2,<3
Requires-Dist: requests>=2.31
Requires-Dist: tomli; python_version < "3.11"
Requires-Dist: redis>=5; extra == "cache"
Provides-Extra: cache
"""


def publish_rich(world, name: str = "billing", version: str = "1.0", extra: str = RICH, org=None):
    metadata = core_metadata(name, version, summary="Invoices for everyone", requires_python=">=3.11")
    metadata = metadata.replace(b"Summary:", extra.encode() + b"Summary:", 1)
    data = zip_bytes(wheel_members(name, version, metadata=metadata))
    return world.publish(f"{name.replace('-', '_')}-{version}-py3-none-any.whl", data, org)


def sidebar(page: str) -> str:
    match = re.search(r'<aside class="project-sidebar".*?</aside>', page, re.S)
    assert match, "no sidebar on the page"
    return html.unescape(match.group(0))


def test_sidebar_shows_the_core_metadata(world):
    world.wheel("ledger", "2.1")
    publish_rich(world)
    page = world.browser("rita").get("/acme/projects/billing/").get_data(as_text=True)
    side = sidebar(page)
    assert '<a href="https://billing.example.com" rel="nofollow noopener">Homepage</a>' in side
    assert '<a href="https://git.example.com/acme/billing" rel="nofollow noopener">Source</a>' in side
    assert "javascript:" not in side and "Sneaky" not in side  # only http(s) links
    assert "MIT OR Apache-2.0" in side
    assert '<a href="mailto:ada@example.com">Ada Lovelace</a>' in side and "Platform Team" in side
    assert "<code>>=3.11</code>" in side
    assert "Programming Language" in side and "Python :: 3.12" in side and "OS Independent" in side
    # A private dependency links to its page; a public one is plain text.
    assert '<a href="/acme/projects/ledger/">ledger</a>' in side and "<code><3,>=2</code>" in side
    assert "requests<code>>=2.31</code>" in side and 'href="/acme/projects/requests/"' not in side
    assert 'python_version < "3.11"' in side
    assert re.search(r"With <code>\[cache\]</code></h3>\s*<ul[^>]*>\s*<li>redis<code>>=5</code>", side)
    # Install comes before the README; management is not on this page.
    assert page.index('id="snippet-pip-cli"') < page.index('id="description-title"')
    assert "Yank" not in page


def test_a_dependency_is_linked_only_when_the_viewer_may_read_it(world):
    world.wheel("ledger", "2.1", org=world.other)  # same name, another organization: not ours
    publish_rich(world)
    side = sidebar(world.browser("rita").get("/acme/projects/billing/").get_data(as_text=True))
    assert "ledger<code><3,>=2</code>" in side and 'href="/acme/projects/ledger/"' not in side

    # A token restricted to billing sees ledger named, never linked.
    world.wheel("ledger", "2.1")
    secret = world.token(name="billing only", projects="billing")
    with world.db.read() as session:
        caller = authenticate(session, "acme", "__token__", secret)
        project = session.scalars(select(Project).where(Project.normalized_name == "billing")).one()
        files = project.releases[0].files
        metadata = release_metadata(world.app.extensions["envelope"].storage, files)
        restricted = project_facts(session, project.organization, caller, metadata)
        member = project_facts(session, project.organization, operator(project.organization, "t"), metadata)
    assert [(d.name, d.project) for d in restricted.dependencies][:2] == [("ledger", None), ("requests", None)]
    assert [(d.name, d.project) for d in member.dependencies][:2] == [("ledger", "ledger"), ("requests", None)]


def test_license_text_is_folded_and_license_classifiers_stand_in(world):
    long_text = "Copyright (c) Acme\n\nPermission is hereby granted, free of charge, to any person ..."
    publish_rich(world, "ledger", "1.0", extra="License: " + long_text.replace("\n", "\n        ") + "\n")
    side = sidebar(world.browser("rita").get("/acme/projects/ledger/").get_data(as_text=True))
    assert "<dd>Copyright (c) Acme" in side and "<summary>Full text</summary>" in side
    publish_rich(world, "audit-kit", "1.0", extra="Classifier: License :: OSI Approved :: MIT License\n")
    side = sidebar(world.browser("rita").get("/acme/projects/audit-kit/").get_data(as_text=True))
    assert "<dd>MIT License" in side and "Dependencies" in side and "None." in side


def test_files_show_a_short_hash_that_holds_the_full_one(world):
    file = world.wheel("demo", "1.0")
    page = world.browser("rita").get("/acme/projects/demo/").get_data(as_text=True)
    assert f'<code title="{file.sha256}">{file.sha256[:12]}…</code>' in page
    assert f'<code class="digest" id="sha-{file.id}">{file.sha256}</code>' in page
    assert f'data-copy="sha-{file.id}"' in page
