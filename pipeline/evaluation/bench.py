"""``hypermicro bench pipeline``: end-to-end throughput and produce->queryable latency, Kafka to
ClickHouse with full tagging, plus bare tagging throughput on the same posts (overhead ratio).

Runs a worker in this process on embedded ClickHouse (chDB) in its own topic namespace.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from pipeline.core.schema import RawPost
from pipeline.core.settings import Settings, load_settings, topic_name

if TYPE_CHECKING:  # the command module stays cheap to import
    from multiprocessing.connection import Connection

    from prometheus_client import Histogram

    from pipeline.enrich import Enricher


def _parse_mix(spec: str) -> tuple[float, float]:
    try:
        reposts, relevant = (float(x) for x in spec.split(":"))
    except ValueError:
        raise typer.BadParameter(f"--mix wants REPOSTS:RELEVANT shares like 0.3:0.1, got {spec!r}") from None
    if not (0 <= reposts < 1 and 0 < relevant <= 1):
        raise typer.BadParameter(f"--mix shares out of range: {spec!r}")
    return reposts, relevant


def command(
    posts: int = typer.Option(5000, "--posts", help="Posts to push through the pipeline (per mix)."),
    rate: float = typer.Option(0.0, "--rate", help="Produce rate in posts/s for the latency run (0 = as fast as possible)."),
    bootstrap: str = typer.Option("127.0.0.1:9092", "--bootstrap", envvar="HYPERMICRO_KAFKA_BOOTSTRAP"),
    data_dir: Path = typer.Option(Path(".data/bench"), "--data-dir"),
    embedder: str | None = typer.Option(None, "--embedder", help="Override the embedder (default from settings)."),
    mix: list[str] = typer.Option([], "--mix", help="REPOSTS:RELEVANT shares of a firehose-like stream, e.g. 0.3:0.1 "
                                  "(repeatable; each mix is measured in turn). Default: the bundled sample."),
    firehose: bool | None = typer.Option(None, "--firehose/--no-firehose", help="Override firehose mode (default from settings)."),
    half_rate: bool = typer.Option(False, "--half-rate", help="Also time produce->queryable at half the sustained end-to-end rate."),
    posts_file: Path | None = typer.Option(None, "--posts-file", help="Measure real posts instead: a replay file "
                                           "(JSON Lines or CSV, the replay connector's form), its first --posts posts "
                                           "in time order. Brands come from the settings (HYPERMICRO_BRANDS_FILE)."),
) -> None:
    """Print posts/s end to end, p50/p99 produce->queryable latency and the bare tagging rate."""
    from pipeline.evaluation.demo import ensure_kafka
    from pipeline.evaluation.sample import SampleSpec, generate, mixed
    from pipeline.runtime.worker import build_worker, run_app

    mixes = [_parse_mix(m) for m in mix]
    if posts_file is not None and mixes:
        raise typer.BadParameter("--mix generates posts and --posts-file reads them: give one of the two")
    streams: list[tuple[str, list[RawPost]]] = []
    if posts_file is not None:
        from pipeline.evaluation.buzz import load_posts

        real, invalid = load_posts(posts_file)
        if invalid:
            line, error = invalid[0]
            typer.echo(f"{posts_file}: {len(invalid)} invalid records left out (first, line {line}: {error})", err=True)
        if not real:
            raise typer.BadParameter(f"{posts_file} holds no valid post")
        streams.append((f"file={posts_file.name}", real[:posts]))
    elif mixes:
        for reposts, relevant in mixes:
            rows = mixed(posts, reposts, relevant, seed=len(streams) + 11)
            streams.append((f"reposts={reposts:g} relevant={relevant:g}", [RawPost.model_validate(r) for r in rows]))
    else:
        rows, _ = generate(SampleSpec(posts=posts, spike_posts=min(180, posts // 10)))
        streams.append(("sample", [RawPost.model_validate(r) for r in rows]))
    ensure_kafka(bootstrap)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    overrides: dict[str, Any] = dict(
        kafka_bootstrap=bootstrap, topic_namespace=f"bench{int(time.time())}", chdb_path=data_dir / "chdb",
        worker_data_dir=data_dir / "worker", web_port=0,
    )
    if embedder:
        overrides["embedder"] = embedder
    if firehose is not None:
        overrides["firehose"] = firehose
    settings = load_settings(**overrides)
    worker = build_worker(settings)  # as `hypermicro worker` runs it, live detectors included

    @worker.app.task
    async def drive() -> None:
        for name, raw in streams:
            result = await _measure(worker, settings, raw, rate, bootstrap, half_rate)
            _report(name, result, len(raw), settings)
        os.kill(os.getpid(), signal.SIGTERM)

    run_app(worker)


async def _measure(worker: Any, settings: Any, raw: list[Any], rate: float, bootstrap: str,
                   half_rate: bool) -> dict[str, float]:
    """Bare tagging on ``raw``, then the same posts through Kafka and the worker (fresh caches
    each time), timing each post from produce to queryable; with ``half_rate`` once more, with
    new ids, produced at half the end-to-end rate just measured."""
    loop = asyncio.get_running_loop()
    load_before = os.getloadavg()[0]
    # built before the enricher loads (which freezes the heap): the benchmark's own copies must not
    # weigh on the worker's garbage collections
    again = [p.model_copy(update={"id": f"{p.id}:half"}) for p in raw] if half_rate else []
    enricher = await worker.enricher()
    _fresh_state(enricher)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(raw), settings.batch_max):
        await loop.run_in_executor(None, enricher.enrich, raw[i : i + settings.batch_max], None)
    result = {"tagging_posts_s": len(raw) / (time.perf_counter() - t0),
              "tagging_cpu_1k": (time.process_time() - c0) * 1000 / len(raw)}
    _fresh_state(enricher)
    result.update(await _through_pipeline(worker, settings, raw, rate, bootstrap))
    if half_rate:
        _fresh_state(enricher)
        slow = await _through_pipeline(worker, settings, again, result["e2e_posts_s"] / 2, bootstrap)
        result.update(half_rate_posts_s=result["e2e_posts_s"] / 2, half_p50_latency_s=slow["p50_latency_s"],
                      half_p99_latency_s=slow["p99_latency_s"])
    result.update(load_before=load_before, load_after=os.getloadavg()[0])
    return result


def _fresh_state(enricher: Enricher) -> None:
    """Empty the tag cache and the conversation clusterer, so every run starts cold."""
    from pipeline.tagcache import TagCache

    enricher.cache = TagCache(enricher.cache.size)
    if enricher.conversations is not None:
        enricher.conversations = type(enricher.conversations)()


async def _through_pipeline(worker: Any, settings: Any, raw: list[Any], rate: float,
                            bootstrap: str) -> dict[str, float]:
    """Produce ``raw`` (at ``rate`` posts/s, 0 = at once) and poll ClickHouse until all are stored.

    The posts are produced by a separate process, as a connector would, so this process's CPU
    time and interpreter lock belong to the worker (and the polling) only.
    """
    import multiprocessing

    from pipeline.core import metrics as M
    from pipeline.core import topics as T

    loop = asyncio.get_running_loop()
    repo = await worker.repository()
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    producer = spawn.Process(
        target=_produce, args=(bootstrap, topic_name(settings, T.RAW_POSTS), raw, rate, child), daemon=True)
    producer.start()
    child.close()  # the child's end lives in the child: a dead producer reads as EOF here
    if await loop.run_in_executor(None, parent.recv) != "ready":
        raise RuntimeError("the benchmark's producer process did not start")

    wanted = {p.id for p in raw}
    before = (_hist(M.ENRICH_BATCH_POSTS), _hist(M.SINK_BATCH_POSTS), _hist(M.ENRICH_SECONDS), _hist(M.SINK_SECONDS))
    last = await loop.run_in_executor(None, repo.posts.max_version)
    t_start, c_start = time.time(), time.process_time() + _helpers_cpu_s(producer.pid)
    parent.send("go")
    seen: dict[str, float] = {}
    while len(seen) < len(wanted) and time.time() - t_start < 1800:  # a repeated id is stored once
        if producer.exitcode:
            raise RuntimeError(f"the benchmark's producer process failed (exit code {producer.exitcode})")
        ids = await loop.run_in_executor(None, repo.posts.ids_since, last)
        now = time.time()
        for i in ids:
            if i in wanted:
                seen.setdefault(i, now)
        vmax = await loop.run_in_executor(None, repo.posts.max_version)
        last = max(last, vmax - 5_000_000)  # re-read the last 5 s of inserts
        await asyncio.sleep(0.2)
    sent_at: dict[str, float] = await loop.run_in_executor(None, parent.recv)
    await loop.run_in_executor(None, producer.join, 60)
    # the worker (with its voice process) and the polling, not the producer
    cpu = (time.process_time() + _helpers_cpu_s(producer.pid) - c_start) * 1000 / len(raw)
    wall = max(seen.values()) - t_start
    lat = sorted(seen[i] - sent_at[i] for i in seen if i in sent_at)
    return {
        "e2e_cpu_1k": cpu,
        "enrich_batch_mean": _batch_mean(M.ENRICH_BATCH_POSTS, before[0]),
        "sink_batch_mean": _batch_mean(M.SINK_BATCH_POSTS, before[1]),
        "e2e_posts_s": len(seen) / wall,
        "tagging_busy": (_hist(M.ENRICH_SECONDS)[1] - before[2][1]) / wall,
        "insert_busy": (_hist(M.SINK_SECONDS)[1] - before[3][1]) / wall,
        "p50_latency_s": statistics.median(lat),
        "p99_latency_s": lat[int(0.99 * (len(lat) - 1))],
        "stored": len(seen),
    }


def _helpers_cpu_s(producer: int | None) -> float:
    """CPU-seconds so far of this process's live child processes other than ``producer`` (the
    worker's voice process), read from ``/proc`` (0 where there is none)."""
    import multiprocessing

    total = 0.0
    for child in multiprocessing.active_children():
        if child.pid is None or child.pid == producer:
            continue
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return total


