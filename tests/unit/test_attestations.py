"""PEP 740 attestations: shape checks, offline verification of a real PyPI
attestation, and what publish_file stores or refuses.

The attestation is PyPI's own (tests/builders.py `download_real_attestations`):
a publish attestation that trailofbits/pypi-attestations' release workflow
signed with Sigstore for pypi_attestations-0.0.19.tar.gz, with the
provenance object PyPI's integrity endpoint serves for that file.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from sqlalchemy import func, select

from envelope.errors import InvalidInput, NotFound
from envelope.github.repositories import add_repository
from envelope.index import pages as index
from envelope.index.integrity import provenance_document
from envelope.models import (
    AssetOutcome,
    File,
    FileProvenance,
    FileSource,
    Organization,
    Project,
    RepositoryConnection,
    RunStatus,
    RunTrigger,
    SyncAsset,
    SyncRun,
)
from envelope.orgs.capabilities import Capability
from envelope.orgs.identity import Caller, Restriction
from envelope.packaging.attestations import known_repositories, parse_attestations, verify_attestations
from envelope.packaging.publish import publish_file
from tests.builders import ATTESTED_DIST, ATTESTED_PUBLISHER
from tests.unit.archives import wheel_bytes, wheel_filename


@pytest.fixture(scope="module")
def real(real_attestations: dict[str, Path]) -> dict[str, Any]:
    dist = real_attestations["dist"].read_bytes()
    return {
        "dist": dist,
        "sha256": hashlib.sha256(dist).hexdigest(),
        "attestation": json.loads(real_attestations["attestation"].read_text()),
        "provenance": json.loads(real_attestations["provenance"].read_text()),
    }


def field(*attestations: dict[str, Any]) -> str:
    return json.dumps(list(attestations))


# --------------------------------------------------------------------------- shape


def _statement_swapped(attestation: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The attestation with its statement edited (its signature no longer covers it)."""
    changed = copy.deepcopy(attestation)
    statement = json.loads(base64.b64decode(changed["envelope"]["statement"]))
    statement.update(changes)
    changed["envelope"]["statement"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return changed


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda a: "not json", "not valid JSON"),
        (lambda a: "{}", "non-empty JSON array"),
        (lambda a: "[]", "non-empty JSON array"),
        (lambda a: "[1]", "Attestation 0 is not a PEP 740 attestation object"),
        (lambda a: field({**a, "version": 2}), "version"),
        (lambda a: field({k: v for k, v in a.items() if k != "envelope"}), "envelope"),
        (lambda a: field({**a, "verification_material": {**a["verification_material"], "transparency_entries": []}}),
         "transparency_entries"),
        (lambda a: field({**a, "envelope": {**a["envelope"], "statement": "%%%"}}), "Attestation 0"),
        (lambda a: field(*[a] * 9), "Too many attestations"),
        (lambda a: field(a, a), "More than one attestation of predicate type"),
    ],
    ids=["not json", "object", "empty", "not an object", "version", "no envelope", "no log entry",
         "statement not base64", "too many", "duplicate type"],
)
def test_malformed_fields_are_refused(real, make, message):
    with pytest.raises(InvalidInput, match=message):
        parse_attestations(make(real["attestation"]))


# --------------------------------------------------------------------------- verification (offline)


def test_a_real_pypi_attestation_verifies_and_makes_pypis_provenance(real):
    verified = verify_attestations(parse_attestations(field(real["attestation"])), ATTESTED_DIST, real["sha256"])
    assert verified.publisher == ATTESTED_PUBLISHER
    # What PyPI's integrity endpoint served for this file, key for key.
    assert verified.document() == real["provenance"]
    assert json.loads(verified.to_json()) == real["provenance"]


def test_verification_needs_no_network(real, monkeypatch):
    """The trust root is the one sigstore embeds: no TUF refresh, no Rekor
    lookup. Any connection attempt during verification fails the test."""
    from envelope.packaging import attestations as module

    def refuse(*args, **kwargs):
        raise AssertionError(f"verification tried to reach the network: {args!r}")

    module._verifier.cache_clear()  # built again, under the guard
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    verified = verify_attestations(parse_attestations(field(real["attestation"])), ATTESTED_DIST, real["sha256"])
    assert verified.publisher == ATTESTED_PUBLISHER


@pytest.mark.parametrize("repository", ["trailofbits/pypi-attestations", "TrailOfBits/PyPI-Attestations"])
def test_a_known_repository_that_signed_is_accepted(real, repository):
    attestations = parse_attestations(field(real["attestation"]))
    verified = verify_attestations(attestations, ATTESTED_DIST, real["sha256"], [repository.lower(), "acme/other"])
    assert verified.publisher["repository"] == "trailofbits/pypi-attestations"


