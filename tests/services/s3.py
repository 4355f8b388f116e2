"""moto's S3 server over HTTP."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from tests.services.process import LIVE, LOOPBACK, free_port, open_log, rmtree, shutdown, wait_for_http

# Dummy credentials for moto: boto3 refuses to sign requests without some.
S3_DUMMY_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class MotoS3Server:
    """moto's standalone server, a real HTTP S3 endpoint on a loopback port.

    Run as a subprocess (not moto's in-process mocks) so the Envelope server
    subprocesses reach it over HTTP exactly as they would reach S3 or MinIO.
    """

    def __init__(self) -> None:
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Variables that point boto3 (in any subprocess) at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, **S3_DUMMY_ENV}

    def start(self) -> MotoS3Server:
        self.tmpdir = Path(tempfile.mkdtemp(prefix="envelope-moto-"))
        self.log_path = self.tmpdir / "moto.log"
        self.port = free_port()
        self._log = open_log(self.log_path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(S3_DUMMY_ENV)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
            cwd=self.tmpdir, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        LIVE.add(self)
        try:
            wait_for_http(
                f"{self.endpoint_url}/moto-api/", 30, process=self.process, log_path=self.log_path, what="moto S3 server"
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        shutdown(self, signal.SIGTERM, grace=5)
        rmtree(self.tmpdir)
        self.tmpdir = None

    def __enter__(self) -> MotoS3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self) -> Any:
        """A boto3 S3 client for this server (call ``.close()`` when done)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=S3_DUMMY_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_DUMMY_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=S3_DUMMY_ENV["AWS_DEFAULT_REGION"],
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a unique name when none is given) and return its name."""
        name = name or f"envelope-test-{secrets.token_hex(4)}"
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        finally:
            client.close()
        return name

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """All object keys under a prefix: lets tests check what storage really holds."""
        client = self.client()
        try:
            keys: list[str] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [obj["Key"] for obj in page.get("Contents", [])]
            return keys
        finally:
            client.close()


# --------------------------------------------------------------------------- Envelope
