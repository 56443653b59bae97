"""Apply numbered migrations forwards (or roll back) and record them in ``schema_migrations``."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
import time
from dataclasses import dataclass
from types import ModuleType

from pipeline.core.clock import utc_now
from pipeline.storage import migrations
from pipeline.storage.backend import ClickHouse, StorageError

log = logging.getLogger(__name__)
_NAME = re.compile(r"^m(\d{4})_(\w+)$")
_COLUMN_DDL = re.compile(r"^\s*ALTER TABLE (\w+) (ADD|DROP) COLUMN (\w+)\b", re.IGNORECASE)

LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32, name String, status String, applied_at DateTime('UTC'), seq UInt64
) ENGINE = MergeTree() ORDER BY (version, seq)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    forwards: tuple[str, ...]
    backwards: tuple[str, ...]
    min_server_version: tuple[int, ...] = ()

    @classmethod
    def from_module(cls, module: ModuleType, version: int, name: str) -> Migration:
        return cls(
            version, name, tuple(module.FORWARDS), tuple(module.BACKWARDS),
            tuple(getattr(module, "MIN_SERVER_VERSION", ())),
        )


def discover() -> list[Migration]:
    """All migrations in version order; versions must be unique and contiguous from 1."""
    found = []
    for info in pkgutil.iter_modules(migrations.__path__):
        m = _NAME.match(info.name)
        if m:
            module = importlib.import_module(f"{migrations.__name__}.{info.name}")
            found.append(Migration.from_module(module, int(m.group(1)), m.group(2)))
    found.sort(key=lambda x: x.version)
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise RuntimeError(f"migration versions must be 1..n without gaps, found {[m.version for m in found]}")
    return found


def applied(ch: ClickHouse) -> dict[int, str]:
    ch.execute(LEDGER)
    rows = ch.query("SELECT version, argMax(status, seq) AS status FROM schema_migrations GROUP BY version")
    return {int(r["version"]): r["status"] for r in rows}


def migrate(ch: ClickHouse, target: int | None = None) -> list[str]:
    """Bring the schema to ``target`` (default: latest). Returns what was done, one line each."""
    done: list[str] = []
    state = applied(ch)
    all_migrations = discover()
    target = all_migrations[-1].version if target is None else target
    version = ch.server_version()
    for mig in all_migrations:
        current = state.get(mig.version) in ("applied", "skipped")
        if mig.version <= target and not current:
            if mig.min_server_version and version < mig.min_server_version:
                log.warning("skipping migration %04d_%s: needs ClickHouse >= %s, server is %s",
                            mig.version, mig.name, mig.min_server_version, version)
                status = "skipped"
            else:
                for stmt in mig.forwards:
                    _execute(ch, stmt)
                status = "applied"
            _record(ch, mig, status)
            done.append(f"{status} {mig.version:04d}_{mig.name}")
    for mig in reversed(all_migrations):
        if mig.version > target and state.get(mig.version) in ("applied", "skipped"):
            if state.get(mig.version) == "applied":
                for stmt in mig.backwards:
                    _execute(ch, stmt)
            _record(ch, mig, "rolled_back")
            done.append(f"rolled back {mig.version:04d}_{mig.name}")
    return done


def _execute(ch: ClickHouse, stmt: str) -> None:
    """Run one DDL statement; an ``ALTER TABLE t ADD|DROP COLUMN c`` that fails because ``c`` is
    already there|gone counts as done.

    ClickHouse 18.16 has no ``ADD COLUMN IF NOT EXISTS``, and two processes starting on a fresh
    database (scaled-out workers) may both migrate: the second must not fail on the first's work.
    """
    try:
        ch.execute(stmt)
    except StorageError:
        m = _COLUMN_DDL.match(stmt)
        if m is None or not _in_effect(ch, *m.groups()):
            raise
        log.info("migration statement already in effect (another process ran it), skipped: %s", stmt.strip())


def _in_effect(ch: ClickHouse, table: str, action: str, column: str) -> bool:
    """Whether ``ALTER TABLE table ADD|DROP COLUMN column`` has nothing left to do."""
    exists = bool(ch.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "AND name = {c:String}", {"t": table, "c": column}))
    return exists == (action.upper() == "ADD")


def _record(ch: ClickHouse, mig: Migration, status: str) -> None:
    ch.insert("schema_migrations", [
        {"version": mig.version, "name": mig.name, "status": status, "applied_at": utc_now(whole_seconds=True),
         "seq": time.time_ns()}
    ])