def _produce(bootstrap: str, topic: str, posts: list[RawPost], rate: float, conn: Connection) -> None:
    """Producer process: connect, say ready, wait for go, produce ``posts`` at ``rate`` posts/s
    (0 = at once), then send back each post id's send time."""
    from pipeline.core.kafka import PostProducer

    sent_at: dict[str, float] = {}
    with PostProducer(bootstrap, linger_ms=5) as producer:
        producer.kafka.partitions_for(topic)  # connected, metadata known: start-up is not timed
        conn.send("ready")
        conn.recv()
        start = time.monotonic()
        for i, post in enumerate(posts):
            sent_at[post.id] = time.time()
            producer.send(post, topic)
            if rate > 0:
                ahead = (i + 1) / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush(120)
    conn.send(sent_at)


def _hist(h: Histogram) -> tuple[float, float]:
    """(count, sum) of a Prometheus histogram so far."""
    samples = [s for m in h.collect() for s in m.samples]
    return (sum(s.value for s in samples if s.name.endswith("_count")),
            sum(s.value for s in samples if s.name.endswith("_sum")))


def _batch_mean(h: Histogram, before: tuple[float, float]) -> float:
    count, total = _hist(h)
    return (total - before[1]) / max(1.0, count - before[0])


def _report(name: str, r: dict[str, float], n: int, settings: Settings) -> None:
    typer.echo(f"[{name}] posts: {n}  stored: {int(r['stored'])}  embedder: {settings.embedder}  "
               f"encoder_threads: {settings.encoder_threads}  batch_max: {settings.batch_max}  firehose: {settings.firehose}")
    typer.echo(f"machine load average (1 min) before / after: {r['load_before']:.1f} / {r['load_after']:.1f} on "
               f"{os.cpu_count()} cores (this run's own processes count too; compare runs of similar load)")
    typer.echo(f"bare tagging:        {r['tagging_posts_s']:8.0f} posts/s")
    typer.echo(f"end to end (Kafka -> tags -> ClickHouse): {r['e2e_posts_s']:8.0f} posts/s")
    typer.echo(f"CPU-seconds per 1,000 posts: tagging {r['tagging_cpu_1k']:.2f}, end to end {r['e2e_cpu_1k']:.2f} "
               "(the worker's process, all threads, its voice process and the benchmark's polling; the producer runs in its own process)")
    typer.echo(f"mean batch: enrich {r['enrich_batch_mean']:.0f} messages, sink {r['sink_batch_mean']:.0f} posts")
    typer.echo(f"share of the wall time spent tagging {r['tagging_busy']:.0%}, in ClickHouse inserts {r['insert_busy']:.0%}")
    typer.echo(f"produce -> queryable latency: p50 {r['p50_latency_s']:.2f} s  p99 {r['p99_latency_s']:.2f} s")
    if "half_rate_posts_s" in r:
        typer.echo(f"  at half the sustained rate ({r['half_rate_posts_s']:.0f} posts/s): "
                   f"p50 {r['half_p50_latency_s']:.2f} s  p99 {r['half_p99_latency_s']:.2f} s")
    typer.echo(
        f"mix={name.replace(' ', ',')} e2e_posts_s={r['e2e_posts_s']:.0f} tagging_posts_s={r['tagging_posts_s']:.0f} "
        f"overhead_ratio={r['tagging_posts_s'] / r['e2e_posts_s']:.2f} "
        f"cpu_overhead_ratio={r['e2e_cpu_1k'] / r['tagging_cpu_1k']:.2f} "
        f"p50_latency_s={r['p50_latency_s']:.2f} p99_latency_s={r['p99_latency_s']:.2f}"
        + (f" half_rate_p99_latency_s={r['half_p99_latency_s']:.2f}" if "half_rate_posts_s" in r else "")
        + f" load_avg_1m={r['load_before']:.1f}/{r['load_after']:.1f}"
    )
