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
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log routine INFO (connections, metadata, rebalances, exports) a user cannot act on.
QUIET_LIBRARIES = (
    "kafka", "aiokafka", "faust", "mode", "onnxruntime", "onnx", "optimum", "transformers",
    "sentence_transformers", "torch", "httpx", "httpcore", "urllib3", "uvicorn", "uvicorn.access",
    "uvicorn.error", "clickhouse_driver", "filelock", "huggingface_hub", "asyncio", "spacy",
)


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


def configure_logging(level: str = "INFO", json_lines: bool = False, libraries_level: str = "WARNING") -> None:
    """Configure the root logger once: one handler on stderr, one format, quiet libraries."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if json_lines else {"format": FORMAT}
    )
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"level": libraries_level, "propagate": True} for name in QUIET_LIBRARIES},
    })
