"""One logging configuration for every ``hypermicro`` process (``logging.config.dictConfig``).

Our own loggers log at the chosen level; chatty third-party libraries (Kafka clients, Faust,
ONNX Runtime, HTTP clients, uvicorn, the model toolchain) only from WARNING up, so a user sees
what hypermicro does rather than what its libraries do. ``json=True`` writes one JSON object per
line for log shippers.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log routine INFO (connections, metadata, rebalances, exports) a user cannot act on.
QUIET_LIBRARIES = (
    "kafka", "aiokafka", "faust", "mode", "onnxruntime", "onnx", "optimum", "transformers",
    "sentence_transformers", "torch", "httpx", "httpcore", "urllib3", "uvicorn", "uvicorn.access",
    "uvicorn.error", "clickhouse_driver", "filelock", "huggingface_hub", "asyncio", "spacy",
)


# aiokafka logs these at ERROR while it retries them itself (a new consumer group on a fresh broker
# always meets them once); if they persist, the consumer fails with its own error.
RETRIED_KAFKA_ERRORS = ("GroupCoordinatorNotAvailable", "NotCoordinator", "CoordinatorLoadInProgress")


class LibraryNoiseFilter(logging.Filter):
    """Drop routine records libraries send to the *root* logger or report as errors they retry.

    Some libraries (ONNX Runtime's quantizer: ~36 INFO lines per model build) log through
    ``logging.info`` instead of a named logger, so no logger level can quiet them.
    """

    def __init__(self, level: str = "WARNING", drop: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.level = logging.getLevelName(level.upper())
        self.drop = drop

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "root" and "site-packages" in record.pathname:
            if record.levelno < self.level:
                return False
            if "onnxruntime" in record.pathname and record.levelno == logging.WARNING:
                return False  # the quantizer's advice to pre-process: our export already is the graph we want
        message = record.getMessage()
        if any(d in message for d in self.drop):
            return False
        return not (record.name.startswith("aiokafka") and any(e in message for e in RETRIED_KAFKA_ERRORS))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message (+ exc when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


_chosen = {"json_lines": False}


def configure_logging(level: str = "INFO", json_lines: bool | None = None, libraries_level: str = "WARNING",
                      drop: tuple[str, ...] = ()) -> None:
    """Configure the root logger: one handler on stderr, one format, quiet libraries.

    ``json_lines=None`` keeps the format chosen by the previous call (a command that quietens its
    own output keeps ``--log-json``); records whose message contains a string in ``drop`` are not shown.
    """
    json_lines = _chosen["json_lines"] if json_lines is None else json_lines
    _chosen["json_lines"] = json_lines
    # Hugging Face progress bars ("Loading weights 103/103") are read at import: set before any model loads.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if json_lines else {"format": FORMAT}
    )
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"libraries": {"()": f"{__name__}.LibraryNoiseFilter", "level": libraries_level, "drop": drop}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["libraries"],
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"level": libraries_level} for name in QUIET_LIBRARIES},
    })
