"""What Envelope's webhook receivers (GitHub's, envelope.github; Stripe's,
envelope.billing) answer the sender: a status, and one sentence its delivery
log shows."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebhookResult:
    status: int
    message: str
