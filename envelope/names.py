"""Project names, versions and distribution filenames, by packaging's rules."""
from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from envelope.errors import EnvelopeError, InvalidDistribution, InvalidInput

MAX_FILENAME_LENGTH = 255  # bytes: what every filesystem and S3 key segment accepts
# Characters the database columns hold (envelope/models/packaging.py); PostgreSQL
# refuses longer values, so they are refused here first, with a reason.
MAX_NAME_LENGTH = 200  # projects.name, projects.normalized_name
MAX_VERSION_LENGTH = 100  # releases.version, releases.canonical_version
MAX_PYTHON_TAGS_LENGTH = 100  # files.python_version
# One component of a wheel's tag triple (python, abi or platform): letters,
# digits and underscores, with '.' only between the members of a compressed
# tag set. Anything else ('#', '?', '%', quotes, spaces) has no meaning to an
# installer and would only travel into URLs and pages.
WHEEL_TAG = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
BUILD_TAG = re.compile(r"[0-9]+[A-Za-z0-9_]*")  # PEP 427: starts with a digit
ORG_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Top-level paths of the web UI and API: an organization may not shadow them.
RESERVED_ORG_NAMES = frozenset(
    {
        "login", "logout", "signup", "register", "static", "api", "hooks", "healthz",
        "account", "accounts", "admin", "orgs", "organizations", "settings", "tokens",
        "simple", "files", "legacy", "help", "docs", "about", "invitations", "reset",
        "verify", "new", "openapi", "openapi.json", "favicon.ico", "robots.txt",
        "reset-password", "verify-email", "auth", "user", "users", "projects", "search", "github-app",
    }
)


def normalize(name: str) -> NormalizedName:
    """PEP 503 normalised form of a valid project name; InvalidInput otherwise."""
    check_length("Project name", name, MAX_NAME_LENGTH, InvalidInput)
    try:
        return canonicalize_name(name, validate=True)
    except InvalidName:
        raise InvalidInput(f"Invalid project name: {name!r}.") from None


def validate_org_name(name: str) -> str:
    if not ORG_NAME.fullmatch(name):
        raise InvalidInput(
            f"Invalid organization name {name!r}: use 1-64 lowercase letters, digits "
            "and hyphens, starting and ending with a letter or digit."
        )
    if name in RESERVED_ORG_NAMES:
        raise InvalidInput(f"The organization name {name!r} is reserved; choose another.")
    return name


@dataclass(frozen=True)
class DistributionFilename:
    """What a filename promises; the archive's metadata must keep the promise."""

    filename: str
    name: NormalizedName
    version: Version
    packagetype: str  # "bdist_wheel" or "sdist"
    tags: frozenset[Tag]
    build: tuple[()] | tuple[int, str] = ()  # a wheel's build tag, as packaging parses it

    @property
    def python_version(self) -> str:
        """The legacy 'python_version' field PyPI shows: the interpreter tags, or 'source'."""
        if self.packagetype == "sdist":
            return "source"
        return ".".join(sorted({tag.interpreter for tag in self.tags}))


def parse_filename(filename: str) -> DistributionFilename:
    """Parse a wheel or sdist filename; InvalidDistribution with the reason otherwise."""
    if "/" in filename or "\\" in filename:
        raise InvalidDistribution(
            f"Invalid distribution filename {filename!r}: it has a path in it; send the file by its name alone."
        )
    if filename.startswith(".") or "\x00" in filename:
        raise InvalidDistribution(f"Invalid distribution filename: {filename!r}.")
    if len(filename.encode()) > MAX_FILENAME_LENGTH:
        raise InvalidDistribution(
            f"Filename is longer than {MAX_FILENAME_LENGTH} bytes: {filename[:60]!r}…"
        )
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            return DistributionFilename(filename, name, version, "bdist_wheel", tags, build)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return DistributionFilename(filename, name, version, "sdist", frozenset())
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise InvalidDistribution(f"Invalid distribution filename: {exc}") from None
    raise InvalidDistribution(
        f"Unsupported file type {filename!r}: upload wheels (.whl) or sdists (.tar.gz)."
    )


def check_length(
    field: str, value: str, limit: int, error: type[EnvelopeError] = InvalidDistribution
) -> None:
    """Raise `error` naming `field` and `limit` when `value` is longer than `limit` characters."""
    if len(value) > limit:
        raise error(f"{field} is longer than {limit} characters: {value[:40]!r}…")


def check_field_lengths(dist: DistributionFilename) -> None:
    """Refuse a filename whose name, version or Python tags the index could not store.

    Separate from parse_filename so that callers which only ask "is this a
    distribution filename?" (GitHub sync) can tell a refusal from a non-match."""
    check_length("Project name", dist.name, MAX_NAME_LENGTH)
    check_version_length(dist.version)
    check_length("Python tag", dist.python_version, MAX_PYTHON_TAGS_LENGTH)


