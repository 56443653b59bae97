"""Scale-out, shown: 1, 2, 3 ``hypermicro worker`` processes in one consumer group share the raw
topic's partitions on the ClickHouse server backend; throughput and CPU-seconds per 1,000 posts.

    .venv/bin/python benchmarks/bench_scaleout.py --workers 1,2,3 --posts 60000 --mix 0.3:0.1

For each worker count N, in a fresh topic namespace (``--partitions`` partitions per topic) and
a fresh ClickHouse database: start N real worker subprocesses (default taggers unless
``--embedder``), wait until the group has assigned every raw partition, warm every worker up (a
few posts per partition: models load on the first batch), then produce the same ``--posts`` posts
(``pipeline.evaluation.sample.mixed``) as fast as possible and time first produce -> all stored
(distinct ids in ``posts``). CPU is user+system of every worker's process group (``/proc``),
end minus start, so the benchmark's own producer and polling are not in it.

On a machine with fewer cores than workers the cores are the ceiling: throughput cannot grow
with N, but CPU-seconds per 1,000 posts should stay flat (the work is shared, not repeated),
and the partition lists show the sharing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kafka import KafkaAdminClient  # noqa: E402

from pipeline.core import topics as T  # noqa: E402
from pipeline.core.kafka import PostProducer, ensure_topics  # noqa: E402
from pipeline.core.schema import RawPost  # noqa: E402
from pipeline.evaluation.live_stack import start_worker, stop_worker  # noqa: E402
from pipeline.evaluation.sample import mixed  # noqa: E402
from pipeline.storage.backend import DriverBackend  # noqa: E402
from pipeline.storage.migrate import migrate  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_PER_PARTITION = 8
"""Posts per partition before timing starts: every worker loads its models on its first batch."""


@dataclass
class Result:
    workers: int
    posts: int
    wall_s: float
    cpu_s: list[float]
    partitions: list[list[int]]
    stored_by_worker: list[int]
    machine_busy: float
    rebalanced: bool

    @property
    def posts_s(self) -> float:
        return self.posts / self.wall_s

    @property
    def cpu_1k(self) -> float:
        return sum(self.cpu_s) * 1000 / self.posts


# -- process CPU (/proc) ------------------------------------------------------------------------
def group_cpu_s(pgid: int) -> float:
    """user+system seconds of every live process in process group ``pgid``, plus the waited-for
    children of each (``start_worker`` puts a worker and its children in their own group)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = (Path("/proc") / entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid:  # pgrp
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]  # user..steal
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


# -- Kafka group --------------------------------------------------------------------------------
def assignment(admin: KafkaAdminClient, group: str, raw_topic: str) -> list[list[int]] | None:
    """Raw-topic partitions of each member (the leader's first) once the group is stable, else None."""
    info = admin.describe_groups([group])[group]
    if info.get("group_state") != "Stable":
        return None
    leader_first: list[tuple[bool, list[int]]] = []
    for member in info.get("members", []):
        raw: list[int] = []
        leads = False
        for tp in (member.get("member_assignment") or {}).get("assigned_partitions", []):
            if tp["topic"] == raw_topic:
                raw = sorted(tp["partitions"])
            elif tp["topic"].endswith("__assignor-__leader") and tp["partitions"]:
                leads = True
        leader_first.append((not leads, raw))
    return [raw for _, raw in sorted(leader_first)]


