"""The prefix every Envelope token starts with, so secret scanners can find
leaked ones. Its own module because the access log (envelope.log_redaction,
used by web.access_log) needs it without the database layer that
envelope.orgs.tokens brings."""

PREFIX = "envl_"
