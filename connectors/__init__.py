"""Connectors: bring posts from sources into Kafka as RawPost JSON.

- :mod:`pipeline.core.kafka`: ``PostProducer`` (kafka-python, idempotent) and ``ensure_topics``.
- :mod:`connectors.file_replay`: ``replay_file`` (JSONL/CSV, time-warped replay).
- :mod:`connectors.base`: the connector contract (``ConnectorSpec``, ``Connector``, ``Stream``).
- :mod:`connectors.runner`: ``run_connector`` (checkpoints after Kafka acks, dedupe, shutdown);
  :mod:`connectors.stream_runner` drives one stream, :mod:`connectors.run_types` holds options and results.
- :mod:`connectors.testing`: fixture servers and the ``contract_tests`` suite.
- :mod:`connectors.sources`: built-in connectors; :mod:`connectors.registry`: discovery.

See docs/connectors.md.
"""