def wait_assigned(admin: KafkaAdminClient, group: str, raw_topic: str, workers: int, partitions: int,
                  procs: list[Popen[bytes]], timeout: float = 300) -> list[list[int]]:
    """Block until ``workers`` members share all ``partitions`` raw partitions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p.pid for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"worker(s) {dead} exited before the group was ready (see their logs)")
        parts = assignment(admin, group, raw_topic)
        if parts is not None and len(parts) == workers and sum(len(p) for p in parts) == partitions \
                and all(parts):
            return parts
        time.sleep(1)
    raise TimeoutError(f"group {group} did not assign {partitions} partitions to {workers} workers in {timeout:.0f} s")


# -- posts --------------------------------------------------------------------------------------
def warmup_posts(template: list[RawPost], partitions: int) -> list[RawPost]:
    """Copies of ``template`` posts with ids chosen so that every partition gets
    :data:`WARMUP_PER_PARTITION` of them (same crc32 partitioner as :class:`PostProducer`)."""
    per: dict[int, int] = {p: 0 for p in range(partitions)}
    out: list[RawPost] = []
    i = 0
    while min(per.values()) < WARMUP_PER_PARTITION:
        pid = f"{template[0].source}:warm{i}"  # stored ids carry the source prefix
        part = zlib.crc32(pid.encode()) % partitions
        if per[part] < WARMUP_PER_PARTITION:
            per[part] += 1
            src = template[len(out) % len(template)]
            out.append(src.model_copy(update={"id": pid, "text": f"{src.text} warm {i}"}))
        i += 1
    return out


def produce(bootstrap: str, topic: str, posts: list[RawPost], errors: list[BaseException]) -> None:
    try:
        with PostProducer(bootstrap, topic=topic) as producer:
            producer.send_many(posts)
            producer.flush(300)
    except BaseException as exc:  # noqa: BLE001 - reported by the caller
        errors.append(exc)


def stored(ch: DriverBackend, prefix: str) -> int:
    rows = ch.query("SELECT uniqExact(id) AS n FROM posts WHERE startsWith(id, {p:String})", {"p": prefix})
    return int(rows[0]["n"])


def wait_stored(ch: DriverBackend, prefix: str, n: int, procs: list[Popen[bytes]], timeout: float,
                every: float = 0.5) -> float:
    """Poll until ``n`` distinct ids starting with ``prefix`` are stored; returns when (``time.time()``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stored(ch, prefix) >= n:
            return time.time()
        dead = [p.pid for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"worker(s) {dead} exited mid-run (see their logs)")
        time.sleep(every)
    raise TimeoutError(f"only {stored(ch, prefix)} of {n} posts stored after {timeout:.0f} s")


# -- one run ------------------------------------------------------------------------------------
def run(n_workers: int, posts: list[RawPost], args: argparse.Namespace, stamp: str, tmp: Path) -> Result:
    """N workers, fresh namespace and database: warm up, then time ``posts`` through the pipeline."""
    host, port = args.clickhouse.rsplit(":", 1)
    ns, db = f"scale{stamp}n{n_workers}", f"hm_scale_{stamp}_n{n_workers}"
    topics = {base: f"{ns}.{base}" for base in (T.RAW_POSTS, T.ENRICHED_POSTS, T.DLQ, T.ALERTS)}
    group, raw = f"{ns}.{T.WORKER_GROUP}", topics[T.RAW_POSTS]
    env = {
        "HYPERMICRO_KAFKA_BOOTSTRAP": args.bootstrap, "HYPERMICRO_TOPIC_NAMESPACE": ns,
        "HYPERMICRO_TOPIC_PARTITIONS": str(args.partitions), "HYPERMICRO_CLICKHOUSE_BACKEND": "server",
        "HYPERMICRO_CLICKHOUSE_HOST": host, "HYPERMICRO_CLICKHOUSE_PORT": port, "HYPERMICRO_CLICKHOUSE_DATABASE": db,
        "HYPERMICRO_WEB_PORT": "0", "HYPERMICRO_FIREHOSE": "true" if args.firehose else "false",
        **({"HYPERMICRO_EMBEDDER": args.embedder} if args.embedder else {}),
    }
    ensure_topics(args.bootstrap, topics.values(), args.partitions)
    ch = DriverBackend(host, int(port), db)
    migrate(ch)  # once, before the workers race to do it
    procs = [start_worker({**env, "HYPERMICRO_WORKER_DATA_DIR": str(tmp / ns / f"w{i}")}, tmp / f"{ns}-w{i}.log")
             for i in range(n_workers)]
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap)
    try:
        parts = wait_assigned(admin, group, raw, n_workers, args.partitions, procs)
        warm = warmup_posts(posts, args.partitions)
        errors: list[BaseException] = []
        produce(args.bootstrap, raw, warm, errors)
        wait_stored(ch, f"{posts[0].source}:warm", len(warm), procs, timeout=300)
        time.sleep(2)  # let the warm-up's commits and timers settle
        cpu0 = [group_cpu_s(p.pid) for p in procs]
        busy0, total0 = machine_jiffies()
        t0 = time.time()
        producer = threading.Thread(target=produce, args=(args.bootstrap, raw, posts, errors))
        producer.start()
        t1 = wait_stored(ch, f"{posts[0].source}:mx", len(posts), procs, timeout=args.timeout_s)
        cpu1 = [group_cpu_s(p.pid) for p in procs]
        busy1, total1 = machine_jiffies()
        producer.join()
        if errors:
            raise errors[0]
        after = assignment(admin, group, raw)
        counts = {int(r["p"]): int(r["n"]) for r in ch.query(
            "SELECT _partition AS p, uniqExact(id) AS n FROM posts WHERE startsWith(id, {p:String}) GROUP BY p",
            {"p": f"{posts[0].source}:mx"})}
        return Result(
            workers=n_workers, posts=len(posts), wall_s=t1 - t0, cpu_s=[b - a for a, b in zip(cpu0, cpu1, strict=True)],
            partitions=parts, stored_by_worker=[sum(counts.get(p, 0) for p in ps) for ps in parts],
            machine_busy=(busy1 - busy0) / max(1, total1 - total0), rebalanced=after != parts,
        )
    finally:
        for p in procs:
            stop_worker(p)
        admin.close()
        if not args.keep:
            ch.execute(f"DROP DATABASE IF EXISTS {db}")
            delete_topics(args.bootstrap, [*topics.values(), f"{group}-__assignor-__leader"])
        ch.close()


