"""Settings for every deployable, from env (prefix ``HYPERMICRO_``) or a ``.env`` file.

Never read at import time: call :func:`load_settings` at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

ENV_PREFIX = "HYPERMICRO_"
PACKAGE_CONFIG = Path(__file__).resolve().parent.parent / "config"
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]{1,200}")


class ApiToken(BaseModel):
    """One person's API access key (``HYPERMICRO_API_TOKENS`` is a JSON list of these)."""

    name: str = Field(min_length=1, max_length=100, description="The person, recorded with what they do (e.g. who acknowledged).")
    token: SecretStr = Field(description="The secret access key (at least 16 characters; never logged).")
    scope: Literal["read", "act", "admin"] = Field("read", description="read < act (acknowledge, manage own) < admin.")

    @field_validator("name")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.strip() or any(ord(c) < 32 for c in v):
            raise ValueError("must be a printable, non-blank name")
        return v.strip()

    @field_validator("token")
    @classmethod
    def _long(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return v


class Settings(BaseSettings):
    """Worker, API and detector settings."""

    # env_ignore_empty: an empty variable means "default", so a deployment can pass every setting
    # through (``HYPERMICRO_X: ${HYPERMICRO_X:-}`` in compose) without overriding defaults.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", env_ignore_empty=True)

    # --- Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    topic_namespace: str = Field("", description="Optional prefix for every topic and the consumer group (isolates demos/tests/tenants).")
    topic_partitions: int = Field(4, ge=1, description="Partitions for topics the app creates.")
    topic_replication: int = Field(1, ge=1, description="Replication factor for created topics.")

    # --- ClickHouse
    clickhouse_backend: Literal["chdb", "server"] = Field("chdb", description="chdb (embedded) or server (clickhouse-driver).")
    chdb_path: Path = Field(Path(".data/chdb"), description="Data directory owned by the embedded chDB process.")
    clickhouse_host: str = Field("127.0.0.1", description="ClickHouse server host (server backend).")
    clickhouse_port: int = Field(9000, description="ClickHouse native-protocol port (server backend).")
    clickhouse_user: str = Field("default", description="ClickHouse user.")
    clickhouse_password: SecretStr = Field(SecretStr(""), description="ClickHouse password.")
    clickhouse_database: str = Field("hypermicro", description="Database holding hypermicro tables.")

    # --- Worker
    worker_data_dir: Path = Field(Path(".data/worker"), description="Faust table/state directory.")
    web_port: int = Field(6066, description="Faust worker's own web port (0 disables).")
    metrics_port: int = Field(0, ge=0, description="Serve Prometheus metrics of a worker without --api on this port (0 = off).")
    metrics_host: str = Field("127.0.0.1", description="Bind address of the worker's metrics port (0.0.0.0 in a container).")
    batch_max: int = Field(256, ge=1, description="Max posts per enrich batch (take_batches max).")
    batch_within_s: float = Field(0.2, gt=0, description="Max seconds each stage (tagging, storing) waits to fill a batch: a small share of the 2 s produce->queryable target, leaving room to absorb stalls; a slow stream gets up to 5 small inserts a second (raise it for a busy shared ClickHouse server).")
    sink_batch_max: int = Field(5000, ge=1, description="Max posts per ClickHouse insert (each insert has a fixed cost: a 4096-post insert costs ~7x less CPU per post than a 256-post one).")
    tag_cache_size: int = Field(20_000, ge=0, description="Reposts/copies of a text seen among the last N distinct texts reuse its tags (0 = off).")
    firehose: bool = Field(False, description="Run the encoder, sentiment and topics only on posts that mention a tracked brand (others: language + brand scan, sentiment 'unscored').")
    sink_retry_max_s: float = Field(30.0, gt=0, description="Cap of the sink's retry backoff.")
    shutdown_batch_timeout_s: float = Field(30.0, gt=0, description="On stop, wait this long for the in-flight batch; else exit without committing.")
    dlq_max_invalid_ratio: float = Field(0.5, gt=0, le=1, description="Stop if this share of a window is invalid.")
    dlq_max_consecutive: int = Field(1000, ge=1, description="Stop after this many invalid messages in a row.")
    post_max_future_s: float = Field(300.0, ge=0, description="Dead-letter posts dated more than this many seconds in the future (clock drift allowance; see pipeline/core/bounds.py).")
    post_max_age_days: float = Field(7305.0, gt=0, description="Dead-letter posts older than this many days (20 years: replays of real history pass, epoch/0001 dates do not).")

    # --- Models
    brands_file: Path = Field(PACKAGE_CONFIG / "brands.yaml", description="Brand definitions (YAML).")
    topics_file: Path = Field(PACKAGE_CONFIG / "topics.yaml", description="Topic taxonomy (YAML).")
    embedder: str = Field("onnx-minilm", description="Embedder name from the model registry.")
    encoder_threads: int = Field(1, ge=1, description="Threads of the encoder's matrix products in each worker. One: the encoder shares the worker's cores with Kafka, the sink and the event loop, and a second thread mostly waits for a core they hold (docs/deploy.md). On more cores, run more workers, or raise it.")
    sentiment_model: str = Field("default", description="Sentiment scorer name from the model registry.")
    model_cache_dir: Path = Field(Path(".data/models"), description="Where locally built model artifacts (ONNX export) live.")

    # --- Detection
    spike_subject_kinds: list[str] = Field(["brand"], description="Subject kinds watched for negative spikes: brand, topic, brand_topic.")
    spike_lateness_s: int = Field(120, ge=0, description="Event-time lateness before a minute is final for the detector.")
    detect_interval_s: float = Field(10.0, gt=0, description="Seconds between spike-detector runs on the leader.")
    spike_bucket_s: int = Field(60, ge=10, description="Bucket width of the per-brand counts the detector reads.")
    spike_ratio: float = Field(3.0, gt=1, description="Negative-spike sensitivity: negative mentions at least this many times the usual rate (per brand: brands file 'sensitivity').")
    spike_excess_per_hour: float = Field(10.0, gt=0, description="... and at least this many more an hour than usual.")

    # --- Alerts
    webhook_url: str | None = Field(None, description="Generic webhook receiving every alert as JSON.")
    webhook_secret: SecretStr = Field(SecretStr(""), description="HMAC-SHA256 key for the X-Hypermicro-Signature header.")
    webhook_allow_unsigned: bool = Field(False, description="Allow webhook alerts without webhook_secret (unsigned); off: delivery refuses to start.")
    slack_webhook_url: SecretStr = Field(SecretStr(""), description="Slack incoming-webhook URL.")
    smtp_host: str | None = Field(None, description="SMTP host for e-mail alerts.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_from: str = Field("hypermicro@localhost", description="Sender address of alert e-mails.")
    smtp_username: str | None = Field(None, description="SMTP user (if the server needs auth).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS.")
    smtp_ssl: bool = Field(False, description="Use SMTP over TLS.")
    alert_routes_file: Path | None = Field(None, description="Routing rules (YAML, see docs/alerts.md); default: owners by e-mail + Slack.")
    alert_state_dir: Path | None = Field(None, description="Incident book and outbox (SQLite); default <worker_data_dir>/alerts.")
    alert_incident_window_s: float = Field(3600, gt=0, description="Alerts on one subject within this window form one incident.")
    alert_cooldown_s: float = Field(3600, ge=0, description="Quiet period after an incident closes.")
    alert_escalation_factor: float = Field(2.0, gt=1, description="Observed must grow by this factor to re-alert an open/acked incident.")
    alert_max_per_subject: int = Field(6, ge=1, description="Frequency cap of deliveries per subject per cap window.")
    alert_cap_window_s: float = Field(3600, gt=0, description="Window of the per-subject frequency cap.")
    alert_delivery_timeout_s: float = Field(60, gt=0, description="Hard timeout of one delivery attempt.")
    alert_outbox_retry_s: float = Field(30, gt=0, description="How often undelivered alerts are retried.")
    alert_outbox_max_attempts: int = Field(12, ge=1, description="Attempts before an alert stays parked in the outbox.")
    people_file: Path | None = Field(None, description="People who own voices on the roster, with their topics, brands and digest schedule (YAML, see docs/relationships.md); more can be managed through the API.")
    public_url: str = Field("http://127.0.0.1:8080", description="Base URL of the dashboard, used in alert links.")

    # --- API
    api_host: str = Field("127.0.0.1", description="API bind address.")
    api_port: int = Field(8080, description="API port.")
    api_read_tokens: list[SecretStr] = Field(default_factory=list, description="Tokens with read scope.")
    api_admin_tokens: list[SecretStr] = Field(default_factory=list, description="Tokens with admin scope.")
    api_tokens: list[ApiToken] = Field(default_factory=list, description='Named access keys, JSON: [{"name": "Ana Ruiz", "token": "...", "scope": "read|act|admin"}]; the name is recorded with acknowledgements.')
    api_open_reads: bool = Field(False, description="Reads need no token (acknowledging still does).")

    # --- Logging (read by the CLI before anything else; here so deployments can pass and check them)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Level of hypermicro's own loggers (libraries log from WARNING).")
    log_json: bool = Field(False, description="Write logs as one JSON object per line (for log shippers).")

    # --- Validation (each check names the setting; pipeline.check turns errors into one line each)
    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, v: str) -> str:
        servers = [s.strip() for s in v.split(",") if s.strip()]
        if not servers:
            raise ValueError("must name at least one host:port")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port (e.g. kafka:9092)")
        return ",".join(servers)

    @field_validator("topic_namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if v and not _TOPIC_CHARS.fullmatch(v):
            raise ValueError("may only contain letters, digits, '.', '_' and '-' (it prefixes Kafka topic names)")
        return v


def topic_name(settings: Settings, base: str) -> str:
    """Physical topic name of a logical topic (``social.posts.raw``) under the namespace."""
    return f"{settings.topic_namespace}.{base}" if settings.topic_namespace else base


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus explicit overrides (validated)."""
    return Settings(**overrides)  # type: ignore[arg-type]


# ------------------------------------------------------------------ errors, one line each
_SETTINGS_SOURCE_ERROR = re.compile(r'field "([a-z0-9_]+)"')


class ConfigError(Exception):
    """A configuration that cannot run; ``problems`` holds one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def env_name(field: str) -> str:
    """The environment variable of a settings field."""
    return ENV_PREFIX + field.upper()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def settings_problems(exc: ValidationError | SettingsError) -> list[str]:
    """One line per invalid setting, named by its environment variable (secrets not echoed)."""
    if isinstance(exc, SettingsError):
        m = _SETTINGS_SOURCE_ERROR.search(str(exc))
        field = m.group(1) if m else "?"
        cause = f": {first_line(exc.__cause__)}" if exc.__cause__ else ""
        return [f"{env_name(field)}: cannot parse the value (lists and mappings are JSON, e.g. "
                f"'[\"token-1\", \"token-2\"]'){cause}"]
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err.get("loc") else "?"
        info = Settings.model_fields.get(field)
        secret = info is None or "SecretStr" in str(info.annotation)  # never echo a credential
        quoted = err["type"] == "value_error"  # our own validators quote the value already
        shown = "" if secret or quoted or isinstance(err.get("input"), dict) else f" (got {err.get('input')!r})"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{env_name(field)}: {msg}{shown}")
    return lines


def load_checked_settings(**overrides: object) -> Settings:
    """Settings from the environment plus overrides; :class:`ConfigError` with one line per problem."""
    try:
        return load_settings(**overrides)
    except (ValidationError, SettingsError) as exc:
        raise ConfigError(settings_problems(exc)) from None