def check_publishable(dist: DistributionFilename) -> None:
    """Everything a filename must satisfy to be published, beyond parsing:
    storable lengths, a public version and well-formed wheel tags.

    InvalidDistribution (400) naming what is wrong; parse_filename alone
    stays lenient so that sync and the upstream proxy can still recognise
    a distribution filename they then refuse or skip."""
    check_field_lengths(dist)
    check_public_version(dist)
    check_wheel_tags(dist.filename)


def check_public_version(dist: DistributionFilename) -> None:
    """Refuse PEP 440 local versions ('1.0+evil'), as PyPI does.

    A specifier such as '==1.0' matches '1.0+evil', and installers prefer
    the local version: a token restricted to 'billing==1.0' could otherwise
    publish what every 'billing==1.0' install picks instead of 1.0."""
    if dist.version.local is not None:
        raise InvalidDistribution(
            f"Can't use PEP 440 local versions: {str(dist.version)!r} in {dist.filename!r} has the "
            f"local label '+{dist.version.local}'; publish a version without a '+' part."
        )


def check_wheel_tags(filename: str) -> None:
    """Refuse a wheel whose build, python, abi or platform tag holds anything
    but letters, digits, underscores and (between compressed tags) dots.

    packaging parses tags leniently ('any#x' is a platform to it); these
    characters would end up in file URLs and index pages, so they are
    refused here with the tag named."""
    if not filename.endswith(".whl"):
        return
    parts = filename[: -len(".whl")].split("-")
    labels = ["python tag", "ABI tag", "platform tag"]
    tags = list(zip(labels, parts[-3:], strict=True))
    if len(parts) == 6:
        tags.insert(0, ("build tag", parts[2]))
    for label, tag in tags:
        grammar = BUILD_TAG if label == "build tag" else WHEEL_TAG
        if not grammar.fullmatch(tag):
            allowed = (
                "a digit followed by letters, digits and underscores" if label == "build tag"
                else "letters, digits and underscores, with '.' only between compressed tags"
            )
            raise InvalidDistribution(
                f"Invalid wheel filename {filename!r}: the {label} {tag!r} may only hold {allowed}."
            )


def filename_key(dist: DistributionFilename) -> str:
    """The identity of a distribution file, whatever its filename's spelling.

    Two filenames with one key are one file to an installer: 'Billing-1.0.0'
    and 'billing-1.0' are the same project and version, 'py2.py3' and
    'py3.py2' the same tags. Immutability and the deleted-filename list
    compare these keys, so a respelling can never publish other bytes. An
    sdist's key is its name and version: one source distribution a release,
    as PyPI allows. A compressed tag set is the product of its components,
    so the sorted components identify the set exactly."""
    version = canonical_version(dist.version)
    if dist.packagetype == "sdist":
        return f"{dist.name}-{version}.sdist"
    components = [
        ".".join(sorted({getattr(tag, part) for tag in dist.tags}))
        for part in ("interpreter", "abi", "platform")
    ]
    build = f"-{dist.build[0]}{dist.build[1]}" if dist.build else ""
    return f"{dist.name}-{version}{build}-{'-'.join(components)}.whl"


def check_version_length(version: Version) -> None:
    """InvalidDistribution when the version, or its canonical form, is too long to store."""
    check_length("Version", str(version), MAX_VERSION_LENGTH)
    check_length("Version", canonical_version(version), MAX_VERSION_LENGTH)


def canonical_version(version: Version | str) -> str:
    """The release key: 1.0 and 1.0.0 are one release, as PyPI treats them."""
    return canonicalize_version(version, strip_trailing_zero=True)


def parse_specifier(text: str) -> SpecifierSet:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise InvalidInput(f"Invalid version specifier: {text!r}.") from None


def parse_project_restriction(text: str) -> tuple[NormalizedName, str]:
    """'billing>=1,<2' -> ('billing', '<2,>=1'); a bare name allows every version.

    Parsed as a PEP 508 requirement so the grammar is packaging's, not ours;
    extras, URLs and markers mean nothing for a token and are refused."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        raise InvalidInput(
            f"Invalid project restriction {text!r}: expected NAME or NAME followed by a "
            "version specifier, e.g. 'billing>=1,<2'."
        ) from None
    if requirement.extras or requirement.url or requirement.marker:
        raise InvalidInput(
            f"Invalid project restriction {text!r}: extras, URLs and markers are not allowed."
        )
    return normalize(requirement.name), str(requirement.specifier)