def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Best effort: a benchmark leaves no topics behind (a failure only leaves them)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        admin.delete_topics([t for t in names if t in existing])
    except Exception as exc:  # noqa: BLE001 - cleanup must not hide the figures
        print(f"(topics not deleted: {exc!r})", file=sys.stderr)
    finally:
        admin.close()


def report(r: Result) -> None:
    per_worker_cpu = " ".join(f"{c:.1f}" for c in r.cpu_s)
    print(f"workers={r.workers} posts={r.posts} wall_s={r.wall_s:.1f} posts_s={r.posts_s:.0f} "
          f"cpu_s={sum(r.cpu_s):.1f} cpu_s_per_1k={r.cpu_1k:.2f} machine_busy={r.machine_busy:.0%} "
          f"raw_partitions={r.partitions} posts_per_member={r.stored_by_worker} cpu_s_per_worker=[{per_worker_cpu}]"
          + (" REBALANCED_DURING_RUN" if r.rebalanced else ""), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="1,2,3", help="Worker counts to run in turn (comma separated).")
    ap.add_argument("--posts", type=int, default=60_000, help="Posts timed per worker count (the same posts each time).")
    ap.add_argument("--mix", default="0.3:0.1", help="REPOSTS:RELEVANT shares, as in `hypermicro bench pipeline --mix`.")
    ap.add_argument("--firehose", action=argparse.BooleanOptionalAction, default=True,
                    help="Firehose mode in the workers (expensive tags only for posts that mention a brand).")
    ap.add_argument("--embedder", default=None, help="Override the workers' embedder (default from settings).")
    ap.add_argument("--partitions", type=int, default=6, help="Partitions per topic (divisible by 1, 2 and 3).")
    ap.add_argument("--bootstrap", default=os.environ.get("HYPERMICRO_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--clickhouse", default="127.0.0.1:9000", help="clickhouse-server host:port (native protocol).")
    ap.add_argument("--timeout-s", type=float, default=600, help="Give up on a worker count after this long.")
    ap.add_argument("--keep", action="store_true", help="Keep the topics and databases (for inspection).")
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    if not counts or min(counts) < 1 or max(counts) > args.partitions:
        ap.error(f"--workers must be between 1 and --partitions ({args.partitions}): a worker beyond that idles")
    reposts, relevant = (float(x) for x in args.mix.split(":"))
    posts = [RawPost.model_validate(r) for r in mixed(args.posts, reposts, relevant)]
    stamp = f"{int(time.time())}{uuid.uuid4().hex[:4]}"
    print(f"posts={args.posts} mix={args.mix} firehose={args.firehose} embedder={args.embedder or 'settings'} "
          f"partitions={args.partitions} cores={os.cpu_count()} (raw_partitions and posts_per_member: one list "
          "per group member, the Faust leader first; cpu_s: user+sys of all worker processes, end minus start)",
          flush=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        for n in counts:
            try:
                results.append(run(n, posts, args, stamp, Path(tmp)))
            except BaseException:
                for log in sorted(Path(tmp).glob("*.log")):
                    print(f"--- {log.name} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:]),
                          file=sys.stderr)
                raise
            report(results[-1])
    base = results[0]
    print("ratios vs workers=" + str(base.workers) + ": " + " ".join(
        f"workers={r.workers}: cpu_s_per_1k x{r.cpu_1k / base.cpu_1k:.2f} posts_s x{r.posts_s / base.posts_s:.2f}"
        for r in results[1:]), flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the workers on the way out
    main()
