"""The wire form of ``social.posts.enriched``: several enriched posts per Kafka message.

A message is the JSON Lines of one or more ``EnrichedPost`` documents (JSON never holds a raw
newline, so a line is a post). The worker packs each tagged batch per partition, so the sink
consumes a few hundred posts per Kafka message instead of one: per-message consumer and
producer work in Python was half of a worker's time. A message holding one post is the older
one-post-per-message form, so both read the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_ENVELOPE_BYTES = 900 * 1024
"""Under Kafka's default 1 MB message limit (``message.max.bytes``), so an unconfigured broker
takes every envelope."""


def pack(documents: Iterable[bytes], max_bytes: int = MAX_ENVELOPE_BYTES) -> list[bytes]:
    """Join JSON documents into as few messages of at most ``max_bytes`` as their order allows.

    A single document larger than ``max_bytes`` gets a message of its own (it was accepted as
    a raw post, so the broker's own limit decides)."""
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for doc in documents:
        if b"\n" in doc:
            raise ValueError("a document must be one line of JSON")
        if chunk and size + 1 + len(doc) > max_bytes:
            out.append(b"\n".join(chunk))
            chunk, size = [], 0
        size += len(doc) + (1 if chunk else 0)
        chunk.append(doc)
    if chunk:
        out.append(b"\n".join(chunk))
    return out


def unpack(message: bytes) -> list[bytes]:
    """The JSON documents of one message, in the order they were packed."""
    return [line for line in message.split(b"\n") if line]
