"""gunicorn's access log, one line per request, with no credential in it.

gunicorn offers every request header and environ variable to its log
format, the Basic-auth user name and the raw request line with its query
string. This logger keeps what a person reading the log needs (time, remote
address, method, target, status, bytes, duration, user agent) and passes the
target through envelope.log_redaction: query values of secret names,
one-time link secrets, URL userinfo and anything shaped like an Envelope
token are masked. Authorization and Cookie headers are never offered at all.
cli/processes.py selects this class and the format for the web process.
"""
from __future__ import annotations

from gunicorn.glogging import Logger

from envelope.log_redaction import redact_query, redact_target, redact_text

_NEVER = ("authorization", "cookie")


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time) -> dict:
        """gunicorn's atoms, minus credential headers, with every value redacted."""
        atoms = {key: value for key, value in super().atoms(resp, req, environ, request_time).items()
                 if not any(word in key.lower() for word in _NEVER)}
        atoms["r"] = " ".join((environ.get("REQUEST_METHOD", "-"), redact_target(environ.get("RAW_URI", "")),
                               environ.get("SERVER_PROTOCOL", "-")))
        atoms["U"] = redact_target(environ.get("PATH_INFO", ""))
        atoms["q"] = redact_query(environ.get("QUERY_STRING", ""))
        atoms["u"] = "-"  # the Basic-auth user name: a person's login, not the log's business
        atoms["f"] = redact_target(environ.get("HTTP_REFERER", "-"))
        return {key: redact_text(value) if isinstance(value, str) else value for key, value in atoms.items()}
