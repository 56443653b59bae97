"""Replay posts from a JSONL or CSV file into Kafka, optionally time-warped.

JSONL (``.jsonl``, ``.ndjson``, ``.json``; ``.gz`` accepted) holds one post per line in the
interchange form of :class:`pipeline.core.schema.RawPost` (ids without the ``<source>:`` prefix are
prefixed). CSV (``.csv``, ``.csv.gz``) maps columns by header name, see :data:`CSV_COLUMNS`.

Invalid records are never dropped silently: each is logged with its line number, counted in
:class:`ReplayStats`, and, when ``dlq_topic`` is given, produced to the dead-letter topic as a
:class:`pipeline.core.schema.DeadLetter` holding the original bytes (``topic`` = ``file:<path>``,
``offset`` = line number, ``stage`` = ``connector``).
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from pipeline.core.bounds import DEFAULT_BOUNDS, Bounds, check_post
from pipeline.core.decode import dead_letter
from pipeline.core.kafka import PostProducer
from pipeline.core.schema import RawPost

log = logging.getLogger(__name__)

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
MAX_LOGGED_ERRORS = 20
MAX_KEPT_ERRORS = 100

CSV_COLUMNS: dict[str, str] = {
    "id": "native or prefixed post id (required)",
    "source": "source name, e.g. mastodon (required unless replay_file(source=...))",
    "created_at": "ISO 8601 timestamp (required)",
    "text": "post text (required)",
    "url": "link to the post",
    "lang": "language code",
    "author_id": "author id within the source (required)",
    "author_handle": "author handle",
    "author_display_name": "author display name",
    "author_followers": "follower count",
    "author_following": "following count",
    "reply_to_author": "author id this post replies to",
    "reply_to_post": "post id this post replies to",
    "repost_of_author": "author id of the reposted post",
    "repost_of_post": "id of the reposted post",
    "quote_of_author": "author id of the quoted post",
    "mentions": "handles, separated by spaces or | (or a JSON array)",
    "hashtags": "tags, separated by spaces or | (or a JSON array)",
    "links": "URLs, separated by spaces or | (or a JSON array)",
    "likes": "like count (also engagement_likes)",
    "reposts": "repost count (also engagement_reposts)",
    "replies": "reply count (also engagement_replies)",
    "quotes": "quote count (also engagement_quotes)",
}
"""CSV header names understood by the replay (unknown columns are ignored)."""

_LIST_SPLIT = re.compile(r"[\s|]+")
_AUTHOR_COLS = {"author_id": "id", "author_handle": "handle", "author_display_name": "display_name",
                "author_followers": "followers", "author_following": "following"}
_ENGAGEMENT = ("likes", "reposts", "replies", "quotes")
_TOP_LEVEL = ("id", "source", "created_at", "text", "url", "lang", "reply_to_author", "reply_to_post",
              "repost_of_author", "repost_of_post", "quote_of_author")


@dataclass
class ReplayStats:
    """What a replay did. ``errors`` keeps the first invalid records as ``(line, message)``."""

    sent: int = 0
    invalid: int = 0
    dead_lettered: int = 0
    records: int = 0
    elapsed_s: float = 0.0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def posts_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def _format_of(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    raise ValueError(f"{path}: unknown file type (expected .jsonl/.ndjson/.json/.csv, optionally .gz)")


def _split_list(cell: str) -> list[str]:
    cell = cell.strip()
    if cell.startswith("["):
        value = orjson.loads(cell)
        if not isinstance(value, list):
            raise ValueError(f"expected a JSON array, got {cell[:40]!r}")
        return [str(v) for v in value]
    return [x for x in _LIST_SPLIT.split(cell) if x]


def csv_row_to_record(row: dict[str, str | None]) -> dict[str, Any]:
    """Map one CSV row (header name -> cell) to the interchange dict; empty cells are omitted."""
    cells = {k.strip().lower(): v for k, v in row.items() if k is not None and v not in (None, "")}
    rec: dict[str, Any] = {k: cells[k] for k in _TOP_LEVEL if k in cells}
    author = {dst: cells[src] for src, dst in _AUTHOR_COLS.items() if src in cells}
    if author:
        rec["author"] = author
    engagement = {}
    for name in _ENGAGEMENT:
        value = cells.get(name, cells.get(f"engagement_{name}"))
        if value is not None:
            engagement[name] = value
    if engagement:
        rec["engagement"] = engagement
    for name in ("mentions", "hashtags", "links"):
        if name in cells:
            rec[name] = _split_list(str(cells[name]))
    return rec


def iter_records(path: Path) -> Iterator[tuple[int, bytes, dict[str, Any] | bytes]]:
    """Yield ``(line_number, original_bytes, record)`` from a JSONL or CSV file.

    For JSONL the record is the raw line (bytes, parsed later by pydantic for speed); for CSV it
    is the mapped dict and the "original bytes" are the row as a JSON object (header -> cell).
    Blank lines are skipped.
    """
    fmt = _format_of(path)
    if fmt == "jsonl":
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if line:
                    yield lineno, line, line
        return
    with _open_text(path) as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            return
        prev_end = reader.line_num  # the header's last line
        for row in reader:
            raw = orjson.dumps({k: v for k, v in row.items() if k is not None})
            lineno, prev_end = prev_end + 1, reader.line_num  # a row's first line
            try:
                yield lineno, raw, csv_row_to_record(row)
            except ValueError as exc:  # malformed list cell: surface as an invalid record
                yield lineno, raw, orjson.dumps({"__invalid__": str(exc)})


def parse_record(record: dict[str, Any] | bytes, source: str | None = None,
                 bounds: Bounds = DEFAULT_BOUNDS) -> RawPost:
    """Validate one record into a RawPost within ``bounds`` (raises ``ValidationError`` /
    ``ValueError``, including :class:`pipeline.core.bounds.OutOfBounds`)."""
    return check_post(_parse(record, source), bounds)


def _parse(record: dict[str, Any] | bytes, source: str | None) -> RawPost:
    if isinstance(record, bytes):
        if source is None:
            return RawPost.model_validate_json(record)
        record = orjson.loads(record)
        if not isinstance(record, dict):
            raise ValueError("record is not a JSON object")
    if "__invalid__" in record:
        raise ValueError(record["__invalid__"])
    if source is not None and not record.get("source"):
        record = {**record, "source": source}
    return RawPost.model_validate(record)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc'])) or '<record>'}: {e['msg']}" for e in exc.errors()[:5]]
        return "; ".join(parts)
    return f"{type(exc).__name__}: {exc}"


def replay_file(
    path: Path,
    producer: PostProducer,
    topic: str,
    speed: float = 0.0,
    progress: bool = True,
    limit: int | None = None,
    *,
    dlq_topic: str | None = None,
    source: str | None = None,
    flush_timeout_s: float | None = 120.0,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> ReplayStats:
    """Produce every valid post of ``path`` to ``topic``; return counts once Kafka acknowledged all.

    ``speed`` 0 sends as fast as possible; ``speed`` N replays N times faster than real time,
    sleeping according to the gaps between consecutive ``created_at`` values (posts older than
    the previous one are sent at once). ``limit`` caps the number of records read. Invalid
    records (including posts outside ``bounds``) are logged with their line number, counted,
    and dead-lettered when ``dlq_topic`` is set. Raises :class:`pipeline.core.kafka.KafkaDeliveryError` if Kafka rejected anything.
    """
    from tqdm import tqdm

    path = Path(path)
    if speed < 0:
        raise ValueError("speed must be >= 0")
    stats = ReplayStats()
    show = progress and sys.stderr.isatty()
    bar = tqdm(desc=path.name, unit="post", disable=not show, mininterval=0.5)
    started = time.perf_counter()
    src_t0: float | None = None
    wall_t0 = 0.0
    pending_bar = 0
    send = producer.keyed_sender(topic)
    try:
        for lineno, raw, record in iter_records(path):
            if limit is not None and stats.records >= limit:
                break
            stats.records += 1
            try:
                post = parse_record(record, source, bounds)
            except (ValidationError, ValueError) as exc:
                _invalid(stats, path, lineno, raw, exc, producer, dlq_topic)
                continue
            if speed > 0:
                ts = post.created_at.timestamp()
                if src_t0 is None:
                    src_t0, wall_t0 = ts, time.monotonic()
                delay = wall_t0 + (ts - src_t0) / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            send(post.id.encode(), post.model_dump_json().encode())
            stats.sent += 1
            pending_bar += 1
            if pending_bar >= 1000:
                bar.update(pending_bar)
                pending_bar = 0
        producer.flush(flush_timeout_s)
    finally:
        bar.update(pending_bar)
        bar.close()
        stats.elapsed_s = time.perf_counter() - started
    if stats.invalid:
        log.warning("%s: %d invalid record(s) of %d%s", path, stats.invalid, stats.records,
                    f", {stats.dead_lettered} sent to {dlq_topic}" if dlq_topic else " (not dead-lettered)")
    log.info("%s: sent %d posts in %.1fs (%.0f posts/s)", path, stats.sent, stats.elapsed_s, stats.posts_per_s)
    return stats


def _invalid(
    stats: ReplayStats,
    path: Path,
    lineno: int,
    raw: bytes,
    exc: Exception,
    producer: PostProducer,
    dlq_topic: str | None,
) -> None:
    stats.invalid += 1
    message = _error_text(exc)
    if len(stats.errors) < MAX_KEPT_ERRORS:
        stats.errors.append((lineno, message))
    if stats.invalid <= MAX_LOGGED_ERRORS:
        log.warning("%s:%d: invalid record: %s", path, lineno, message)
    elif stats.invalid == MAX_LOGGED_ERRORS + 1:
        log.warning("%s: more invalid records; further ones are counted, not logged", path)
    if dlq_topic:
        letter = dead_letter(raw, None, f"file:{path}", -1, lineno, ValueError(message), stage="connector")
        letter.error_type = type(exc).__name__
        producer.send_raw(None, letter.model_dump_json().encode(), dlq_topic)
        stats.dead_lettered += 1
