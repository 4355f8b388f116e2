from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envelope.orgs.capabilities import DEPLOY_TOKEN, Capability
from envelope.orgs.identity import Caller, Restriction, operator
from envelope.models import Organization
from envelope.errors import Forbidden
from envelope.names import parse_project_restriction


def principal(*restrictions: str, can_upload: bool = True, unrestricted: bool = False) -> Caller:
    """A principal restricted to 'name[specifier]' entries (bare names allow every version)."""
    parsed = None
    if not unrestricted:
        parsed = tuple(_restriction(text) for text in restrictions)
    capabilities = DEPLOY_TOKEN if can_upload else frozenset({Capability.READ_INDEX})
    return Caller(organization_id=1, label="token 'ci' (#1)", capabilities=capabilities, restrictions=parsed)


def _restriction(text: str) -> Restriction:
    name, specifier = parse_project_restriction(text)
    return Restriction(name, SpecifierSet(specifier))


UNRESTRICTED = principal(unrestricted=True)
BILLING_1X = principal("billing>=1,<2")
BILLING_ANY_AND_AUTH_3 = principal("billing", "auth==3.*")


@pytest.mark.parametrize(
    ("who", "project", "expected"),
    [
        (UNRESTRICTED, "billing", True),
        (UNRESTRICTED, "anything", True),
        (BILLING_1X, "billing", True),
        (BILLING_1X, "auth", False),
        (BILLING_1X, "billing-extra", False),
        (BILLING_ANY_AND_AUTH_3, "auth", True),
        (BILLING_ANY_AND_AUTH_3, "billing", True),
        (BILLING_ANY_AND_AUTH_3, "payroll", False),
        (principal(), "billing", False),  # an empty restriction set allows nothing
    ],
)
def test_may_read_project(who, project, expected):
    assert who.may_read_project(project) is expected


@pytest.mark.parametrize(
    ("who", "project", "version", "expected"),
    [
        (UNRESTRICTED, "billing", "0.1", True),
        (UNRESTRICTED, "billing", "99.0", True),
        (BILLING_1X, "billing", "1.0", True),
        (BILLING_1X, "billing", "1.5", True),
        (BILLING_1X, "billing", "1.99.99", True),
        (BILLING_1X, "billing", "1.0.post1", True),
        (BILLING_1X, "billing", "2.0", False),
        (BILLING_1X, "billing", "2.0.1", False),
        (BILLING_1X, "billing", "0.9", False),
        # Pre-releases match when they fall inside the range (the docstring's rule)...
        (BILLING_1X, "billing", "1.5rc1", True),
        (BILLING_1X, "billing", "1.5.dev3", True),
        (principal("billing>=1"), "billing", "2.0rc1", True),
        # ...but 1.0rc1 sorts before 1.0, and 2.0rc1 is a pre-release of the excluded 2.0.
        (BILLING_1X, "billing", "1.0rc1", False),
        (BILLING_1X, "billing", "2.0rc1", False),
        (BILLING_1X, "auth", "1.5", False),
        (BILLING_ANY_AND_AUTH_3, "billing", "0.0.1", True),
        (BILLING_ANY_AND_AUTH_3, "billing", "7.0a1", True),
        (BILLING_ANY_AND_AUTH_3, "auth", "3.2", True),
        (BILLING_ANY_AND_AUTH_3, "auth", "4.0", False),
    ],
)
def test_may_read_version(who, project, version, expected):
    assert who.may_read_version(project, version) is expected
    assert who.may_read_version(project, Version(version)) is expected


@pytest.mark.parametrize(
    ("who", "project", "version"),
    [
        (UNRESTRICTED, "billing", "1.0"),
        (UNRESTRICTED, "new-project", "0.0.1"),
        (BILLING_1X, "billing", "1.0"),
        (BILLING_1X, "billing", "1.5"),
        (BILLING_1X, "billing", "1.5rc1"),
        (BILLING_ANY_AND_AUTH_3, "billing", "42.0"),
        (BILLING_ANY_AND_AUTH_3, "auth", "3.0"),
        (operator(Organization(id=1, name="acme"), "operator"), "anything", "1.0"),
    ],
)
def test_check_upload_allows(who, project, version):
    assert who.check_upload(project, Version(version)) is None


@pytest.mark.parametrize(
    ("who", "project", "version", "message"),
    [
        (
            BILLING_1X,
            "billing",
            "2.0",
            "This token may not upload billing 2.0: it is restricted to billing<2,>=1.",
        ),
        (
            BILLING_1X,
            "billing",
            "1.0rc1",
            "This token may not upload billing 1.0rc1: it is restricted to billing<2,>=1.",
        ),
        (
            BILLING_1X,
            "auth",
            "1.5",
            "This token may not upload auth: it is restricted to billing<2,>=1.",
        ),
        (
            BILLING_ANY_AND_AUTH_3,
            "auth",
            "4.0",
            "This token may not upload auth 4.0: it is restricted to auth==3.*.",
        ),
        (
            BILLING_ANY_AND_AUTH_3,
            "payroll",
            "1.0",
            "This token may not upload payroll: it is restricted to billing, auth==3.*.",
        ),
    ],
)
def test_check_upload_refuses_outside_restrictions(who, project, version, message):
    with pytest.raises(Forbidden) as caught:
        who.check_upload(project, Version(version))
    assert str(caught.value) == message
    assert caught.value.status == 403


@pytest.mark.parametrize(
    "who",
    [
        principal(can_upload=False, unrestricted=True),
        principal("billing", can_upload=False),
        principal("billing>=1,<2", can_upload=False),
    ],
)
def test_read_only_scope_refuses_upload_even_inside_restrictions(who):
    with pytest.raises(Forbidden, match="may only read; uploading needs upload scope"):
        who.check_upload("billing", Version("1.5"))
    # Reading is unaffected by the scope.
    assert who.may_read_version("billing", "1.5")


def test_the_operator_has_every_right():
    who = operator(Organization(id=7, name="acme"), "operator")
    assert (who.organization_id, who.label, who.can_upload, who.can_manage) == (7, "operator", True, True)
    assert who.restrictions is None
    assert who.may_read_version("whatever", "0.1")


# --------------------------------------------------------------------------- restriction_key


def test_restriction_key_unrestricted_is_all():
    assert UNRESTRICTED.restriction_key == "all"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (principal("billing>=1,<2"), principal("billing>=1,<2")),
        (principal("billing>=1,<2"), principal("billing<2,>=1")),
        (principal("billing", "auth==3.*"), principal("auth==3.*", "billing")),
        # The key describes what is visible, not who asks or what they may do.
        (principal("billing", can_upload=False), principal("billing", can_upload=True)),
    ],
)
def test_restriction_key_stable(left, right):
    assert left.restriction_key == right.restriction_key
    assert len(left.restriction_key) == 16


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (principal("billing"), principal("billing>=1")),
        (principal("billing>=1"), principal("billing>=2")),
        (principal("billing"), principal("auth")),
        (principal("billing"), principal("billing", "auth")),
        (principal(), principal("billing")),
        (principal("billing"), UNRESTRICTED),
    ],
)
def test_restriction_key_differs_by_restriction_set(left, right):
    assert left.restriction_key != right.restriction_key


def test_restriction_str_names_project_and_specifier():
    assert str(Restriction("billing", SpecifierSet(">=1,<2"))) == "billing<2,>=1"
    assert str(Restriction("billing", SpecifierSet(""))) == "billing"