def test_another_known_repository_is_refused(real):
    attestations = parse_attestations(field(real["attestation"]))
    with pytest.raises(InvalidInput, match="not made by this project's publisher.*github.com/acme/billing"):
        verify_attestations(attestations, ATTESTED_DIST, real["sha256"], ["acme/billing"])


def _tampered_signature(a: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(a)
    signature = bytearray(base64.b64decode(changed["envelope"]["signature"]))
    signature[-1] ^= 1
    changed["envelope"]["signature"] = base64.b64encode(bytes(signature)).decode()
    return changed


def _other_certificate(a: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(a)
    der = bytearray(base64.b64decode(changed["verification_material"]["certificate"]))
    der[-5] ^= 1  # inside the CA's signature over the certificate
    changed["verification_material"]["certificate"] = base64.b64encode(bytes(der)).decode()
    return changed


@pytest.mark.parametrize(
    "filename, sha256, tamper, message",
    [
        ("pypi_attestations-0.0.20.tar.gz", None, None, "not for the uploaded file"),
        ("pypi_attestations-0.0.19-py3-none-any.whl", None, None, "not for the uploaded file"),
        (ATTESTED_DIST, "0" * 64, None, "other bytes"),
        (ATTESTED_DIST, None, _tampered_signature, "does not verify"),
        (ATTESTED_DIST, None, _other_certificate, "does not verify"),
        (ATTESTED_DIST, None, lambda a: _statement_swapped(a, predicateType="https://example.com/x"), "does not verify"),
        (ATTESTED_DIST, None, lambda a: _statement_swapped(
            a, subject=[{"name": ATTESTED_DIST, "digest": {"sha256": "1" * 64}}]), "does not verify"),
    ],
    ids=["other version", "other kind", "other bytes", "signature", "certificate", "statement type",
         "statement digest"],
)
def test_attestations_that_do_not_prove_this_file_are_refused(real, filename, sha256, tamper, message):
    attestation = tamper(real["attestation"]) if tamper else real["attestation"]
    attestations = parse_attestations(field(attestation))
    with pytest.raises(InvalidInput, match=message):
        verify_attestations(attestations, filename, sha256 or real["sha256"])


def _edited(path: tuple[Any, ...], value: Any):
    def edit(a: dict[str, Any]) -> dict[str, Any]:
        changed = copy.deepcopy(a)
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return changed
    return edit


@pytest.mark.parametrize(
    "edit",
    [
        _edited(("verification_material", "transparency_entries", 0, "kindVersion", "version"), "x"),
        _edited(("verification_material", "transparency_entries", 0, "logIndex"), "-1"),
        _edited(("verification_material", "transparency_entries", 0, "inclusionProof", "hashes"), []),
        _edited(("envelope", "signature"), ""),
        _edited(("verification_material", "certificate"), "AAAA"),
    ],
    ids=["log entry version", "log index", "inclusion proof", "empty signature", "not a certificate"],
)
def test_hostile_attestations_are_a_clear_400_never_a_crash(real, edit):
    """Every value of the real attestation was replaced in turn by junk while
    writing this; these are the ones that once escaped as other exceptions."""
    with pytest.raises(InvalidInput, match="Attestation 0"):
        verify_attestations(parse_attestations(field(edit(real["attestation"]))), ATTESTED_DIST, real["sha256"])


# --------------------------------------------------------------------------- publish_file


@pytest.fixture
def publish_attested(database, storage, organization, operator, spool_dir, real):
    def publish(attestations: str | None, *, filename: str = ATTESTED_DIST, principal=None):
        return publish_file(
            database, storage, organization=organization, principal=principal or operator, filename=filename,
            stream=io.BytesIO(real["dist"]), source=FileSource.upload, spool_dir=spool_dir,
            max_size=10 * 1024**2, attestations=attestations,
        )

    return publish


def stored(database) -> dict[str, int]:
    with database.read() as session:
        return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in (File, FileProvenance)}


def test_publish_stores_the_provenance_and_the_index_links_it(database, organization, operator, publish_attested, real):
    result = publish_attested(field(real["attestation"]))
    assert result.created
    with database.read() as session:
        project = session.scalar(select(Project))
        page = index.project_detail(session, project, operator)
        document = provenance_document(session, organization.id, operator, "PyPI_Attestations", "0.0.19", ATTESTED_DIST)
    (entry,) = page["files"]
    assert entry["provenance"] == f"../../integrity/pypi-attestations/0.0.19/{ATTESTED_DIST}/provenance"
    assert f'data-provenance="{entry["provenance"]}"' in index.render_detail_html(page)
    assert json.loads(document) == real["provenance"]


def test_files_without_attestations_have_no_provenance(database, organization, operator, publish_attested):
    publish_attested(None)
    with database.read() as session:
        page = index.project_detail(session, session.scalar(select(Project)), operator)
        with pytest.raises(NotFound):
            provenance_document(session, organization.id, operator, "pypi-attestations", "0.0.19", ATTESTED_DIST)
    assert "provenance" not in page["files"][0]
    assert "data-provenance" not in index.render_detail_html(page)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda a: "[{]", "not valid JSON"),
        (lambda a: field(_tampered_signature(a)), "does not verify"),
    ],
    ids=["malformed", "tampered"],
)
def test_a_refused_attestation_publishes_nothing(database, storage_root, publish_attested, real, make, message):
    with pytest.raises(InvalidInput, match=message):
        publish_attested(make(real["attestation"]))
    assert stored(database) == {"files": 0, "file_provenances": 0}
    assert not storage_root.exists() or not any(p.is_file() for p in storage_root.rglob("*"))


