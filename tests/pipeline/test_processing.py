"""Decoding raw messages, dead letters and the DLQ safety cap (pure logic)."""

from __future__ import annotations

import base64
import json

import pytest

from pipeline.core.decode import DlqLimit, DlqLimitExceeded, PoisonMessage, dead_letter, decode_post

GOOD = {"id": "42", "source": "mastodon", "created_at": "2026-01-05T10:00:00Z", "text": "hello @Nimbus",
        "author": {"id": 7, "handle": "ann", "followers": 12}, "mentions": ["@Nimbus"], "reply_to_author": ""}


def test_interchange_form_decodes_to_namespaced_post() -> None:
    post = decode_post(json.dumps(GOOD).encode())
    assert post.id == "mastodon:42" and post.native_id == "42"
    assert post.author.id == "7" and post.mentions == ["nimbus"] and post.reply_to_author is None
    assert post.created_at.tzinfo is not None


@pytest.mark.parametrize(("raw", "kind"), [
    (b"", "empty"),
    (b"{oops", "invalid_json"),
    (b"\xff\xfe", "invalid_utf8"),
    (b"[1, 2]", "wrong_type"),
    (b"{}", "missing_fields"),
    (json.dumps({**GOOD, "created_at": "not a date"}).encode(), "invalid_fields"),
    (json.dumps({**GOOD, "text": "x" * 2_000_000}).encode(), "too_large"),
    (json.dumps({**GOOD, "schema_version": 99}).encode(), "schema_version"),
])
def test_poison_is_classified(raw: bytes, kind: str) -> None:
    with pytest.raises(PoisonMessage) as err:
        decode_post(raw)
    assert err.value.error_type == kind and str(err.value)


def test_dead_letter_keeps_original_bytes_and_position() -> None:
    raw = b"\xff not utf8"
    with pytest.raises(PoisonMessage) as err:
        decode_post(raw)
    letter = dead_letter(raw, b"k", "social.posts.raw", 3, 1234, err.value)
    assert base64.b64decode(letter.original_b64) == raw
    assert (letter.partition, letter.offset, letter.error_type) == (3, 1234, "invalid_utf8")


def test_dlq_limit_trips_on_consecutive_and_ratio() -> None:
    limit = DlqLimit(max_invalid_ratio=0.5, max_consecutive=5, window=10)
    for _ in range(4):
        limit.record(False)
    limit.record(True)  # a good one resets the streak
    with pytest.raises(DlqLimitExceeded):
        for _ in range(5):
            limit.record(False)
    ratio = DlqLimit(max_invalid_ratio=0.5, max_consecutive=100, window=10)
    with pytest.raises(DlqLimitExceeded, match="invalid"):
        for i in range(20):
            ratio.record(i % 3 == 0)
