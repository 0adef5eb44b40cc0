"""Application metrics beyond the per-route HTTP ones (app/middleware.py)."""

from prometheus_client import Counter

AUTHORIZATION_DECISIONS = Counter(
    "authorization_decisions_total", "Authorization decisions by OCPP status", ["status"]
)
AUTHORIZATION_REFUSALS = Counter(
    "authorization_refusals_total", "Refused authorizations by reason", ["reason"]
)
