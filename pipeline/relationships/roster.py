"""The roster's rules: adding voices (with a suggested owner), owners, stages, interactions,
people, and CSV import/export.  Storage is passed in; no web or stream code here."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from pipeline.core.roster import (
    INTERACTION_KINDS,
    STAGES,
    Person,
    Voice,
    account_key,
    may_change,
)
from pipeline.relationships.suggest import Suggestion, suggest_owner
from pipeline.storage.roster import RosterStore, voice_of
from pipeline.storage.roster_posts import VoicePosts

SUGGEST_LOOKBACK_DAYS = 30
"""What a voice talks about is read from the 30 days before its newest post: recent enough to be
what it talks about now, long enough for a small voice to have a few posts."""
CSV_COLUMNS = ("voice_id", "accounts", "handles", "display_name", "owner", "stage", "brands", "topics", "tags")
_LIST_SEP = ";"


class NotAllowed(PermissionError):
    """Only the voice's owner or an admin changes a voice."""


class Roster:
    """Use cases of the roster for one acting person (``by``; ``admin`` may change any voice)."""

    def __init__(self, store: RosterStore, posts: VoicePosts, file_people: Sequence[Person] = ()) -> None:
        self.store = store
        self.posts = posts
        self.file_people = list(file_people)

    # -- people ---------------------------------------------------------------------------
    def people(self) -> list[Person]:
        """People from the people file, overridden by those managed through the API."""
        merged = {p.name: p for p in self.file_people}
        merged.update({p.name: p for p in self.store.people()})
        return sorted(merged.values(), key=lambda p: p.name)

    def person(self, name: str) -> Person | None:
        return next((p for p in self.people() if p.name == name), None)

    # -- suggestions ----------------------------------------------------------------------
    def suggest(self, topic_posts: dict[str, int], brand_posts: dict[str, int]) -> Suggestion | None:
        """The person whose topics and brands best match a voice's recent posts per topic and brand
        (as :meth:`VoicePosts.activity` counts them)."""
        return suggest_owner(topic_posts, brand_posts, self.people(), self.store.owner_load())

    # -- voices ---------------------------------------------------------------------------
    def add(self, accounts: Sequence[str], by: str, *, owner: str = "", brands: Sequence[str] = (),
            topics: Sequence[str] = (), tags: Sequence[str] = ()) -> dict[str, Any]:
        """Put a voice on the roster (``discovered``), or return it if one of ``accounts`` is
        already rostered.  Handles and name come from its stored posts; brands/topics default to
        those it posts about; the owner is suggested, not assigned, unless ``owner`` is given."""
        existing = self.store.voice_by_account(accounts)
        if existing is not None:
            return existing
        handles, name = [], ""
        for acc in accounts:
            source, _, author_id = acc.partition(":")
            found = self.posts.author(source, author_id)
            if found:
                handles.append("@" + found["handle"].lstrip("@"))
                name = name or found["name"]
        t_posts, b_posts = self.posts.activity(accounts, SUGGEST_LOOKBACK_DAYS)
        suggestion = self.suggest(t_posts, b_posts)
        voice = Voice(voice_id=accounts[0], accounts=list(accounts), handles=handles, display_name=name,
                      owner=owner, suggested_owner=suggestion.person if suggestion else "",
                      brands=list(brands) or sorted(b_posts, key=lambda b: -b_posts[b])[:5],
                      topics=list(topics) or sorted(t_posts, key=lambda t: -t_posts[t])[:5], tags=list(tags))
        note = "suggested owner: " + suggestion.person + " (" + ", ".join(suggestion.reasons) + ")" if suggestion else ""
        return self.store.save_voice(voice, by, "added", note=note)

    def add_handle(self, handle: str, by: str) -> dict[str, Any]:
        """Add the voice behind ``@handle``: every account with that handle, across sources."""
        found = self.posts.find_authors(handle)
        if not found:
            raise LookupError(f"no stored posts by @{handle.lstrip('@')}")
        return self.add([account_key(f["source"], f["author_id"]) for f in found], by)

    def _current(self, voice_id: str, by: str, admin: bool) -> Voice:
        row = self.store.voice(voice_id)
        if row is None:
            raise LookupError(f"no voice {voice_id!r} on the roster")
        voice = voice_of(row)
        if not may_change(by, admin, voice):
            raise NotAllowed(f"only {voice.owner} or an admin can change {voice_id}")
        return voice

    def update(self, voice_id: str, by: str, admin: bool, **changes: Any) -> dict[str, Any]:
        """Change owner, stage, brands, topics or tags; each call is one logged change.
        ``owner='@suggested'`` accepts the suggested owner."""
        voice = self._current(voice_id, by, admin)
        allowed = {"owner", "stage", "brands", "topics", "tags", "display_name"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        if changes.get("owner") == "@suggested":
            if not voice.suggested_owner:
                raise ValueError("this voice has no suggested owner")
            changes["owner"] = voice.suggested_owner
        if "stage" in changes and changes["stage"] not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}")
        if changes.get("owner") and self.person(changes["owner"]) is None:
            raise ValueError(f"{changes['owner']!r} is not a known person")
        try:
            new = Voice.model_validate({**voice.model_dump(), **changes})
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"]) from exc
        action = "stage" if set(changes) == {"stage"} else "owner" if set(changes) == {"owner"} else "updated"
        return self.store.save_voice(new, by, action)

    def remove(self, voice_id: str, by: str, admin: bool) -> None:
        self._current(voice_id, by, admin)
        self.store.delete_voice(voice_id, by)

    def interact(self, voice_id: str, kind: str, note: str, by: str, admin: bool,
                 at: datetime | None = None) -> None:
        """Log an interaction (replied, shared, met, sent_product, note) by its owner or an admin."""
        self._current(voice_id, by, admin)
        if kind not in INTERACTION_KINDS:
            raise ValueError(f"interaction must be one of {', '.join(INTERACTION_KINDS)}")
        if len(note) > 4000:
            raise ValueError("a note holds at most 4000 characters")
        self.store.log_interaction(voice_id, kind, note, by, at)

    # -- CSV ------------------------------------------------------------------------------
    def export_csv(self) -> str:
        """Every current voice as CSV (lists joined with ``;``)."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        offset = 0
        while True:
            _, rows = self.store.voices(limit=1000, offset=offset)
            for r in rows:
                writer.writerow({c: _LIST_SEP.join(r[c]) if isinstance(r[c], list) else r[c] for c in CSV_COLUMNS})
            if len(rows) < 1000:
                return out.getvalue()
            offset += 1000

    def import_csv(self, text: str, by: str, admin: bool) -> dict[str, Any]:
        """Add or update voices from CSV (columns as exported; ``accounts`` required).  Rows are
        checked first: one bad row rejects the file and nothing is written."""
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "accounts" not in reader.fieldnames:
            raise ValueError("the CSV needs a header with at least an 'accounts' column")
        voices, errors = [], []
        for line, rec in enumerate(reader, start=2):
            data: dict[str, Any] = {c: (rec.get(c) or "").strip() for c in CSV_COLUMNS if rec.get(c) is not None}
            for c in ("accounts", "handles", "brands", "topics", "tags"):
                if c in data:
                    data[c] = [x for x in data[c].split(_LIST_SEP) if x.strip()]
            data["voice_id"] = data.get("voice_id") or (data.get("accounts") or [""])[0]
            data["stage"] = data.get("stage") or "discovered"
            try:
                voice = Voice.model_validate(data)
            except ValidationError as exc:
                errors.append(f"line {line}: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
                continue
            if voice.owner and self.person(voice.owner) is None:
                errors.append(f"line {line}: owner {voice.owner!r} is not a known person")
            voices.append(voice)
        if errors:
            raise ValueError("; ".join(errors[:20]))
        added = updated = 0
        for voice in voices:
            before = self.store.voice(voice.voice_id)
            if before is not None and not may_change(by, admin, voice_of(before)):
                raise NotAllowed(f"only {before['owner']} or an admin can change {voice.voice_id}")
        for voice in voices:
            before = self.store.voice(voice.voice_id)
            self.store.save_voice(voice, by, "imported")
            added, updated = (added, updated + 1) if before else (added + 1, updated)
        return {"added": added, "updated": updated}
