"""Micro-batching on a Faust stream: the next batch fills while one is processed.

Runs the real Faust agent machinery (``agent.test_context()``, no broker needed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import faust

from pipeline.runtime.batching import take_batches


async def _run(max_: int, within: float, run_s: float, schedule: list[tuple[float, list[bytes]]],
               settle: float) -> list[tuple[float, list[bytes]]]:
    """Put each group of values at its time; the agent spends ``run_s`` on every batch.
    Returns (seconds since start when handed over, values) per batch."""
    app = faust.App(f"batching-test-{time.monotonic_ns()}", broker="kafka://127.0.0.1:1", store="memory://")
    topic = app.topic("t", key_serializer="raw", value_serializer="raw")
    got: list[tuple[float, list[bytes]]] = []
    t0 = 0.0

    @app.agent(topic)
    async def agent(stream: faust.StreamT) -> AsyncIterator[None]:
        async for batch in take_batches(stream, max_, within):
            got.append((time.monotonic() - t0, [e.value for e in batch]))
            await asyncio.sleep(run_s)
        yield None

    async with agent.test_context() as ctx:
        t0 = time.monotonic()
        for at, values in schedule:
            await asyncio.sleep(max(0.0, at - (time.monotonic() - t0)))
            for v in values:
                await ctx.put(v, wait=False)
        await asyncio.sleep(settle)
    return got


async def test_posts_that_arrive_during_a_long_batch_go_next_without_a_new_wait() -> None:
    """Faust's own ``take_events`` would wait ``within`` again after the first batch (0.5 s more)."""
    got = await _run(max_=100, within=0.5, run_s=1.5, schedule=[(0.0, [b"a"]), (0.7, [b"b", b"c"])], settle=2.5)
    assert [values for _, values in got] == [[b"a"], [b"b", b"c"]]
    (t1, _), (t2, _) = got
    assert 0.4 <= t1 < 1.0  # the first batch: `within` after its first post
    assert t2 - t1 < 1.75  # the second: right after the first one's 1.5 s run, not 0.5 s later


async def test_a_full_buffer_holds_back_the_stream_and_nothing_is_lost_or_reordered() -> None:
    values = [str(i).encode() for i in range(11)]
    got = await _run(max_=3, within=0.2, run_s=0.3, schedule=[(0.0, values)], settle=2.5)
    assert all(len(b) <= 3 for _, b in got)
    assert [v for _, b in got for v in b] == values


async def test_a_post_after_a_quiet_spell_waits_at_most_within_from_when_the_stage_was_free() -> None:
    """The sink receives a tagged batch's messages all at once: waiting `within` from their arrival
    (a pure linger rule) would add that wait to every post; the stage's free time bounds it."""
    got = await _run(max_=100, within=1.0, run_s=0.4, schedule=[(0.0, [b"a"]), (2.0, [b"b"])], settle=2.0)
    assert [values for _, values in got] == [[b"a"], [b"b"]]
    t2 = got[1][0]
    assert 2.0 <= t2 < 2.75  # free again at ~1.4, so handed over by ~2.4 (a pure linger rule: 3.0)
