"""Micro-batches from a Faust stream that keep filling while the previous batch is processed.

Faust's ``Stream.take_events(max_, within)`` stops buffering while the caller processes a batch
and starts its ``within`` timer only after that: a post arriving during a 0.4 s tagging run waits
for the run, then ``within``, then its own run. Here the next batch fills while one is processed,
and it is handed over when it holds ``max_`` events, or ``within`` seconds after its first event
arrived (Kafka's ``linger.ms`` rule) or after the caller came back for it (Faust's rule),
whichever is earlier. Under load batches follow each other without a pause; on a quiet stream a
batch waits at most ``within``, as before.

Delivery is as with ``take_events``: acks are off on the stream; a batch's events are acked when
the caller comes back for the next batch, or when the loop is left (also by cancellation: the
caller finishes a cancelled batch first, see ``Worker._complete``). Events buffered but not yet
handed over are never acked, so they are delivered again after a crash. At most ``max_`` events
wait in the buffer; the stream is paused (back-pressure) while it is full.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
from mode.utils.locks import Event


async def take_batches(stream: faust.StreamT, max_: int, within: float) -> AsyncIterator[list[faust.EventT]]:
    """Yield batches of at most ``max_`` events: when full, or ``within`` s after the first of
    them arrived or after the caller came back for a batch, whichever is earlier."""
    s = cast(faust.Stream, stream)
    loop = asyncio.get_running_loop()
    pending: list[faust.EventT] = []
    first_at = 0.0
    full, room = Event(), Event()
    room.set()

    async def add(value: Any) -> Any:
        nonlocal first_at
        while len(pending) >= max_:  # back-pressure: the buffer holds one batch at most
            room.clear()
            await s.wait(room)
            if s.should_stop:
                return value
        event = s.current_event
        if event is None:
            raise RuntimeError("take_batches: the stream has no current event")
        if not pending:
            first_at = loop.time()
        pending.append(event)
        if len(pending) >= max_:
            full.set()
        return value

    acks_were = s.enable_acks
    s.enable_acks = False
    s.add_processor(add)
    s._enable_passive(cast(faust.ChannelT, aiter(s.channel)))
    free_at = loop.time()  # when the caller last came back for a batch (or an empty wait began)
    try:
        while not s.should_stop:
            started = min(first_at, free_at) if pending else free_at
            remaining = started + within - loop.time()
            if len(pending) < max_ and remaining > 0:
                full.clear()
                await s.wait_for_stopped(full, timeout=remaining)
            if not pending:
                free_at = loop.time()
                continue
            batch = pending[:]
            pending.clear()
            full.clear()
            room.set()
            try:
                yield batch
            finally:
                for event in batch:
                    await s.ack(event)
            free_at = loop.time()
    finally:
        s.enable_acks = acks_were
        s._processors.remove(add)
