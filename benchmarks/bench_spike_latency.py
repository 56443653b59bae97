"""Alert latency on a live stream: inject negative spikes at known times and measure the delay
from the first spike post being produced to the alert arriving at a local webhook; then run an
equally long stream without injections and count the alerts (target: zero).

    .venv/bin/python benchmarks/bench_spike_latency.py --injections 4 --gap-s 90

Runs a real worker subprocess (default taggers, chDB) against the local Kafka. The detector
needs hours of history, so each run first backfills 8 h of background traffic (event time),
then streams in real time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.core.kafka import PostProducer  # noqa: E402
from pipeline.core.schema import RawPost  # noqa: E402
from pipeline.evaluation.live_stack import WebhookReceiver, start_worker, stop_worker  # noqa: E402

BRANDS = [f"brand{i}" for i in range(6)]
POS = ["Loving my new {b}, works great", "{b} support was quick and kind", "Big thanks to {b} today"]
NEU = ["Anyone tried {b} yet?", "Reading about {b} this morning", "{b} opens a store downtown"]
NEG = ["{b} broke after a day, annoying", "Not happy with {b} lately"]
SPIKE = ["{b} just charged everyone twice, this is a scam and a disgrace",
         "Furious: {b} leaked customer data, absolutely terrible",
         "{b} is lying to customers, worst company ever, boycott"]


def brands_yaml(path: Path) -> None:
    lines = ["brands:"]
    for b in BRANDS:
        lines += [f"  - id: {b}", f"    name: {b.capitalize()}", f"    owner: ops-{b}@example.com"]
    path.write_text("\n".join(lines) + "\n")


def post(i: int, t: datetime, text: str, rng: random.Random) -> RawPost:
    return RawPost.model_validate({"id": f"{i}", "source": "bench", "created_at": t.isoformat(), "text": text,
                                   "lang": "en", "author": {"id": f"a{rng.randrange(3000)}", "followers": 50}})


def background(rng: random.Random, b: str) -> str:
    tmpl = rng.choices([POS, NEU, NEG], weights=[4, 4, 1])[0]
    return rng.choice(tmpl).format(b=b.capitalize())


@dataclass
class Outcome:
    """What one stream gave: the alerted brands, and with injections the delays and the misses."""

    alerts: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)


def run(injections: int, gap_s: float, rate: float, bootstrap: str, inject: bool) -> Outcome:
    rng = random.Random(11 if inject else 12)
    tmp = Path(tempfile.mkdtemp(prefix="hm-spike-"))
    brands_file = tmp / "brands.yaml"
    brands_yaml(brands_file)
    ns = "spk" + uuid.uuid4().hex[:8]
    topic = f"{ns}.social.posts.raw"
    results = Outcome()
    with WebhookReceiver() as hook:
        env = {"HYPERMICRO_KAFKA_BOOTSTRAP": bootstrap, "HYPERMICRO_TOPIC_NAMESPACE": ns,
               "HYPERMICRO_CHDB_PATH": str(tmp / "chdb"), "HYPERMICRO_WORKER_DATA_DIR": str(tmp / "worker"),
               "HYPERMICRO_BRANDS_FILE": str(brands_file), "HYPERMICRO_WEB_PORT": "0",
               "HYPERMICRO_WEBHOOK_URL": hook.url, "HYPERMICRO_DETECT_INTERVAL_S": "5",
               "HYPERMICRO_MODEL_CACHE_DIR": str(REPO / ".data" / "models")}
        proc = start_worker(env, tmp / "worker.log")
        i = 0
        try:
            with PostProducer(bootstrap, linger_ms=5) as producer:
                now = datetime.now(UTC)
                for m in range(8 * 60, 0, -1):  # 8 h of history, ~rate posts/s in event time / 60
                    for _ in range(max(1, int(rate * 60 / 10))):
                        b = rng.choice(BRANDS)
                        t = now - timedelta(minutes=m, seconds=rng.random() * 60)
                        producer.send(post(i, t, background(rng, b), rng), topic=topic)
                        i += 1
                producer.flush(120)
                print(f"backfilled {i} posts of history", flush=True)
                time.sleep(30)  # let the worker load models and catch up
                starts: list[tuple[str, float]] = []
                total_s = injections * gap_s
                t_begin = time.time()
                next_inject = t_begin + 20
                k = 0
                while time.time() - t_begin < total_s + 20:
                    b = rng.choice(BRANDS)
                    producer.send(post(i, datetime.now(UTC), background(rng, b), rng), topic=topic)
                    i += 1
                    if inject and k < injections and time.time() >= next_inject:
                        target = BRANDS[k % len(BRANDS)]
                        starts.append((target, time.time()))
                        for _ in range(40):  # 40 angry posts over ~20 s
                            producer.send(post(i, datetime.now(UTC), rng.choice(SPIKE).format(b=target.capitalize()), rng), topic=topic)
                            i += 1
                            producer.flush(10)
                            time.sleep(0.5)
                        k += 1
                        next_inject += gap_s
                    time.sleep(1.0 / rate)
                producer.flush(60)
            time.sleep(30 + 60 + 120)  # an alert waits for its bucket (60 s) to be final (+ 120 s lateness)
        finally:
            stop_worker(proc)
        arrivals: dict[str, float] = {}
        for r in hook.received:
            body = r["json"]
            if body.get("kind") == "negative_spike":
                arrivals.setdefault(body["subject"]["id"], r["at"])
        results.alerts = [r["json"].get("subject", {}).get("id") for r in hook.received
                          if r["json"].get("kind") == "negative_spike"]
        if inject:
            results.delays = [arrivals[b] - t0 for b, t0 in starts if b in arrivals]
            results.missed = [b for b, _ in starts if b not in arrivals]
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--injections", type=int, default=4)
    ap.add_argument("--gap-s", type=float, default=90)
    ap.add_argument("--rate", type=float, default=4.0, help="background posts per second")
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = ap.parse_args()
    spiked = run(args.injections, args.gap_s, args.rate, args.bootstrap, inject=True)
    control = run(args.injections, args.gap_s, args.rate, args.bootstrap, inject=False)
    delays = sorted(spiked.delays)
    print(json.dumps({"spiked": asdict(spiked), "control": asdict(control)}, default=str))
    if delays:
        p95 = delays[min(len(delays) - 1, int(round(0.95 * (len(delays) - 1))))]
        print(f"delays_s={[round(d, 1) for d in delays]} missed={spiked.missed}")
        print(f"p50_delay_s={statistics.median(delays):.1f} p95_delay_s={p95:.1f} "
              f"detected={len(delays)}/{args.injections} control_alerts={len(control.alerts)}")
    else:
        print(f"p50_delay_s=nan p95_delay_s=nan detected=0/{args.injections} control_alerts={len(control.alerts)}")


if __name__ == "__main__":
    main()
