"""``hypermicro replay`` and ``hypermicro connect`` write where a namespaced worker reads (real Kafka)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.core.topics import DLQ, RAW_POSTS

pytestmark = pytest.mark.kafka


def _cli() -> typer.Typer:
    from connectors.cli import connect_command, replay_command

    app = typer.Typer()
    app.command("replay")(replay_command)
    app.command("connect")(connect_command)
    return app


def _posts(path: Path, n: int) -> Path:
    rows = [json.dumps({"id": f"ns-{i}", "source": "test", "text": f"post {i}", "created_at": f"2024-05-01T12:00:{i:02d}Z",
                        "author": {"id": "a1", "handle": "h1", "followers": 1}}) for i in range(n)]
    path.write_text("\n".join([*rows, '{"not": "a post"}']) + "\n")
    return path


def test_replay_and_connect_honour_the_topic_namespace(
    consume, kafka_bootstrap: str, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERMICRO_TOPIC_NAMESPACE", namespace)
    monkeypatch.setenv("HYPERMICRO_KAFKA_BOOTSTRAP", kafka_bootstrap)
    f = _posts(tmp_path / "posts.jsonl", 5)
    runner = CliRunner()
    res = runner.invoke(_cli(), ["replay", str(f), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "sent=5 invalid=1 dead_lettered=1" in res.output

    (tmp_path / "file.yaml").write_text("path: posts.jsonl\nprogress: false\nlimit: 3\n")
    res = runner.invoke(_cli(), ["connect", "file", "--config", str(tmp_path / "file.yaml")])
    assert res.exit_code == 0, res.output

    assert len(consume(f"{namespace}.{RAW_POSTS}", 8)) == 8  # 5 replayed + 3 connected
    assert len(consume(f"{namespace}.{DLQ}", 1)) == 1


def test_a_topic_already_carrying_the_namespace_is_not_prefixed_twice(
    consume, kafka_bootstrap: str, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERMICRO_TOPIC_NAMESPACE", namespace)
    f = _posts(tmp_path / "posts.jsonl", 2)
    res = CliRunner().invoke(_cli(), ["replay", str(f), "--bootstrap", kafka_bootstrap, "--no-dlq",
                                      "--topic", f"{namespace}.custom", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert len(consume(f"{namespace}.custom", 2)) == 2
