"""One ClickHouse interface, two backends: embedded chDB and clickhouse-driver (server).

SQL is written once with ClickHouse's typed placeholders ``{name:Type}``; the driver backend
rewrites them to the driver's client-side escaped ``%(name)s`` form so old servers work too.
Values are never formatted into SQL by hand.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from pipeline.core.settings import Settings

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Row = dict[str, Any]


class StorageError(RuntimeError):
    """A ClickHouse operation failed. ``retryable`` is True for outages and timeouts."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ClickHouse(Protocol):
    """What the storage floor needs from ClickHouse (everything above it goes through the Repository)."""

    name: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, INSERT ... SELECT)."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a SELECT; rows as dicts, DateTime columns as aware UTC datetimes."""
        ...

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows (dicts with the same keys) into ``table``; returns the count written.

        Returns only after ClickHouse acknowledged the insert.
        """
        ...

    def server_version(self) -> tuple[int, ...]:
        """ClickHouse version as a tuple of ints."""
        ...

    def close(self) -> None:
        """Release the session or connection; the backend is not used afterwards."""
        ...


def check_identifier(name: str) -> str:
    """Table/column names cannot be parameters; allow only plain identifiers."""
    if not _IDENT.match(name):
        raise ValueError(f"invalid identifier: {name!r}")
    return name


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, datetime):
        return "'" + _to_chdb_literal(value) + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_quote(v) for v in value) + "]"
    if value is None:
        return "NULL"
    return str(value)


def _to_chdb_literal(value: Any) -> str:
    """Text form of a query parameter, as ClickHouse's parameter parser expects it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple)):
        return _quote(list(value))
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):  # parameters are parsed in TSV-escaped form
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


def _utc_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value[:19]).replace(tzinfo=UTC)


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, str) else value


def _converter(ch_type: str) -> Callable[[Any], Any] | None:
    """How a JSON value of ``ch_type`` becomes Python (None: as JSON gives it): DateTime to an aware
    datetime, 64/128-bit integers (quoted in JSON) to int, arrays element-wise."""
    base = ch_type
    while base.startswith(("Nullable(", "LowCardinality(")):
        base = base[base.index("(") + 1 : -1]
    if base.startswith("DateTime"):
        return _utc_datetime
    if base.startswith(("UInt64", "Int64", "UInt128", "Int128")):
        return _int
    if base.startswith("Array("):
        inner = _converter(base[6:-1])
        if inner is None:
            return None
        return lambda v: [None if x is None else inner(x) for x in v] if isinstance(v, list) else v
    return None


class _DriverClient(Protocol):
    """What :class:`DriverBackend` uses of ``clickhouse_driver.Client`` (the library is untyped)."""

    def execute(self, query: str, params: Any = None, **kw: Any) -> Any: ...

    def disconnect(self) -> None: ...


class ChdbBackend:
    """Embedded ClickHouse (chDB). One process owns a data path; calls are serialised."""

    name = "chdb"

    def __init__(self, path: Path, database: str) -> None:
        from chdb import session  # heavy import

        path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._database = check_identifier(database)
        self._session = session.Session(str(path))
        self._session.query(f"CREATE DATABASE IF NOT EXISTS {self._database}")
        self._session.query(f"USE {self._database}")
        self._session.query("SET output_format_json_quote_64bit_integers = 0")

    def _run(self, sql: str, fmt: str, params: Mapping[str, Any] | None) -> bytes:
        """The statement's output in ``fmt``."""
        bound = {k: _to_chdb_literal(v) for k, v in (params or {}).items()}
        with self._lock:
            try:
                res = self._session.query(sql, fmt, params=bound) if bound else self._session.query(sql, fmt)
            except Exception as exc:  # chdb raises RuntimeError with the server message
                raise StorageError(f"chdb: {exc}", retryable=False) from exc
        return res.bytes() if hasattr(res, "bytes") else bytes(res)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, "CSV", params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        raw = self._run(sql, "JSON", params)
        if not raw.strip():
            return []
        doc = orjson.loads(raw)
        rows: list[Row] = doc.get("data", [])
        convert = [(m["name"], c) for m in doc.get("meta", []) if (c := _converter(m["type"])) is not None]
        for row in rows:  # only the columns that need it, each with its converter chosen once
            for name, c in convert:
                v = row.get(name)
                if v is not None:
                    row[name] = c(v)
        return rows

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        body = b"\n".join(orjson.dumps(dict(r), default=_json_default) for r in rows)
        sql = f"INSERT INTO {check_identifier(table)} FORMAT JSONEachRow\n" + body.decode()
        self._run(sql, "CSV", None)
        return len(rows)

    def server_version(self) -> tuple[int, ...]:
        v = self.query("SELECT version() AS v")[0]["v"]
        return tuple(int(x) for x in v.split(".") if x.isdigit())

    def close(self) -> None:
        with self._lock:
            self._session.close()


