"""Envelope behind TLS: a throwaway certificate authority, a server
certificate for the loopback signed by it, and nginx terminating TLS in
front of an EnvelopeServer. Clients trust the CA through SSL_CERT_FILE
(uv) and REQUESTS_CA_BUNDLE (twine, requests), as a team's would."""
from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.services.envelope_server import EnvelopeServer
from tests.services.process import LIVE, LOOPBACK, ServiceError, free_port, open_log, rmtree, shutdown, wait_for_port


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_throwaway_ca(folder: Path, host: str = LOOPBACK) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) in `folder`: a CA
    made now and forgotten after the test, and a certificate for `host`."""
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("Envelope tests CA")).issuer_name(_name("Envelope tests CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem(key))
    return paths


_CONFIG = """\
daemon off;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 0;
    server {{
        listen {host}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://{upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host $http_host;
        }}
    }}
}}
"""


class TlsFront:
    """nginx on https://127.0.0.1:PORT in front of `envelope` (which should
    run with ENVELOPE_TRUSTED_PROXIES=1). `ca_file` is what clients trust."""

    def __init__(self, envelope: EnvelopeServer) -> None:
        self.envelope = envelope
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="envelope-tls-"))
        self.ca_file, self.cert_file, self.key_file = write_throwaway_ca(self.prefix)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def trust_env(self) -> dict[str, str]:
        """What makes uv, pip, twine and requests trust this front (and only its CA)."""
        ca = str(self.ca_file)
        return {"SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca, "PIP_CERT": ca}

    def start(self) -> "TlsFront":
        if shutil.which("nginx") is None:
            raise ServiceError("nginx is not installed: `make system-deps` installs nginx-light.")
        config = self.prefix / "nginx.conf"
        config.write_text(_CONFIG.format(
            user="user root;" if os.geteuid() == 0 else "", prefix=self.prefix, host=LOOPBACK, port=self.port,
            cert=self.cert_file, key=self.key_file, upstream=f"{self.envelope.host}:{self.envelope.port}",
        ))
        self._log = open_log(self.prefix / "run.log")
        self.process = subprocess.Popen(
            ["nginx", "-p", str(self.prefix), "-c", str(config)], stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        LIVE.add(self)
        try:
            wait_for_port(self.port, 30, process=self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        shutdown(self, signal.SIGQUIT, grace=5)
        rmtree(self.prefix)

    def __enter__(self) -> "TlsFront":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
