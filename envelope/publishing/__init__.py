"""Trusted publishing: GitHub Actions workflows exchange their OIDC identity
for short-lived access tokens (publishers.py: who is trusted; issuer.py: the
issuer's keys; verification.py: what a token must prove; exchange.py: mint
and burn)."""
