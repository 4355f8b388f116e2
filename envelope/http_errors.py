"""Why an outgoing HTTP request failed, in words a person can act on.

requests' own messages (`HTTPSConnectionPool(host='api.github.com',
port=443): Max retries exceeded … NameResolutionError(…)`) reached the
repository page and the CLI as they were; every face shows this instead."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


def describe(exc: requests.RequestException) -> str:
    """A lowercase clause: "the host name does not resolve"."""
    import requests  # loaded already by whoever raised `exc`

    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return "its TLS certificate is not trusted here (give the CA bundle in REQUESTS_CA_BUNDLE or SSL_CERT_FILE)"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy in HTTPS_PROXY/HTTP_PROXY refused the connection (add the host to NO_PROXY or fix the proxy)"
    if isinstance(exc, requests.exceptions.Timeout):
        return "it did not answer in time"
    if any(s in text for s in ("NameResolutionError", "Name or service not known", "nodename nor servname",
                               "Temporary failure in name resolution")):
        return "the host name does not resolve (no network here, or a wrong address)"
    if "Connection refused" in text:
        return "nothing listens at that address and port"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "Connection broken" in text:
        return "the connection broke off"
    if "Connection reset" in text or "RemoteDisconnected" in text:
        return "the server closed the connection"
    return "the connection failed"