def test_an_attestation_for_another_file_publishes_nothing(database, publish_attested, real):
    with pytest.raises(InvalidInput, match="not for the uploaded file"):
        publish_attested(field(real["attestation"]), filename="pypi_attestations-0.0.20.tar.gz")
    assert stored(database) == {"files": 0, "file_provenances": 0}


def reader(organization: Organization, project: str, specifier: str) -> Caller:
    """A read token restricted to one project's versions matching `specifier`."""
    return Caller(organization_id=organization.id, label="token 'ci'", capabilities=frozenset({Capability.READ_INDEX}),
                  restrictions=(Restriction(project, SpecifierSet(specifier)),))


def _connect(database, organization: Organization, full_name: str, projects: tuple[str, ...]) -> None:
    with database.write() as session:
        org = session.get(Organization, organization.id)
        add_repository(session, "k" * 32, org, full_name, github_token=None, projects=projects, actor="test")


def test_a_connection_naming_the_project_is_its_known_publisher(database, organization, publish_attested, real):
    _connect(database, organization, "acme/attestations", ("pypi-attestations",))
    _connect(database, organization, "acme/anything", ())  # may publish any project: names no publisher
    with database.read() as session:
        assert known_repositories(session, organization.id, "pypi-attestations") == ["acme/attestations"]
        assert known_repositories(session, organization.id, "other") == []
    with pytest.raises(InvalidInput, match="not made by this project's publisher"):
        publish_attested(field(real["attestation"]))
    assert stored(database) == {"files": 0, "file_provenances": 0}


def test_a_connection_whose_releases_published_the_project_is_its_known_publisher(database, organization, publish):
    """A connection that may publish anything becomes the project's known
    publisher once its release sync has published one of the project's files."""
    _connect(database, organization, "acme/monorepo", ())
    earlier = wheel_filename("pypi-attestations", "0.0.18")
    publish(earlier, wheel_bytes("pypi-attestations", "0.0.18"))
    with database.write() as session:
        connection = session.scalar(select(RepositoryConnection))
        run = SyncRun(connection_id=connection.id, trigger=RunTrigger.webhook, status=RunStatus.succeeded)
        session.add(run)
        session.flush()
        session.add(SyncAsset(run_id=run.id, name=earlier, size=1, asset_id=1, asset_updated_at="2024-01-01T00:00:00Z",
                              outcome=AssetOutcome.published))
    with database.read() as session:
        assert known_repositories(session, organization.id, "pypi-attestations") == ["acme/monorepo"]
        assert known_repositories(session, organization.id, "billing") == []


def test_the_signing_repository_connected_for_the_project_is_accepted(database, organization, publish_attested, real):
    _connect(database, organization, "TrailOfBits/pypi-attestations", ("pypi-attestations",))
    assert publish_attested(field(real["attestation"])).created
    assert stored(database) == {"files": 1, "file_provenances": 1}


def test_a_restricted_reader_sees_no_other_projects_provenance(database, organization, operator, publish_attested, real):
    publish_attested(field(real["attestation"]))
    billing_only = reader(organization, "billing", "")
    old_versions = reader(organization, "pypi-attestations", "<0.0.19")
    with database.read() as session:
        for restricted in (billing_only, old_versions):
            with pytest.raises(NotFound):
                provenance_document(session, organization.id, restricted, "pypi-attestations", "0.0.19", ATTESTED_DIST)
        for project, version, filename in [("pypi-attestations", "0.0.18", ATTESTED_DIST),
                                           ("pypi-attestations", "0.0.19", "pypi_attestations-0.0.19.zip"),
                                           ("billing", "0.0.19", ATTESTED_DIST),
                                           ("pypi-attestations", "not a version", ATTESTED_DIST)]:
            with pytest.raises(NotFound):
                provenance_document(session, organization.id, operator, project, version, filename)
