#!/usr/bin/env bash
# Start the no-Docker local stack: Kafka (KRaft) on 127.0.0.1:${KAFKA_PORT:-9092} and
# clickhouse-server on 127.0.0.1:${CLICKHOUSE_PORT:-9000}. Idempotent; returns once both answer.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/kafka.sh" start
"$HERE/clickhouse.sh" start
"$HERE/kafka.sh" status
"$HERE/clickhouse.sh" status
