"""Pure message processing: bytes -> RawPost or a dead letter, and the DLQ safety cap."""

from __future__ import annotations

import base64
import hashlib
from collections import deque
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from pipeline.core.bounds import DEFAULT_BOUNDS, Bounds, OutOfBounds, check_post
from pipeline.core.schema import SCHEMA_VERSION, DeadLetter, RawPost

MAX_DLQ_ORIGINAL_BYTES = 256 * 1024
"""Originals larger than this are kept as a prefix plus size and hash: with base64 (4/3) and
the error text a dead letter stays well under Kafka's default 1 MB message limit."""
MAX_DLQ_KEY_BYTES = 1024
MAX_ERROR_CHARS = 2000


class PoisonMessage(ValueError):
    """The message can never be processed; it goes to the DLQ with this reason."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.error_type = error_type


def decode_post(raw: bytes | None, bounds: Bounds = DEFAULT_BOUNDS) -> RawPost:
    """Parse and validate one ``social.posts.raw`` message within ``bounds``, or raise
    :class:`PoisonMessage` (``error_type`` ``out_of_bounds`` for a valid post outside them)."""
    if raw is None or not raw.strip():
        raise PoisonMessage("empty message", "empty")
    if len(raw) > bounds.max_message_bytes:
        raise PoisonMessage(f"message is {len(raw)} bytes, limit {bounds.max_message_bytes}", "too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PoisonMessage(f"invalid UTF-8 at byte {exc.start}", "invalid_utf8") from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"invalid JSON: {exc}", "invalid_json") from None
    if not isinstance(data, dict):
        raise PoisonMessage(f"expected a JSON object, got {type(data).__name__}", "wrong_type")
    if not data:
        raise PoisonMessage("empty JSON object", "missing_fields")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise PoisonMessage(f"unsupported schema_version {version!r}", "schema_version")
    try:
        post = RawPost.model_validate(data)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        kind = "missing_fields" if any(e["type"] == "missing" for e in exc.errors()) else "invalid_fields"
        raise PoisonMessage(f"invalid RawPost: {errs}", kind) from None
    try:
        return check_post(post, bounds)
    except OutOfBounds as exc:
        raise PoisonMessage(f"out of bounds: {exc}", "out_of_bounds") from None


def dead_letter(
    raw: bytes | None, key: bytes | None, topic: str, partition: int, offset: int,
    exc: Exception, stage: str = "enrich",
) -> DeadLetter:
    """The DLQ record: original bytes, the error and where the message came from.

    An original over :data:`MAX_DLQ_ORIGINAL_BYTES` is kept as its prefix with
    ``truncated=True``, its full size and SHA-256, so the dead letter itself always fits
    the topic (an oversize post must never make the DLQ path fail).
    """
    raw = raw or b""
    kept = raw[:MAX_DLQ_ORIGINAL_BYTES]
    truncated = len(kept) < len(raw)
    error = str(exc)
    if len(error) > MAX_ERROR_CHARS:
        error = error[:MAX_ERROR_CHARS] + f"... ({len(error)} characters)"
    if truncated:
        error += f" [original truncated to {len(kept)} of {len(raw)} bytes]"
    return DeadLetter(
        topic=topic[:MAX_ERROR_CHARS], partition=partition, offset=offset, error=error,
        error_type=getattr(exc, "error_type", type(exc).__name__),
        original_b64=base64.b64encode(kept).decode(),
        key_b64=base64.b64encode(key[:MAX_DLQ_KEY_BYTES]).decode() if key is not None else None, stage=stage,
        truncated=truncated, original_size=len(raw), original_sha256=hashlib.sha256(raw).hexdigest(),
    )


class DlqLimitExceeded(RuntimeError):
    """Too much of the input is invalid: stop instead of emptying the topic into the DLQ."""


@dataclass
class DlqLimit:
    """Arroyo-style safety cap: at most ``max_invalid_ratio`` invalid in the last ``window``
    messages (checked once the window is full) and at most ``max_consecutive`` in a row."""

    max_invalid_ratio: float = 0.5
    max_consecutive: int = 1000
    window: int = 1000
    _recent: deque[bool] = field(default_factory=deque, repr=False)
    _consecutive: int = 0

    def record(self, valid: bool) -> None:
        self._recent.append(not valid)
        if len(self._recent) > self.window:
            self._recent.popleft()
        self._consecutive = 0 if valid else self._consecutive + 1
        if self._consecutive >= self.max_consecutive:
            raise DlqLimitExceeded(f"{self._consecutive} invalid messages in a row")
        if len(self._recent) >= self.window:
            ratio = sum(self._recent) / len(self._recent)
            if ratio > self.max_invalid_ratio:
                raise DlqLimitExceeded(
                    f"{ratio:.0%} of the last {len(self._recent)} messages were invalid "
                    f"(limit {self.max_invalid_ratio:.0%})"
                )


def dumps(model: DeadLetter | RawPost) -> bytes:
    return orjson.dumps(model.model_dump(mode="json"))
