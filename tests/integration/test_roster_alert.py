"""A rostered voice posts negatively about a brand → its owner gets an alert with the post text
within a detector pass (real broker, real worker, the alert dispatcher's webhook channel routed
to the owner)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.core.kafka import PostProducer
from pipeline.core.roster import Voice
from pipeline.core.schema import RawPost
from pipeline.evaluation.live_stack import WebhookReceiver, start_worker, stop_worker
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.roster import RosterStore
from tests.integration.harness import wait_until
from tests.integration.test_pipeline_e2e import worker_env

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
INTERVAL_S = 5
NEGATIVE = "Nimbus Air lost my bag again and the staff were rude. Terrible, awful service, I hate it."


def _post(pid: str, author: str, text: str) -> RawPost:
    return RawPost.model_validate({"id": pid, "source": "mastodon", "created_at": datetime.now(UTC).isoformat(),
                                   "text": text, "author": {"id": author, "handle": author + "_handle"}})


def test_owner_is_alerted_when_their_voice_turns_negative(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    migrate(ch)
    RosterStore(ch).save_voice(Voice(voice_id="mastodon:v1", accounts=["mastodon:v1"], handles=["@v1_handle"],
                                     owner="alice", stage="listening", brands=["nimbus"]), "alice", "added")
    ch.close()
    with WebhookReceiver() as alice, WebhookReceiver() as desk:
        routes = tmp_path / "routes.yaml"
        routes.write_text(f"default_owner: pr-desk\nroutes:\n  alice:\n    destinations:\n"
                          f"      - channel: webhook\n        to: ['{alice.url}']\n", encoding="utf-8")
        env = worker_env(namespace, tmp_path, kafka_bootstrap, HYPERMICRO_EMBEDDER="hash",
                         HYPERMICRO_SENTIMENT_MODEL="vader", HYPERMICRO_DETECT_INTERVAL_S=str(INTERVAL_S),
                         HYPERMICRO_WEBHOOK_URL=desk.url, HYPERMICRO_WEBHOOK_SECRET="s3cret",
                         HYPERMICRO_ALERT_ROUTES_FILE=str(routes))
        proc = start_worker(env, tmp_path / "worker.log")
        try:
            with PostProducer(kafka_bootstrap) as producer:
                topic = f"{namespace}.social.posts.raw"
                producer.send(_post("p0", "v1", "Flew Nimbus Air today, lovely crew and great coffee."), topic)
                producer.send(_post("p1", "stranger", NEGATIVE), topic)  # not rostered
                sent = time.time()
                producer.send(_post("p2", "v1", NEGATIVE), topic)
                producer.flush()
            wait_until(lambda: proc.poll() is not None or any(_is_voice_alert(r) for r in alice.received),
                       timeout=120, what="the owner's alert")
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(2 * INTERVAL_S)  # later passes must not repeat it
        finally:
            stop_worker(proc)
    got = [r for r in alice.received if _is_voice_alert(r)]
    assert len(got) == 1
    alert = got[0]["json"]
    assert alert["owners"] == ["alice"] and alert["subject"] == {"kind": "author", "id": "mastodon:v1",
                                                                   "brand_id": "nimbus", "topic_id": None}
    assert NEGATIVE in alert["explanation"] and alert["evidence"]["samples"][0]["text"] == NEGATIVE
    assert alert["evidence"]["post_ids"] == ["mastodon:p2"]
    # stored, tagged and judged within a minute of being posted (batching + one detector pass)
    assert got[0]["at"] - sent < 60, got[0]["at"] - sent
    assert not any(_is_voice_alert(r) for r in desk.received if r["json"]["owners"] != ["alice"])


def _is_voice_alert(record: dict) -> bool:  # type: ignore[type-arg]
    return record["json"].get("kind") == "voice_negative"

