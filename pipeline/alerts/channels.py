"""Delivery channels: generic signed webhook, Slack incoming webhook, e-mail over SMTP.

Every channel implements :class:`AlertChannel`. A channel retries transient failures itself
(tenacity: exponential backoff with jitter, ``Retry-After`` honoured) and raises
:class:`AlertDeliveryError` when it gives up; the dispatcher then keeps the delivery in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from pipeline.alerts import render
from pipeline.core.httputil import parse_retry_after
from pipeline.core.schema import Alert
from pipeline.core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, sign, verify

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TARGET = "default"
"""Recipient token meaning "the channel's own configured URL" (Slack / webhook)."""
USER_AGENT = "hypermicro-alerts/1"


class AlertDeliveryError(Exception):
    """A channel could not deliver an alert. ``retryable`` says whether trying again later may succeed.

    ``retry_after`` (seconds) is the receiver's hint, ``failed_recipients`` the subset of
    recipients that did not get the alert (None: all of them).
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        failed_recipients: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.failed_recipients = failed_recipients


@runtime_checkable
class AlertChannel(Protocol):
    """Somewhere alerts are sent."""

    async def deliver(self, alert: Alert, recipients: list[str]) -> None:
        """Deliver ``alert`` to ``recipients`` (addresses or URLs; meaning is per channel).

        Returns only when the receiver accepted it; otherwise raises :class:`AlertDeliveryError`
        (after the channel's own retries). Must be safe to call again for the same alert
        (receivers dedupe on the alert id).
        """
        ...


# --------------------------------------------------------------------------- signing


def sign_body(secret: str, body: bytes, timestamp: int | str) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``: the X-Hypermicro-Signature value."""
    return sign(secret, body, timestamp)


def verify_signature(secret: str, body: bytes, header: str | None, timestamp: str | None,
                     now: float | None = None) -> bool:
    """Receiver-side check (constant-time): signature over timestamp + body, timestamp within
    5 minutes of ``now``. Receivers also drop a repeated ``Idempotency-Key``."""
    try:
        verify(secret, body, header, timestamp, now=now)
    except SignatureError:
        return False
    return True


# --------------------------------------------------------------------------- retrying


@dataclass(frozen=True)
class RetryPolicy:
    """In-channel retries of one delivery (the outbox retries later, on a slower schedule)."""

    attempts: int = 4
    """Tries in total, the first included."""
    initial_s: float = 0.5
    """First backoff; doubles each retry."""
    max_s: float = 10.0
    """Cap of one backoff."""
    jitter_s: float = 0.5
    """Random extra wait in [0, jitter_s]."""
    retry_after_cap_s: float = 30.0
    """A longer ``Retry-After`` stops in-channel retries; the outbox waits instead."""


class _WaitBackoffOrRetryAfter(wait_base):
    """Exponential backoff with jitter, but never shorter than the receiver's ``Retry-After``."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._backoff = wait_exponential_jitter(multiplier=policy.initial_s, max=policy.max_s,
                                                jitter=policy.jitter_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = float(self._backoff(retry_state))
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(exc, "retry_after", None)
        return max(wait, hint) if hint is not None else wait


class _StopOnLongRetryAfter(stop_base):
    def __init__(self, cap_s: float) -> None:
        self._cap = cap_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(exc, "retry_after", None)
        return hint is not None and hint > self._cap


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, AlertDeliveryError) and exc.retryable


async def call_with_retry(policy: RetryPolicy, fn: Callable[[], Awaitable[None]], what: str = "delivery") -> None:
    """Run the coroutine function ``fn`` retrying retryable :class:`AlertDeliveryError`s per ``policy``;
    re-raise the last error."""

    def _log(rs: RetryCallState) -> None:
        exc = rs.outcome.exception() if rs.outcome else None
        log.warning("%s failed (attempt %d), retrying in %.2fs: %s", what, rs.attempt_number,
                    rs.next_action.sleep if rs.next_action else 0.0, exc)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, policy.attempts)) | _StopOnLongRetryAfter(policy.retry_after_cap_s),
        wait=_WaitBackoffOrRetryAfter(policy),
        retry=retry_if_exception(_is_retryable),
        before_sleep=_log,
        reraise=True,
    )
    await retrying(fn)


