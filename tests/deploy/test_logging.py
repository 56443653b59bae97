"""One logging configuration: quiet libraries, one format, JSON lines on request."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from pipeline.core.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    yield
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


def _site_packages_record(level: int, msg: str) -> logging.LogRecord:
    """What ``logging.info(...)`` inside onnxruntime's quantizer creates (it logs to the root logger)."""
    return logging.LogRecord("root", level, "/venv/lib/python3.11/site-packages/onnxruntime/quantization/onnx_quantizer.py",
                             1, msg, None, None)


def test_libraries_log_warnings_only_and_ours_info(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=False)
    logging.getLogger("kafka.net.connection").info("Connected")
    logging.getLogger("aiokafka.consumer").info("Joined group")
    logging.getLogger("kafka.cluster").warning("metadata is stale")
    logging.getLogger("pipeline.runtime.app").info("worker started")
    for handler in logging.getLogger().handlers:
        handler.handle(_site_packages_record(logging.INFO, 'Quantization parameters for tensor:"x" not specified'))
        handler.handle(_site_packages_record(logging.WARNING, "Please consider to run pre-processing before quantization."))
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
    lines = capsys.readouterr().err.splitlines()
    assert [ln.split(" ", 2)[2] for ln in lines] == [
        "WARNING kafka.cluster: metadata is stale", "INFO pipeline.runtime.app: worker started"]


def test_json_lines(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=True)
    logging.getLogger("pipeline.sink").warning("retrying insert (%d)", 2)
    (line,) = capsys.readouterr().err.splitlines()
    doc = json.loads(line)
    assert doc["level"] == "WARNING" and doc["logger"] == "pipeline.sink" and doc["message"] == "retrying insert (2)"
