"""Alert routing and delivery: incidents (dedupe/escalation/ack), routing to owners, channels
(webhook, Slack, e-mail), a durable outbox and the dispatcher tying them together.

Names are imported lazily so ``pipeline.alerts.cli`` stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AlertChannel": "channels",
    "AlertDeliveryError": "channels",
    "RetryPolicy": "channels",
    "WebhookChannel": "channels",
    "SlackChannel": "channels",
    "EmailChannel": "channels",
    "SmtpConfig": "channels",
    "sign_body": "channels",
    "verify_signature": "channels",
    "Router": "routing",
    "OwnerDirectory": "owners",
    "RouteResult": "routing",
    "IncidentBook": "incidents",
    "Incident": "incidents",
    "Decision": "incidents",
    "Outbox": "outbox",
    "OutboxEntry": "outbox",
    "AlertDispatcher": "dispatcher",
    "AlertSink": "dispatcher",
    "RetryReport": "delivery",
    "Deliveries": "delivery",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
