"""A connector run end to end into the real local Kafka: `hypermicro connect NAME --config`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from connectors.cli import connect_command
from connectors.testing import FixtureServer, Reply, Request, status
from pipeline.core.schema import DeadLetter, RawPost

pytestmark = pytest.mark.kafka

ITEMS = [{"id": f"item-{i}", "url": f"https://blog.example/{i}", "content_text": f"acme news {i}",
          "date_published": f"2024-05-01T12:{i:02d}:00Z", "authors": [{"name": "ed"}]} for i in range(12, 0, -1)]


def feed(req: Request) -> Reply:
    if req.path != "/feed.json":
        return status(404)
    items = [*ITEMS, {"id": "broken", "date_published": "2024-05-01T11:00:00Z"}]  # no text: dead-lettered
    return Reply.json({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items})


def test_connect_command_produces_to_kafka_and_resumes(kafka_bootstrap: str, topic: str, consume,  # noqa: ANN001
                                                       tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(connect_command)
    with FixtureServer(feed) as srv:
        cfg = tmp_path / "jsonfeed.yaml"
        cfg.write_text(f"feed_url: {srv.url}/feed.json\nbootstrap: {kafka_bootstrap}\ntopic: {topic}\n"
                       f"dlq_topic: {topic}.dlq\nstate_dir: {tmp_path / 'state'}\n")
        res = CliRunner().invoke(app, ["jsonfeed", "--config", str(cfg), "--once"])
        assert res.exit_code == 0, res.output
        assert "posts=12 duplicates=0 invalid=1" in res.output
        state = json.loads((tmp_path / "state" / "jsonfeed" / "items.json").read_text())
        assert state["cursor"] == "2024-05-01T12:12:00Z" and len(state["seen"]) == 13

        res = CliRunner().invoke(app, ["jsonfeed", "--config", str(cfg), "--once"])
        assert res.exit_code == 0, res.output
        assert "posts=0" in res.output

    msgs = consume(topic, 12)
    posts = [RawPost.model_validate_json(m.value) for m in msgs]
    assert [p.id for p in posts] == [f"jsonfeed:item-{i}" for i in range(1, 13)]
    assert [m.key for m in msgs] == [p.id.encode() for p in posts]
    (letter,) = [DeadLetter.model_validate_json(m.value) for m in consume(topic + ".dlq", 1)]
    assert letter.stage == "connector" and b"broken" in __import__("base64").b64decode(letter.original_b64)
