"""``hypermicro demo``: the whole pipeline on the embedded default with the bundled sample.

Starts the local Kafka if none answers, runs a worker in this process (chDB, its own topic
namespace), replays the generated sample through the file-replay connector, waits until every
post is queryable, and prints per-brand volume, sentiment and the alerts raised.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import typer

from pipeline.core.logs import configure_logging
from pipeline.core.settings import load_settings, topic_name
from pipeline.storage.repository import Repository

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]


def ensure_kafka(bootstrap: str) -> None:
    """Start the repository's local Kafka (deploy/local/kafka.sh) unless a broker answers."""
    from pipeline.check import kafka_answers

    if kafka_answers(bootstrap, timeout_s=10.0):  # silent: no broker yet is the expected answer on a fresh clone
        return
    script = REPO / "deploy" / "local" / "kafka.sh"
    if not script.exists():
        typer.echo(f"no Kafka at {bootstrap} and no {script} to start one", err=True)
        raise typer.Exit(1)
    typer.echo(f"starting local Kafka ({script.relative_to(REPO)} start) ...")
    subprocess.run(["bash", str(script), "start"], check=True)


def summarize(repo: Repository) -> dict[str, Any]:
    brands = repo.posts.brand_totals()
    alerts = repo.alerts.summary()
    return {"posts": repo.count_posts(), "brands": brands, "alerts": alerts}


def command(
    posts: int = typer.Option(3000, "--posts", help="Sample size."),
    data_dir: Path = typer.Option(Path(".data/demo"), "--data-dir", help="Where the demo keeps its data (recreated)."),
    bootstrap: str = typer.Option("127.0.0.1:9092", "--bootstrap", envvar="HYPERMICRO_KAFKA_BOOTSTRAP"),
    timeout_s: float = typer.Option(600, "--timeout", help="Give up after this many seconds."),
) -> None:
    """Run the main job end to end on embedded ClickHouse with the bundled sample data."""
    from connectors.file_replay import replay_file
    from pipeline.core import topics as T
    from pipeline.core.kafka import PostProducer
    from pipeline.evaluation.sample import SampleSpec, write_sample
    from pipeline.runtime.app import Worker
    from pipeline.runtime.live import build_live_detector

    # The demo prints its own progress; logs show only what needs attention. Faust's consumer
    # keepalive complains (ERROR) whenever a busy laptop delays its thread by 3 s: not actionable here.
    configure_logging("WARNING", libraries_level="ERROR", drop=("Thread keepalive is not responding",))
    ensure_kafka(bootstrap)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    sample = data_dir / "sample.jsonl"
    truth = write_sample(sample, SampleSpec(posts=posts))
    namespace = f"demo{int(time.time())}"
    settings = load_settings(
        kafka_bootstrap=bootstrap, topic_namespace=namespace, clickhouse_backend="chdb",
        chdb_path=data_dir / "chdb", worker_data_dir=data_dir / "worker", web_port=0,
        detect_interval_s=2.0,
    )
    typer.echo(f"sample: {posts} posts in {sample} (planted negative spike: {truth['spike']})")
    worker = Worker(settings, detector_factory=build_live_detector)
    started = time.monotonic()

    @worker.app.task
    async def drive() -> None:
        loop = asyncio.get_running_loop()
        typer.echo("loading models (a first run also builds the ONNX encoder, ~30 s) ...")
        await worker.enricher()
        repo = await worker.repository()
        typer.echo("replaying sample into Kafka ...")

        def produce() -> Any:
            with PostProducer(bootstrap) as producer:
                return replay_file(sample, producer, topic_name(settings, T.RAW_POSTS), progress=True)

        stats = await loop.run_in_executor(None, produce)
        typer.echo(f"produced {stats.sent} posts ({stats.invalid} invalid)")
        stored = 0
        while time.monotonic() - started < timeout_s:
            stored = await loop.run_in_executor(None, repo.count_posts)
            typer.echo(f"\rqueryable in ClickHouse: {stored}/{stats.sent}", nl=False)
            if stored >= stats.sent:
                break
            await asyncio.sleep(1.0)
        typer.echo("")
        seen = worker._detector.ticks if worker._detector is not None else 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # let the detector pass over everything stored
            det = worker._detector
            if det is not None and det.ticks >= seen + 3:
                break
            await asyncio.sleep(0.5)
        summary = await loop.run_in_executor(None, summarize, repo)
        _print(summary, stats.sent, time.monotonic() - started)
        os.kill(os.getpid(), signal.SIGTERM)

    from pipeline.runtime.worker import run_app

    run_app(worker)


def _print(summary: dict[str, Any], sent: int, elapsed: float) -> None:
    typer.echo("")
    typer.echo("=== hypermicro demo summary ===")
    typer.echo(f"posts in: {sent}   stored (deduplicated): {summary['posts']}   elapsed: {elapsed:.1f} s")
    typer.echo(f"{'brand':<12}{'posts':>8}{'negative':>10}{'positive':>10}")
    for b in summary["brands"]:
        typer.echo(f"{b['brand']:<12}{b['posts']:>8}{b['negative']:>10}{b['positive']:>10}")
    typer.echo(f"alerts raised: {len(summary['alerts'])}")
    for a in summary["alerts"]:
        typer.echo(f"  [{a['severity']}] {a['kind']} {a['subject_id']} "
                   f"{a['window_start']:%H:%M}-{a['window_end']:%H:%M} UTC: {a['explanation']}")
