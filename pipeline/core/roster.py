"""What a rostered voice and a person are, and the rules for changing them."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Stage = Literal["discovered", "listening", "participating", "engaged", "paused"]
STAGES: tuple[str, ...] = ("discovered", "listening", "participating", "engaged", "paused")
"""The loop in order; ``paused`` leaves it without losing the history."""
InteractionKind = Literal["replied", "shared", "met", "sent_product", "note"]
INTERACTION_KINDS: tuple[str, ...] = ("replied", "shared", "met", "sent_product", "note")
DigestEvery = Literal["off", "hourly", "daily", "weekly"]
DIGEST_PERIOD_S: dict[str, int] = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400}

_ACCOUNT = re.compile(r"^[a-z0-9_.-]{1,32}:[^\s]{1,200}$")
_NAME = re.compile(r"^[\w.@+'-](?:[\w .@+'-]{0,98}[\w.@+'-])?$")
"""A person's name as their access key names them (``Ana Ruiz``, ``ana@example.com``)."""


def account_key(source: str, author_id: str) -> str:
    """One account of a voice: ``source:author_id`` (e.g. ``mastodon:42``)."""
    return f"{source}:{author_id}"


def _clean_list(values: list[str], limit: int = 50) -> list[str]:
    out = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if len(out) > limit or any(len(v) > 200 for v in out):
        raise ValueError(f"at most {limit} values of at most 200 characters each")
    return out


class Voice(BaseModel):
    """A rostered voice: one person or outlet, possibly with accounts on several sources."""

    model_config = ConfigDict(extra="forbid")

    voice_id: str = Field(description="Stable id: the first account key.")
    accounts: list[str] = Field(min_length=1, description="``source:author_id`` of each account.")
    handles: list[str] = Field(default_factory=list, description="``@handle`` per account, for people.")
    display_name: str = ""
    owner: str = ""
    suggested_owner: str = ""
    stage: Stage = "discovered"
    brands: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, v: list[str]) -> list[str]:
        v = _clean_list(v, 20)
        bad = [a for a in v if not _ACCOUNT.match(a)]
        if bad:
            raise ValueError(f"accounts must look like source:author_id, got {bad[:3]}")
        return v

    @field_validator("handles", "brands", "topics", "tags")
    @classmethod
    def _lists(cls, v: list[str]) -> list[str]:
        return _clean_list(v)

    @field_validator("owner", "suggested_owner")
    @classmethod
    def _owner(cls, v: str) -> str:
        v = v.strip()
        if v and not _NAME.match(v):
            raise ValueError(f"not a person's name: {v!r}")
        return v


class Person(BaseModel):
    """Someone in the organisation who can own voices: what they know and how often they want
    their digest."""

    model_config = ConfigDict(extra="forbid")

    name: str
    email: str = ""
    brands: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    digest: DigestEvery = "daily"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"a person's name is 1-100 letters, digits, spaces or . @ + ' - _ (got {v!r})")
        return v

    @field_validator("brands", "topics")
    @classmethod
    def _lists(cls, v: list[str]) -> list[str]:
        return _clean_list(v)


def may_change(principal_name: str, is_admin: bool, voice: Voice | None) -> bool:
    """Only the voice's owner or an admin changes a voice; an unowned voice can be claimed by
    anyone who may act."""
    if is_admin or voice is None:
        return True
    return not voice.owner or voice.owner == principal_name
