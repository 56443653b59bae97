"""HMAC request signatures over timestamp + body, one scheme for inbound posts and outbound alerts.

Headers: ``X-Hypermicro-Timestamp: <unix seconds>`` and ``X-Hypermicro-Signature:
sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>``. A receiver refuses a timestamp
further than the tolerance (default 300 s) from its clock, and a signature it has already
accepted within that window (replay). A sender that retries signs again with a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict

SIGNATURE_HEADER = "X-Hypermicro-Signature"
TIMESTAMP_HEADER = "X-Hypermicro-Timestamp"
DEFAULT_TOLERANCE_S = 300.0
"""Clock skew plus transit a sender may have; also how long a receiver remembers signatures."""


class SignatureError(Exception):
    """A request's signature is missing (401), wrong or stale (403) or replayed (409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, body: bytes, timestamp: int | str) -> str:
    """The signature header value of ``body`` sent at ``timestamp``: ``sha256=<hex>``."""
    payload = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(_key(secret), payload, hashlib.sha256).hexdigest()


def signature_headers(secret: str | bytes, body: bytes, now: float | None = None) -> dict[str, str]:
    """Timestamp and signature headers for sending ``body`` now."""
    ts = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, body, ts)}


def check_headers(signature: str | None, timestamp: str | None, *, now: float | None = None,
                  tolerance_s: float = DEFAULT_TOLERANCE_S) -> int:
    """Presence and freshness, checked before the body is read; returns the timestamp."""
    if not signature or not timestamp:
        raise SignatureError(401, f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    if not timestamp.strip().isdigit() or len(timestamp.strip()) > 12:
        raise SignatureError(403, f"{TIMESTAMP_HEADER} must be unix seconds")
    ts = int(timestamp)
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance_s:
        raise SignatureError(403, f"{TIMESTAMP_HEADER} is more than {tolerance_s:.0f} s from the receiver's clock")
    return ts


def verify(secret: str | bytes, body: bytes, signature: str | None, timestamp: str | None, *,
           now: float | None = None, tolerance_s: float = DEFAULT_TOLERANCE_S) -> int:
    """Check headers and HMAC (constant time); returns the timestamp or raises :class:`SignatureError`."""
    ts = check_headers(signature, timestamp, now=now, tolerance_s=tolerance_s)
    if not hmac.compare_digest(sign(secret, body, str(timestamp).strip()), (signature or "").strip()):
        raise SignatureError(403, "signature does not match the timestamp and body")
    return ts


class ReplayGuard:
    """Signatures accepted in the last ``tolerance_s`` (at most ``capacity``); a second use is refused.

    Older signatures need no memory: their timestamp is already outside the tolerance.
    """

    def __init__(self, tolerance_s: float = DEFAULT_TOLERANCE_S, capacity: int = 100_000) -> None:
        self.tolerance_s = tolerance_s
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, signature: str, timestamp: int, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now - 2 * self.tolerance_s
                                  or len(self._seen) >= self.capacity):
                self._seen.popitem(last=False)
            if signature in self._seen:
                raise SignatureError(409, "this signed request was already received (replay); sign again to resend")
            self._seen[signature] = float(timestamp)
