"""Who is who for the emerging-voices tracker: author ids, handles, placeholders for accounts
named before they post, brand-owned accounts, and forgetting idle authors."""

from __future__ import annotations

import math
from collections import deque

from pipeline.core.schema import RawPost
from pipeline.detect.voice_config import VoiceConfig
from pipeline.detect.voice_events import GLOBAL, norm_ref
from pipeline.detect.voice_state import AuthorInfo, AuthorState

__all__ = ["AuthorDirectory"]


class AuthorDirectory:
    """Author records across subjects and the per-subject states keyed by resolved author."""

    def __init__(self, own_accounts: dict[str, set[str]] | None = None) -> None:
        self.own_accounts: dict[str, set[str]] = {
            s: {norm_ref(a) for a in accts} for s, accts in (own_accounts or {}).items()}
        self._info: dict[str, AuthorInfo] = {}
        self._ids: dict[str, str] = {}
        self._handles: dict[str, str] = {}
        self._states: dict[str, dict[str, AuthorState]] = {}

    def _resolve(self, ref: str) -> str:
        r = norm_ref(ref)
        if not r:
            return ""
        if r in self._ids:
            return self._ids[r]
        if r in self._handles:
            return self._handles[r]
        return "@" + r

    def resolve(self, ref: str) -> str:
        """The author id a handle or id refers to, as far as known; ``@handle`` while unknown."""
        return self._resolve(ref)

    def _register(self, post: RawPost, now: float) -> str:
        a = post.author
        aid = a.id
        info = self._info.get(aid)
        if info is None:
            info = self._info[aid] = AuthorInfo(first_ts=now, rate_ts=now)
            self._ids[aid.lower()] = aid
        info.followers = int(a.followers)
        info.source = post.source
        placeholders = ["@" + aid.lower()]
        if a.handle:
            h = norm_ref(a.handle)
            info.handle = a.handle.lstrip("@")
            if self._handles.get(h) != aid:
                self._handles[h] = aid
                placeholders.append("@" + h)
        for ph in placeholders:
            for states in self._states.values():
                if ph in states:
                    self._merge(states, ph, aid)
        return aid

    def _register_id(self, ref: str) -> None:
        """Remember an author id named by a reply/repost/quote field (its author may never post)."""
        r = norm_ref(ref)
        if not r or r in self._ids or r in self._handles:
            return
        self._ids[r] = ref.strip().lstrip("@")
        for states in self._states.values():
            if "@" + r in states:
                self._merge(states, "@" + r, self._ids[r])

    def _merge(self, states: dict[str, AuthorState], src_key: str, dst_key: str) -> None:
        src = states.pop(src_key)
        dst = states.get(dst_key)
        if dst is None:
            states[dst_key] = src
            return
        for b, vals in src.bins.items():
            cur = dst.bins.setdefault(b, [0.0] * 8)
            for i, v in enumerate(vals):
                cur[i] += v
        dst.old_n += src.old_n
        for s, ts in src.sources.items():
            dst.sources[s] = max(ts, dst.sources.get(s, -math.inf))
        dst.recent_refs = deque(sorted([*dst.recent_refs, *src.recent_refs]))
        dst.attention += src.attention
        dst.last_ts = max(dst.last_ts, src.last_ts)

    def _is_own(self, subject: str, key: str) -> bool:
        cands = {norm_ref(key)}
        info = self._info.get(key)
        if info is not None and info.handle:
            cands.add(norm_ref(info.handle))
        subjects = self.own_accounts.keys() if subject == GLOBAL else (subject, GLOBAL)
        return any(cands & self.own_accounts.get(s, set()) for s in subjects)

    def _handle_of(self, key: str) -> str:
        """The author's handle; a key that is not a numeric id stands for its handle while unknown."""
        info = self._info.get(key)
        if info is not None and info.handle:
            return info.handle
        bare = key.lstrip("@")
        return "" if bare.isdigit() else bare

    def _recredit(self, info: AuthorInfo, now: float, cfg: VoiceConfig) -> None:
        """Re-weigh a source's arrivals of the last hour with its credibility as known now.

        An account's first post looks credible; a burst of posts minutes later shows it is not
        (fresh accounts hammering someone).  Credibility only goes down here."""
        info.arrivals = [a for a in info.arrivals if now - a[0] < 3600.0]
        if not info.arrivals:
            return
        cred = info.credibility(now, cfg)
        for a in info.arrivals:
            _, subject, target, b, k, base, applied = a
            new = base * cred
            if new >= applied:
                continue
            vals = self._states.get(subject, {}).get(target, AuthorState()).bins.get(b)
            if vals is not None:
                vals[k] = max(0.0, vals[k] - (applied - new))
            a[6] = new

    def _evict_idle_info(self, now: float, idle_s: float) -> None:
        """Forget authors in no subject's state and silent for ``idle_s``."""
        live: set[str] = set()
        for states in self._states.values():
            live.update(states)
        stale = [k for k, inf in self._info.items()
                 if k not in live and now - max(inf.rate_ts, inf.first_ts) > idle_s]
        for k in stale:
            inf = self._info.pop(k)
            if self._ids.get(k.lower()) == k:
                del self._ids[k.lower()]
            h = norm_ref(inf.handle)
            if h and self._handles.get(h) == k:
                del self._handles[h]
