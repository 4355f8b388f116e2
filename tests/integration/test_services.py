"""The test infrastructure itself works: throwaway servers start and serve, builders make what they claim."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from email.parser import BytesParser
from pathlib import Path

import pytest

from tests import builders
from tests.services import (
    MotoS3Server,
    PostgresServer,
    RedisServer,
    ServiceError,
    free_port,
    run_checked,
    wait_for_http,
)

# --------------------------------------------------------------------------- services


def test_postgres_created_databases_are_usable_and_separate(postgres: PostgresServer) -> None:
    import sqlalchemy as sa

    first, second = postgres.create_database(), postgres.create_database()
    assert first.startswith("postgresql+psycopg://") and first != second
    engines = [sa.create_engine(url) for url in (first, second)]
    try:
        with engines[0].begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL)"))
            conn.execute(sa.text("INSERT INTO t (name) VALUES ('envelope')"))
        with engines[0].connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM t")).scalar_one() == "envelope"
            assert conn.execute(sa.text("SHOW server_encoding")).scalar_one() == "UTF8"
        with engines[1].connect() as conn:
            assert conn.execute(sa.text("SELECT to_regclass('public.t')")).scalar_one() is None
    finally:
        for engine in engines:
            engine.dispose()


def test_moto_s3_put_get_round_trip(moto_s3: MotoS3Server) -> None:
    bucket = moto_s3.create_bucket()
    client = moto_s3.client()
    try:
        client.put_object(Bucket=bucket, Key="prefix/a.whl", Body=b"\x00wheel bytes")
        body = client.get_object(Bucket=bucket, Key="prefix/a.whl")["Body"]
        try:
            assert body.read() == b"\x00wheel bytes"
        finally:
            body.close()
    finally:
        client.close()
    assert moto_s3.list_keys(bucket, "prefix/") == ["prefix/a.whl"]
    assert moto_s3.env["AWS_ENDPOINT_URL"] == moto_s3.endpoint_url


def test_redis_ping(redis_server: RedisServer) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_redis_stop_and_start_simulates_an_outage(redis_server: RedisServer) -> None:
    import redis

    # An external TEST_REDIS_URL server cannot be stopped: check the mechanism on a private one.
    server = redis_server if redis_server.restartable else RedisServer(use_env=False).start()
    port = server.port
    client = redis.Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.set("k", "v")
        server.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        server.start()
        assert server.port == port
        assert client.ping() is True
        assert client.get("k") is None  # no persistence: a restart is a clean slate
    finally:
        client.close()
        if server is not redis_server:
            server.close()
        elif not server.running:
            server.start()


def test_wait_for_http_fails_loudly_when_nothing_listens() -> None:
    port = free_port()
    with pytest.raises(ServiceError, match=rf"127\.0\.0\.1:{port}/healthz did not answer 200"):
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=0.3)


# --------------------------------------------------------------------------- builders


def _pip_install_target(wheel: Path, target: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pip", "install", "--no-index", "--no-cache-dir", "--no-deps",
            "--target", str(target), str(wheel)]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def _check_record(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        (record_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
        rows = list(csv.reader(io.StringIO(zf.read(record_name).decode())))
        assert {row[0] for row in rows} == set(zf.namelist())
        for path, digest, size in rows:
            if path == record_name:
                assert digest == size == ""
                continue
            data = zf.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data), path


def test_make_wheel_is_installable_and_importable(tmp_path: Path, client_env: dict[str, str]) -> None:
    wheel = builders.make_wheel(
        tmp_path / "dist", "Envelope.Demo-Pkg", "1.2.0", requires_python=">=3.8",
        requires_dist=["packaging>=20"], files={"envelope_demo_pkg/extra.py": b"VALUE = 42\n"},
    )  # fmt: skip
    assert wheel.name == "envelope_demo_pkg-1.2.0-py3-none-any.whl"
    _check_record(wheel)
    meta = BytesParser().parsebytes(builders.wheel_metadata(wheel))
    assert (meta["Name"], meta["Version"], meta["Requires-Python"]) == ("Envelope.Demo-Pkg", "1.2.0", ">=3.8")

    target = tmp_path / "target"
    result = _pip_install_target(wheel, target, client_env)
    assert result.returncode == 0, result.stdout + result.stderr
    run = run_checked(
        [sys.executable, "-c", "import envelope_demo_pkg as p, envelope_demo_pkg.extra as e; print(p.__version__, e.VALUE)"],
        env={**client_env, "PYTHONPATH": str(target)},
    )
    assert run.stdout.split() == ["1.2.0", "42"]


def test_make_wheel_is_reproducible_and_content_changes_bytes(tmp_path: Path) -> None:
    a = builders.make_wheel(tmp_path / "a", "repro", "1.0").read_bytes()
    b = builders.make_wheel(tmp_path / "b", "repro", "1.0").read_bytes()
    c = builders.make_wheel(tmp_path / "c", "repro", "1.0", files={"repro/x.py": b"x = 1\n"}).read_bytes()
    assert a == b != c


def test_make_wheel_platform_tags(tmp_path: Path, client_env: dict[str, str]) -> None:
    tags = "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"
    wheel = builders.make_wheel(tmp_path, "native", "0.1", tags=tags)
    assert wheel.name == f"native-0.1-{tags}.whl"
    with zipfile.ZipFile(wheel) as zf:
        wheel_text = zf.read("native-0.1.dist-info/WHEEL").decode()
    assert "Tag: cp312-cp312-manylinux_2_17_x86_64\n" in wheel_text
    assert "Tag: cp312-cp312-manylinux2014_x86_64\n" in wheel_text
    assert "Root-Is-Purelib: false" in wheel_text
    if sys.version_info[:2] != (3, 12):
        result = _pip_install_target(wheel, tmp_path / "target", client_env)
        assert result.returncode != 0 and "not a supported wheel" in result.stderr


def test_make_sdist_has_matching_pkg_info(tmp_path: Path) -> None:
    sdist = builders.make_sdist(tmp_path, "Envelope.Demo-Sdist", "2.0.1", requires_python=">=3.9")
    assert sdist.name == "envelope_demo_sdist-2.0.1.tar.gz"
    with tarfile.open(sdist) as tar:
        pkg_info = tar.extractfile("envelope_demo_sdist-2.0.1/PKG-INFO")
        assert pkg_info is not None
        meta = BytesParser().parsebytes(pkg_info.read())
    assert (meta["Name"], meta["Version"], meta["Requires-Python"]) == ("Envelope.Demo-Sdist", "2.0.1", ">=3.9")


def test_make_sdist_raw_is_buildable_offline(tmp_path: Path, client_env: dict[str, str]) -> None:
    sdist = builders.make_sdist_raw(tmp_path / "dist", "raw-sdist", "0.3")
    assert sdist.read_bytes() == builders.make_sdist_raw(tmp_path / "again", "raw-sdist", "0.3").read_bytes()
    target = tmp_path / "target"
    run_checked(
        [sys.executable, "-m", "pip", "install", "--no-index", "--no-cache-dir", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(sdist)],
        env=client_env,
    )  # fmt: skip
    assert (target / "raw_sdist.py").read_text() == '__version__ = "0.3"\n'


def _zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def _tar_members(path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return tar.getmembers()


def _tar_read(path: Path, member: str) -> bytes:
    with tarfile.open(path) as tar:
        fh = tar.extractfile(member)
        assert fh is not None
        return fh.read()


HOSTILE: dict[str, tuple[Callable[[Path], Path], Callable[[Path], bool]]] = {
    "zip-slip": (builders.make_zip_slip_wheel, lambda p: "../../evil.py" in _zip_names(p)),
    "absolute-path": (builders.make_absolute_path_wheel, lambda p: "/etc/evil" in _zip_names(p)),
    "no-metadata": (
        builders.make_wheel_without_metadata,
        lambda p: not any(n.endswith("/METADATA") for n in _zip_names(p)) and any(n.endswith("/WHEEL") for n in _zip_names(p)),
    ),
    "mismatched-name": (
        builders.make_wheel_with_mismatched_name,
        lambda p: p.name.startswith("claimed_name-1.0-")
        and b"Name: actual-name\n" in builders.wheel_metadata(p),
    ),
    "not-a-zip": (builders.make_not_a_zip, lambda p: p.suffix == ".whl" and not zipfile.is_zipfile(p)),
    "tar-slip": (builders.make_tar_slip_sdist, lambda p: "../evil" in [m.name for m in _tar_members(p)]),
    "tar-symlink": (
        builders.make_tar_symlink_sdist,
        lambda p: any(m.issym() and m.linkname == "/etc/passwd" for m in _tar_members(p)),
    ),
    "bad-metadata-version": (
        builders.make_sdist_bad_metadata_version,
        lambda p: b"Metadata-Version: 9.9\n" in _tar_read(p, "badmetaver-1.0/PKG-INFO"),
    ),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_builders(kind: str, tmp_path: Path) -> None:
    build, check = HOSTILE[kind]
    path = build(tmp_path)
    assert path.is_file() and path.parent == tmp_path
    assert path.name.endswith((".whl", ".tar.gz"))
    assert check(path)


def test_zip_bomb_is_small_on_disk_and_huge_inflated(tmp_path: Path) -> None:
    path = builders.make_zip_bomb_wheel(tmp_path)
    assert path.name == "zipbomb-1.0-py3-none-any.whl"
    assert path.stat().st_size < 4 << 20
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("zipbomb/data.bin")
        assert info.file_size == 2 * builders.GiB
        assert info.compress_type == zipfile.ZIP_DEFLATED
        with zf.open(info) as member:  # the stream really inflates to zeros
            assert member.read(1 << 20) == bytes(1 << 20)
        assert b"Name: zipbomb\n" in zf.read("zipbomb-1.0.dist-info/METADATA")


def test_real_dists_are_cached_wheels_and_an_sdist(real_dists: list[Path]) -> None:
    names = {p.name for p in real_dists}
    assert "six-1.16.0-py2.py3-none-any.whl" in names and "six-1.16.0.tar.gz" in names
    for path in real_dists:
        assert path.is_file() and path.stat().st_size > 1000
        if path.suffix == ".whl":
            assert zipfile.is_zipfile(path)
        else:
            assert tarfile.is_tarfile(path)
