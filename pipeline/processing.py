"""Pure message processing: bytes -> RawPost or a dead letter, and the DLQ safety cap."""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from pipeline.schema import SCHEMA_VERSION, DeadLetter, RawPost

MAX_MESSAGE_BYTES = 1_000_000
"""Raw messages larger than this are poison (a 5 MB 'post' is not a post)."""


class PoisonMessage(ValueError):
    """The message can never be processed; it goes to the DLQ with this reason."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.error_type = error_type


def decode_post(raw: bytes | None) -> RawPost:
    """Parse and validate one ``social.posts.raw`` message, or raise :class:`PoisonMessage`."""
    if raw is None or not raw.strip():
        raise PoisonMessage("empty message", "empty")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise PoisonMessage(f"message is {len(raw)} bytes, limit {MAX_MESSAGE_BYTES}", "too_large")
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
        return RawPost.model_validate(data)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        kind = "missing_fields" if any(e["type"] == "missing" for e in exc.errors()) else "invalid_fields"
        raise PoisonMessage(f"invalid RawPost: {errs}", kind) from None


def dead_letter(
    raw: bytes | None, key: bytes | None, topic: str, partition: int, offset: int,
    exc: PoisonMessage, stage: str = "enrich",
) -> DeadLetter:
    """The DLQ record: original bytes, the error and where the message came from."""
    return DeadLetter(
        topic=topic, partition=partition, offset=offset, error=str(exc), error_type=exc.error_type,
        original_b64=base64.b64encode(raw or b"").decode(),
        key_b64=base64.b64encode(key).decode() if key is not None else None, stage=stage,
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
