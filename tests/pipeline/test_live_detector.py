"""The live detector loop over per-minute aggregates in chDB: a planted spike alerts once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.detect.live import LiveDetector
from pipeline.schema import Alert, BrandMention, EnrichedPost, RawPost, Sentiment
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository

T0 = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)


def post(i: int, minute: int, label: str) -> EnrichedPost:
    raw = RawPost.model_validate({"id": str(i), "source": "t", "created_at": (T0 + timedelta(minutes=minute, seconds=i % 50)).isoformat(),
                                  "text": "nimbus", "author": {"id": f"a{i}"}})
    return EnrichedPost(post=raw, sentiment=Sentiment(label=label),
                        brands=[BrandMention(brand_id="nimbus", matched_text="nimbus", start=0, end=6, rule="name", sentiment=label)])


async def test_spike_in_aggregates_raises_one_alert(tmp_path: Path) -> None:
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    rows, i = [], 0
    for minute in range(8 * 60):  # 8 h of quiet traffic: ~3 posts/min, 1 negative every 4 min
        for k in range(3):
            rows.append(post(i, minute, "negative" if (k == 0 and minute % 4 == 0) else "positive"))
            i += 1
    for minute in range(8 * 60, 8 * 60 + 5):  # the spike: 30 negatives a minute
        rows += [post(i + k, minute, "negative") for k in range(30)]
        i += 30
    for minute in range(8 * 60 + 5, 8 * 60 + 10):  # back to normal, so the spike minutes become final
        rows += [post(i + k, minute, "positive") for k in range(3)]
        i += 3
    repo.insert_posts(rows)
    published: list[Alert] = []

    async def repo_factory() -> Repository:
        return repo

    async def publish(alert: Alert) -> None:
        published.append(alert)

    live = LiveDetector(repo_factory, publish)
    await live.tick()
    await live.tick()  # a second pass over the same data raises nothing new
    assert len(published) == 1
    alert = published[0]
    assert alert.subject.id == "nimbus" and alert.kind == "negative_spike"
    assert alert.window.start >= T0 + timedelta(hours=8)
    assert alert.observed >= 20 and alert.expected < 2
    assert alert.evidence.post_ids and alert.evidence.negative_share and alert.evidence.negative_share > 0.9
    assert ch.query("SELECT count() AS n FROM alerts")[0]["n"] == 1
    ch.close()