class DriverBackend:
    """ClickHouse server over the native protocol (clickhouse-driver); reconnects by itself."""

    name = "server"

    def __init__(
        self, host: str, port: int, database: str, user: str = "default", password: str = "",
        connect_timeout: float = 5.0, send_receive_timeout: float = 30.0,
    ) -> None:
        self._database = check_identifier(database)
        self._kw: dict[str, str | int | float] = dict(
            host=host, port=port, user=user, password=password,
            connect_timeout=connect_timeout, send_receive_timeout=send_receive_timeout,
        )
        self._lock = threading.RLock()
        self._client: _DriverClient | None = None

    def _connect(self) -> _DriverClient:
        from clickhouse_driver import Client

        if self._client is None:
            bootstrap = Client(**self._kw)
            try:
                bootstrap.execute(f"CREATE DATABASE IF NOT EXISTS {self._database}")
            finally:
                bootstrap.disconnect()
            self._client = Client(database=self._database, **self._kw)
        return self._client

    @staticmethod
    def _rewrite(sql: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name, typ = m.group(1), m.group(2).strip()
            if typ.startswith("DateTime"):  # typed, so old servers' index analysis sees a DateTime
                return f"toDateTime(%({name})s)"
            return f"%({name})s"

        return _PLACEHOLDER.sub(sub, sql.replace("%", "%%"))

    def _call(self, sql: str, params: Any = None, **kw: Any) -> Any:
        """The driver's answer to ``sql`` (rows, or rows and column types): the driver boundary."""
        from clickhouse_driver import errors

        with self._lock:
            try:
                return self._connect().execute(sql, params, **kw)
            except (errors.NetworkError, errors.SocketTimeoutError, EOFError, OSError) as exc:
                self._drop()
                raise StorageError(f"clickhouse server unreachable: {exc}", retryable=True) from exc
            except errors.ServerException as exc:
                raise StorageError(f"clickhouse server: {exc}", retryable=False) from exc
            except errors.Error as exc:
                self._drop()
                raise StorageError(f"clickhouse driver: {exc}", retryable=True) from exc

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001 - best effort on an already broken connection
                log.debug("disconnect failed", exc_info=True)
            self._client = None

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        if params:
            self._call(self._rewrite(sql), dict(params))
        else:
            self._call(sql)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        if params:
            rows, cols = self._call(self._rewrite(sql), dict(params), with_column_types=True)
        else:
            rows, cols = self._call(sql, with_column_types=True)
        names = [c[0] for c in cols]
        out = []
        for r in rows:
            row = dict(zip(names, r, strict=True))
            for k, v in row.items():
                if isinstance(v, datetime) and v.tzinfo is None:
                    row[k] = v.replace(tzinfo=UTC)
            out.append(row)
        return out

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        cols = list(rows[0].keys())
        sql = f"INSERT INTO {check_identifier(table)} ({', '.join(check_identifier(c) for c in cols)}) VALUES"
        self._call(sql, [tuple(r[c] for c in cols) for r in rows])
        return len(rows)

    def server_version(self) -> tuple[int, ...]:
        v = self.query("SELECT version() AS v")[0]["v"]
        return tuple(int(x) for x in v.split(".") if x.isdigit())

    def close(self) -> None:
        with self._lock:
            self._drop()


def connect(settings: Settings) -> ClickHouse:
    """Open the backend chosen in settings."""
    if settings.clickhouse_backend == "chdb":
        return ChdbBackend(settings.chdb_path, settings.clickhouse_database)
    return DriverBackend(
        settings.clickhouse_host, settings.clickhouse_port, settings.clickhouse_database,
        settings.clickhouse_user, settings.clickhouse_password.get_secret_value(),
    )


def dumps(value: Any) -> str:
    """JSON text for a ``payload`` column."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def whole_seconds(value: datetime) -> datetime:
    """``value`` at ClickHouse ``DateTime`` precision (microseconds dropped)."""
    return value.replace(microsecond=0)
