"""Message contracts shared by connectors, the pipeline and the API.

Every message carries ``schema_version``; consumers accept any version they
know and send the rest to the dead-letter topic. Payloads are JSON (UTF-8).
Example payloads live in ``tests/fixtures/``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.core.clock import utc_now

SCHEMA_VERSION = 1
MAX_TEXT_CHARS = 100_000
"""Posts longer than this are rejected (dead-lettered), not truncated silently."""

SentimentLabel = Literal["negative", "neutral", "positive", "unsupported", "unscored"]
AlertKind = Literal["negative_spike", "rising_voice", "voice_negative", "owner_digest"]
SubjectKind = Literal["brand", "topic", "brand_topic", "author", "conversation", "person"]
Severity = Literal["info", "warning", "critical"]


def _as_utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: a validation error, not a crash
        raise ValueError(f"{value.isoformat()} is out of the representable range in UTC") from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=False)


class Author(_Model):
    """Who wrote a post. ``id`` is unique within the source."""

    id: str
    handle: str = ""
    display_name: str = ""
    followers: int = Field(default=0, ge=0)
    following: int = Field(default=0, ge=0)

    @field_validator("id", mode="before")
    @classmethod
    def _str_id(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class Engagement(_Model):
    """Interaction counts observed when the post was collected."""

    likes: int = Field(default=0, ge=0)
    reposts: int = Field(default=0, ge=0)
    replies: int = Field(default=0, ge=0)
    quotes: int = Field(default=0, ge=0)


def _opt_str(v: Any) -> Any:
    if v is None or v == "":
        return None
    return str(v) if isinstance(v, int) else v


class RawPost(_Model):
    """A post as a connector saw it, normalised. ``id`` is ``<source>:<native id>``."""

    schema_version: int = SCHEMA_VERSION
    id: str = Field(min_length=3)
    source: str = Field(min_length=1)
    url: str | None = None
    created_at: datetime
    collected_at: datetime = Field(default_factory=utc_now)
    text: str = Field(max_length=MAX_TEXT_CHARS)
    lang: str | None = None
    author: Author
    reply_to_author: str | None = None
    reply_to_post: str | None = None
    repost_of_author: str | None = None
    repost_of_post: str | None = None
    quote_of_author: str | None = None
    mentions: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    engagement: Engagement = Field(default_factory=Engagement)

    _norm_opt = field_validator(
        "reply_to_author", "reply_to_post", "repost_of_author", "repost_of_post",
        "quote_of_author", "url", "lang", mode="before",
    )(_opt_str)

    @field_validator("created_at", "collected_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return _as_utc(v)

    @field_validator("mentions", "hashtags", mode="before")
    @classmethod
    def _strip_sigils(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [str(x).lstrip("@#").lower() for x in v if x is not None and str(x).strip()]
        return v

    @model_validator(mode="before")
    @classmethod
    def _namespace_id(cls, data: Any) -> Any:
        """Accept the interchange form whose ``id`` may lack the ``<source>:`` prefix."""
        if isinstance(data, dict):
            src, pid = data.get("source"), data.get("id")
            if isinstance(pid, int):
                pid = str(pid)
                data = {**data, "id": pid}
            if isinstance(src, str) and isinstance(pid, str) and src and not pid.startswith(src + ":"):
                data = {**data, "id": f"{src}:{pid}"}
        return data

    @property
    def native_id(self) -> str:
        return self.id.split(":", 1)[1]


class BrandMention(_Model):
    """One brand found in a post, with the rule that matched and the sentiment toward it."""

    brand_id: str
    matched_text: str
    start: int = Field(ge=0, description="character offset of the match in the text")
    end: int = Field(ge=0)
    rule: str = Field(description="name, alias, misspelling, handle, hashtag or query")
    sentiment: SentimentLabel | None = None
    sentiment_score: float | None = None


class Sentiment(_Model):
    """Post-level sentiment: ``score`` in [-1, 1] (negative..positive), ``confidence`` in [0, 1]."""

    label: SentimentLabel
    score: float = 0.0
    confidence: float = 0.0
    model: str = ""


class TopicTag(_Model):
    topic_id: str
    score: float


class EnrichedPost(_Model):
    """A RawPost plus everything the taggers found. Written to ClickHouse by the sink."""

    schema_version: int = SCHEMA_VERSION
    post: RawPost
    brands: list[BrandMention] = Field(default_factory=list)
    sentiment: Sentiment
    topics: list[TopicTag] = Field(default_factory=list)
    language: str = "und"
    duplicate_of: str | None = None
    conversation_id: str | None = None
    enriched_at: datetime = Field(default_factory=utc_now)
    # Kafka lineage of the raw message, so storage can absorb redelivery.
    kafka_partition: int = -1
    kafka_offset: int = -1


class AlertWindow(_Model):
    start: datetime
    end: datetime

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return _as_utc(v)


class Subject(_Model):
    """What an alert is about: ``kind`` + ``id`` (e.g. brand ``acme``, author ``mastodon:42``)."""

    kind: SubjectKind
    id: str
    brand_id: str | None = None
    topic_id: str | None = None


class SamplePost(_Model):
    """One post shown as evidence: who said what (``author`` is an ``@handle``)."""

    id: str
    author: str = ""
    text: str = ""
    url: str = ""


class Evidence(_Model):
    post_ids: list[str] = Field(default_factory=list)
    samples: list[SamplePost] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    key_terms: list[str] = Field(default_factory=list)
    conversations: list[str] = Field(default_factory=list)
    negative_share: float | None = None
    links: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class Alert(_Model):
    """Something a comms team should look at now."""

    schema_version: int = SCHEMA_VERSION
    id: str
    kind: AlertKind
    subject: Subject
    severity: Severity
    score: float = 0.0
    window: AlertWindow
    observed: float
    expected: float
    explanation: str = ""
    evidence: Evidence = Field(default_factory=Evidence)
    created_at: datetime = Field(default_factory=utc_now)
    incident_id: str | None = None
    owners: list[str] = Field(default_factory=list)

    @staticmethod
    def make_id(kind: str, subject_id: str, window_start: datetime) -> str:
        """Deterministic id: the same detection re-run yields the same alert id (idempotency key)."""
        raw = f"{kind}|{subject_id}|{_as_utc(window_start).isoformat()}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


class DeadLetter(_Model):
    """A message the pipeline could not process, with what is needed to replay it."""

    schema_version: int = SCHEMA_VERSION
    topic: str
    partition: int
    offset: int
    error: str
    error_type: str
    original_b64: str = Field(description="original message bytes, base64 (a prefix when ``truncated``)")
    key_b64: str | None = None
    truncated: bool = False
    """True when the original was too large to keep whole: ``original_b64`` holds its prefix."""
    original_size: int | None = None
    """Size in bytes of the whole original message."""
    original_sha256: str | None = None
    """SHA-256 (hex) of the whole original message, to match it against the source."""
    failed_at: datetime = Field(default_factory=utc_now)
    stage: str = "enrich"


JsonDict = Annotated[dict[str, Any], "json object"]
