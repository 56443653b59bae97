"""Enriched posts travel several to a Kafka message; the sink must read back exactly what was packed."""

from __future__ import annotations

import pytest

from pipeline.core.envelope import pack, unpack


def _docs(n: int, size: int) -> list[bytes]:
    return [b'{"id":"%d","text":"%s"}' % (i, b"x" * size) for i in range(n)]


def test_round_trip_keeps_every_document_in_order() -> None:
    docs = _docs(300, 50)
    messages = pack(docs)
    assert len(messages) == 1
    assert [d for m in messages for d in unpack(m)] == docs


def test_messages_stay_under_the_byte_limit() -> None:
    docs = _docs(100, 1000)
    messages = pack(docs, max_bytes=10_000)
    assert all(len(m) <= 10_000 for m in messages)
    assert len(messages) > 1
    assert [d for m in messages for d in unpack(m)] == docs


def test_an_oversized_document_gets_a_message_of_its_own() -> None:
    small, big = _docs(1, 10)[0], b'{"text":"%s"}' % (b"y" * 5000)
    messages = pack([small, big, small], max_bytes=1000)
    assert messages == [small, big, small]


def test_a_one_post_message_reads_as_one_document() -> None:
    """The older wire form (one post per message) still reads, so an upgrade drains old messages."""
    doc = _docs(1, 10)[0]
    assert unpack(doc) == [doc]


def test_a_document_with_a_raw_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        pack([b'{"a":\n1}'])
