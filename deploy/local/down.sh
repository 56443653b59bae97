#!/usr/bin/env bash
# Stop the no-Docker local stack (data under ${HYPERMICRO_VAR:-<repo>/.var} is kept). Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rc=0
"$HERE/kafka.sh" stop || rc=$?
"$HERE/clickhouse.sh" stop || rc=$?
exit "$rc"
