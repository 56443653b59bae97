"""Who is calling the API and what they may do: principals, scopes and FastAPI dependencies.

Scopes nest: ``admin`` ⊇ ``act`` ⊇ ``read``. ``read`` sees everything; ``act`` lets a named person
acknowledge alerts and manage what they own; ``admin`` is for operators.

Tokens come from settings: ``api_tokens`` (named, one per person: the name is recorded with what
they do) and the older ``api_read_tokens`` / ``api_admin_tokens`` (anonymous: the principal is the
token's fingerprint). Tokens are compared in constant time and never logged.

Reads need no token when ``api_open_reads`` is set, or when no token is configured at all and the
API binds to a loopback address; acting always needs a token.

Routes use the dependencies, which return the :class:`Principal`::

    @router.post("/x", dependencies=[Depends(require_act)])   # or: who: Annotated[Principal, Depends(require_act)]
"""
# No ``from __future__ import annotations``: FastAPI must resolve the dependencies' annotations.

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pipeline.api.params import ApiError
from pipeline.core.settings import Settings

Scope = Literal["read", "act", "admin"]
IMPLIED: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "act": frozenset({"read", "act"}),
    "admin": frozenset({"read", "act", "admin"}),
}
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Principal:
    """The caller: a person's name (named token), ``token:<fingerprint>`` or ``anonymous``."""

    name: str
    scopes: frozenset[str]
    named: bool = False
    """True when ``name`` is a person's name from ``api_tokens`` (not a fingerprint)."""

    def can(self, scope: str) -> bool:
        return scope in self.scopes


ANONYMOUS = Principal("anonymous", frozenset())


def fingerprint(token: str) -> str:
    """A short, non-reversible label of a token (safe to log and to show)."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:8]


class Authenticator:
    """Maps a bearer token to a :class:`Principal`; built once per app from settings."""

    def __init__(self, settings: Settings) -> None:
        self._tokens: list[tuple[bytes, str | None, frozenset[str]]] = []
        for named in settings.api_tokens:
            self._tokens.append((named.token.get_secret_value().encode(), named.name, IMPLIED[named.scope]))
        for scope, tokens in (("read", settings.api_read_tokens), ("admin", settings.api_admin_tokens)):
            for t in tokens:
                if t.get_secret_value():
                    self._tokens.append((t.get_secret_value().encode(), None, IMPLIED[scope]))
        self.open_read = settings.api_open_reads or (not self._tokens and settings.api_host in LOOPBACK)

    def principal(self, token: str | None) -> Principal:
        """The caller presenting ``token`` (None: anonymous); 401 for an unknown token."""
        if not token:
            return Principal("anonymous", IMPLIED["read"]) if self.open_read else ANONYMOUS
        raw = token.encode()
        found: Principal | None = None
        for candidate, name, scopes in self._tokens:  # no early exit: time does not depend on the match
            if hmac.compare_digest(raw, candidate) and found is None:
                found = Principal(name or fingerprint(token), scopes, named=name is not None)
        if found is None:
            raise ApiError(401, "invalid token", "this access key is not known; ask your admin for a new one")
        return found


_bearer = HTTPBearer(auto_error=False)


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency returning the caller if they hold ``scope`` (401 without a token, 403 without the scope).

    Reads the app's :class:`Authenticator` from ``app.state.auth`` (set by ``create_api``)."""

    async def dependency(request: Request,
                         creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        auth: Authenticator = request.app.state.auth
        who = auth.principal(creds.credentials if creds else None)
        if who.can(scope):
            return who
        if not creds:
            raise ApiError(401, "authentication required",
                           f"an access key with the {scope} scope is needed (header 'Authorization: Bearer <key>')")
        raise ApiError(403, "forbidden", f"this access key lacks the {scope} scope")

    dependency.__name__ = f"require_{scope}"
    return dependency


require_read = require("read")
require_act = require("act")
require_admin = require("admin")
