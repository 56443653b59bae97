"""Reads and writes of the roster tables (``roster_voices``, ``roster_people``, ``roster_changes``).

Every write is a new row version plus one ``roster_changes`` row saying who changed what, when,
and what it was before; nothing is overwritten in place, so several API processes and workers can
share the tables on a ClickHouse server.  Reads take the newest version of each key (``FINAL``)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pipeline.core.clock import utc_now
from pipeline.core.roster import Person, Voice
from pipeline.storage.backend import ClickHouse, whole_seconds

VOICE_FIELDS = list(Voice.model_fields)
PERSON_FIELDS = list(Person.model_fields)


def _version() -> int:
    return time.time_ns()


class RosterStore:
    """The roster in ClickHouse (either backend; same SQL, ClickHouse >= 18.16)."""

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    # -- voices ---------------------------------------------------------------------------
    def voice(self, voice_id: str) -> dict[str, Any] | None:
        """The current version of a voice with its metadata, or None (also when deleted)."""
        rows = self.ch.query(
            "SELECT * FROM roster_voices FINAL WHERE voice_id = {id:String} AND deleted = 0", {"id": voice_id})
        return rows[0] if rows else None

    def voice_by_account(self, accounts: Sequence[str]) -> dict[str, Any] | None:
        """The rostered voice holding any of ``accounts`` (``source:author_id``), or None."""
        rows = self.ch.query(
            "SELECT * FROM roster_voices FINAL WHERE deleted = 0 AND hasAny(accounts, {a:Array(String)}) "
            "ORDER BY voice_id LIMIT 1", {"a": list(accounts)})
        return rows[0] if rows else None

    def voices(self, owner: str | None = None, stage: str | None = None, q: str | None = None,
               limit: int = 200, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """(total, page) of current voices, filtered by owner, stage and a handle/name/tag search."""
        where = ["deleted = 0"]
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if owner is not None:
            where.append("owner = {owner:String}")
            params["owner"] = owner
        if stage:
            where.append("stage = {stage:String}")
            params["stage"] = stage
        if q:
            where.append("(positionCaseInsensitive(arrayStringConcat(handles, ' '), {q:String}) > 0 "
                         "OR positionCaseInsensitive(display_name, {q:String}) > 0 OR has(tags, {q:String}))")
            params["q"] = q
        cond = " AND ".join(where)
        total = self.ch.query(f"SELECT count() AS n FROM roster_voices FINAL WHERE {cond}", params)
        rows = self.ch.query(
            f"SELECT * FROM roster_voices FINAL WHERE {cond} ORDER BY updated_at DESC, voice_id "
            "LIMIT {limit:UInt32} OFFSET {offset:UInt32}", params)
        return int(total[0]["n"]), rows

    def all_accounts(self) -> dict[str, dict[str, Any]]:
        """Every rostered account -> its voice (id, owner, stage, handles), for the watcher."""
        rows = self.ch.query(
            "SELECT voice_id, accounts, handles, owner, stage FROM roster_voices FINAL WHERE deleted = 0")
        return {a: r for r in rows for a in r["accounts"]}

    def owner_load(self) -> dict[str, int]:
        """Voices per owner (spreads suggestions between equally good owners)."""
        rows = self.ch.query(
            "SELECT owner, count() AS n FROM roster_voices FINAL WHERE deleted = 0 AND owner != '' GROUP BY owner")
        return {r["owner"]: int(r["n"]) for r in rows}

    def save_voice(self, voice: Voice, by: str, action: str, note: str = "") -> dict[str, Any]:
        """Write a new version of ``voice`` and log the change (``before`` = the previous version)."""
        before = self.voice(voice.voice_id)
        now = utc_now(whole_seconds=True)
        row = {**voice.model_dump(), "added_by": before["added_by"] if before else by,
               "added_at": before["added_at"] if before else now, "updated_by": by, "updated_at": now,
               "deleted": 0, "version": _version()}
        self.ch.insert("roster_voices", [row])
        self._log("voice", voice.voice_id, by, action, note=note,
                  before=_public(before, VOICE_FIELDS), after=voice.model_dump())
        return row

    def delete_voice(self, voice_id: str, by: str) -> bool:
        before = self.voice(voice_id)
        if before is None:
            return False
        now = utc_now(whole_seconds=True)
        self.ch.insert("roster_voices", [{**before, "updated_by": by, "updated_at": now, "deleted": 1,
                                          "version": _version()}])
        self._log("voice", voice_id, by, "removed", before=_public(before, VOICE_FIELDS))
        return True

    def log_interaction(self, voice_id: str, kind: str, note: str, by: str, at: datetime | None = None) -> None:
        """Record what someone did with a voice (replied, shared, met, sent product, note)."""
        self._log("voice", voice_id, by, "interaction", kind=kind, note=note, at=at)

    def history(self, voice_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Changes and interactions of a voice, newest first."""
        rows = self.ch.query(
            "SELECT at, by, action, kind, note, before, after FROM roster_changes "
            "WHERE entity = 'voice' AND entity_id = {id:String} ORDER BY seq DESC LIMIT {n:UInt32}",
            {"id": voice_id, "n": limit})
        for r in rows:
            r["before"] = json.loads(r["before"]) if r["before"] else None
            r["after"] = json.loads(r["after"]) if r["after"] else None
        return rows

    def interactions_since(self, voice_ids: Sequence[str], since: datetime) -> list[dict[str, Any]]:
        """Interactions and stage changes on ``voice_ids`` at or after ``since``, oldest first."""
        rows = self.ch.query(
            "SELECT entity_id AS voice_id, at, by, action, kind, note, after FROM roster_changes "
            "WHERE entity = 'voice' AND has({ids:Array(String)}, entity_id) AND at >= {since:DateTime} "
            "AND action IN ('interaction', 'stage', 'added', 'owner') ORDER BY seq",
            {"ids": list(voice_ids), "since": since})
        for r in rows:
            r["after"] = json.loads(r["after"]) if r["after"] else {}
        return rows

    # -- people ---------------------------------------------------------------------------
    def people(self) -> list[Person]:
        rows = self.ch.query("SELECT * FROM roster_people FINAL WHERE deleted = 0 ORDER BY name")
        return [Person.model_validate({k: r[k] for k in PERSON_FIELDS}) for r in rows]

    def save_person(self, person: Person, by: str) -> None:
        before = self.ch.query("SELECT * FROM roster_people FINAL WHERE name = {n:String} AND deleted = 0",
                               {"n": person.name})
        self.ch.insert("roster_people", [{**person.model_dump(), "updated_by": by, "updated_at": utc_now(whole_seconds=True),
                                          "deleted": 0, "version": _version()}])
        self._log("person", person.name, by, "updated" if before else "added",
                  before=_public(before[0] if before else None, PERSON_FIELDS), after=person.model_dump())

    # -- the log --------------------------------------------------------------------------
    def _log(self, entity: str, entity_id: str, by: str, action: str, *, kind: str = "", note: str = "",
             before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
             at: datetime | None = None) -> None:
        self.ch.insert("roster_changes", [{
            "entity": entity, "entity_id": entity_id, "seq": _version(), "at": whole_seconds(at or utc_now(whole_seconds=True)),
            "by": by, "action": action, "kind": kind, "note": note,
            "before": json.dumps(before, ensure_ascii=False) if before is not None else "",
            "after": json.dumps(after, ensure_ascii=False) if after is not None else "",
        }])


def _public(row: dict[str, Any] | None, fields: list[str]) -> dict[str, Any] | None:
    return None if row is None else {k: row[k] for k in fields}


def voice_of(row: dict[str, Any]) -> Voice:
    """The :class:`Voice` in a ``roster_voices`` row."""
    return Voice.model_validate({k: row[k] for k in VOICE_FIELDS})