# --------------------------------------------------------------------------- HTTP


def _http_error(resp: httpx.Response) -> AlertDeliveryError:
    code = resp.status_code
    retryable = code >= 500 or code in (408, 429)
    body = resp.text[:200].strip()
    return AlertDeliveryError(
        f"HTTP {code} from {resp.request.url.host}: {body}",
        retryable=retryable,
        retry_after=parse_retry_after(resp.headers.get("Retry-After")) if retryable else None,
    )


async def _post_once(client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    try:
        resp = await client.post(url, content=body, headers=dict(headers))
    except httpx.TimeoutException as exc:
        raise AlertDeliveryError(f"timeout posting to {httpx.URL(url).host}: {exc!r}", retryable=True) from exc
    except httpx.TransportError as exc:  # connection refused/reset, DNS, protocol errors
        raise AlertDeliveryError(f"cannot reach {httpx.URL(url).host}: {exc!r}", retryable=True) from exc
    if not resp.is_success:
        raise _http_error(resp)


class _HttpChannel:
    """Shared POST-with-retries logic; subclasses build the body and headers."""

    name = "http"

    def __init__(self, url: str | None, *, timeout_s: float = 10.0, retry: RetryPolicy | None = None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()

    def _targets(self, recipients: list[str]) -> dict[str, str]:
        """URL -> the recipient token it came from (``default`` = the configured URL)."""
        tokens = recipients or [DEFAULT_TARGET]
        out: dict[str, str] = {}
        for token in tokens:
            url = self.url if token == DEFAULT_TARGET else token
            if url:
                out.setdefault(url, token)
        if not out:
            raise AlertDeliveryError(f"{self.name}: no URL configured", retryable=False)
        return out

    def _request(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        raise NotImplementedError

    async def deliver(self, alert: Alert, recipients: list[str]) -> None:
        """POST the alert to every target URL; see :class:`AlertChannel`."""
        targets = self._targets(recipients)
        errors: dict[str, AlertDeliveryError] = {}
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False,
                                     headers={"User-Agent": USER_AGENT}) as client:

            async def _to(url: str) -> None:
                async def _once() -> None:
                    body, headers = self._request(alert)  # signed per attempt: a retry is not a replay
                    await _post_once(client, url, body, headers)

                try:
                    await call_with_retry(self.retry, _once, what=f"{self.name} alert {alert.id}")
                except AlertDeliveryError as exc:
                    errors[url] = exc

            await asyncio.gather(*(_to(url) for url in targets))  # targets are independent
        if errors:
            first = next(iter(errors.values()))
            hints = [e.retry_after for e in errors.values() if e.retry_after is not None]
            raise AlertDeliveryError(
                f"{self.name}: {len(errors)}/{len(targets)} target(s) failed: {first}",
                retryable=any(e.retryable for e in errors.values()),
                retry_after=max(hints) if hints else None,
                failed_recipients=[targets[u] for u in errors] if len(errors) < len(targets) else None,
            )


class WebhookChannel(_HttpChannel):
    """Generic webhook: POSTs the Alert JSON, HMAC-signed.

    Headers: ``X-Hypermicro-Timestamp`` (unix seconds), ``X-Hypermicro-Signature: sha256=<hex
    HMAC-SHA256(secret, "<timestamp>." + raw body)>`` (see :mod:`pipeline.core.signing`; each retry is
    signed afresh), ``Idempotency-Key: <alert id>``. Without a secret the channel refuses to be
    built unless ``allow_unsigned`` (setting ``webhook_allow_unsigned``) says so.
    Recipients are URLs; none (or ``"default"``) means the configured ``url``.
    """

    name = "webhook"

    def __init__(self, url: str | None, secret: str = "", *, timeout_s: float = 10.0,
                 retry: RetryPolicy | None = None, allow_unsigned: bool = False) -> None:
        super().__init__(url, timeout_s=timeout_s, retry=retry)
        self.secret = secret
        if not secret:
            if not allow_unsigned:
                raise ValueError("webhook alerts need a signing secret: set HYPERMICRO_WEBHOOK_SECRET "
                                 "(or HYPERMICRO_WEBHOOK_ALLOW_UNSIGNED=true to send unsigned alerts)")
            log.warning("webhook channel has no secret: requests are sent unsigned (webhook_allow_unsigned)")

    def _request(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        body = alert.model_dump_json().encode()
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: ts, IDEMPOTENCY_HEADER: alert.id}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign_body(self.secret, body, ts)
        return body, headers


class SlackChannel(_HttpChannel):
    """Slack incoming webhook with a Block Kit message (see :func:`render.slack_payload`).

    Recipients are incoming-webhook URLs (one per Slack channel); none means the configured one.
    """

    name = "slack"

    def __init__(self, webhook_url: str | None, public_url: str, *, names: Mapping[str, str] | None = None,
                 timeout_s: float = 10.0, retry: RetryPolicy | None = None) -> None:
        super().__init__(webhook_url, timeout_s=timeout_s, retry=retry)
        self.public_url = public_url
        self.names = dict(names or {})

    def _request(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        import orjson

        body = orjson.dumps(render.slack_payload(alert, self.public_url, self.names))
        return body, {"Content-Type": "application/json"}


# --------------------------------------------------------------------------- e-mail


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to submit e-mail."""

    host: str
    port: int = 25
    sender: str = "hypermicro@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout_s: float = 15.0


def _smtp_code_retryable(code: int) -> bool:
    return 400 <= code < 500 or code < 0


class EmailChannel:
    """E-mail over SMTP (stdlib ``smtplib`` in a worker thread), plain text + HTML alternative.

    Recipients are e-mail addresses; one message is sent to all of them. 4xx SMTP replies and
    connection problems are retryable, 5xx replies are not.
    """

    name = "email"

    def __init__(self, smtp: SmtpConfig, public_url: str, *, names: Mapping[str, str] | None = None,
                 retry: RetryPolicy | None = None) -> None:
        self.smtp = smtp
        self.public_url = public_url
        self.names = dict(names or {})
        self.retry = retry or RetryPolicy()

    def _send_sync(self, alert: Alert, recipients: list[str]) -> None:
        cfg = self.smtp
        msg = render.email_message(alert, cfg.sender, recipients, self.public_url, self.names)
        try:
            client: smtplib.SMTP = (
                smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s, context=ssl.create_default_context())
                if cfg.ssl else smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
            )
            with client:
                if cfg.starttls and not cfg.ssl:
                    client.starttls(context=ssl.create_default_context())
                if cfg.username:
                    client.login(cfg.username, cfg.password or "")
                refused = client.send_message(msg, from_addr=cfg.sender, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise AlertDeliveryError(f"SMTP refused all recipients: {exc.recipients}",
                                retryable=all(_smtp_code_retryable(c) for c in codes)) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise AlertDeliveryError(f"SMTP server lacks a required feature: {exc}", retryable=False) from exc
        except smtplib.SMTPResponseException as exc:
            raise AlertDeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                retryable=_smtp_code_retryable(exc.smtp_code)) from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused connections, timeouts
            raise AlertDeliveryError(f"SMTP {cfg.host}:{cfg.port} unreachable: {exc!r}", retryable=True) from exc
        if refused:
            raise AlertDeliveryError(
                f"SMTP refused {len(refused)} of {len(recipients)} recipients: {refused}",
                retryable=all(_smtp_code_retryable(code) for code, _ in refused.values()),
                failed_recipients=sorted(refused),
            )

    async def deliver(self, alert: Alert, recipients: list[str]) -> None:
        """Send one e-mail to ``recipients``; see :class:`AlertChannel`."""
        if not recipients:
            raise AlertDeliveryError("email: no recipients", retryable=False)

        async def _once() -> None:
            await asyncio.to_thread(self._send_sync, alert, list(recipients))

        await call_with_retry(self.retry, _once, what=f"email alert {alert.id}")

