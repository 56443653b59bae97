"""Roster API (``/api/v1/roster/...``): voices, people, suggestions, interactions, profiles,
digests and CSV.  Anyone with ``read`` sees the roster; acting needs ``act`` and only the voice's
owner or an admin changes a voice (see :func:`pipeline.core.roster.may_change`)."""
# No ``from __future__ import annotations``: FastAPI must resolve the closures' annotations.

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pipeline.api.auth import Principal, require_act, require_admin, require_read
from pipeline.api.params import ApiError
from pipeline.core.clock import utc_now
from pipeline.core.roster import INTERACTION_KINDS, STAGES, InteractionKind, Person, Stage
from pipeline.core.settings import Settings
from pipeline.relationships.digest import build_digest, period_of
from pipeline.relationships.people import load_people
from pipeline.relationships.profile import voice_profile
from pipeline.relationships.roster import NotAllowed, Roster
from pipeline.storage.repository import Repository

VOICE_ID = r"^[a-z0-9_.-]{1,32}:[^\s/]{1,200}$"
NAME = r"^[\w.@+'-](?:[\w .@+'-]{0,98}[\w.@+'-])?$"
VoiceId = Annotated[str, PathParam(pattern=VOICE_ID)]
Reader = Annotated[Principal, Depends(require_read)]
Actor = Annotated[Principal, Depends(require_act)]
T = TypeVar("T")
P = ParamSpec("P")


class AddVoice(BaseModel):
    """Add a voice by its accounts (``source:author_id``) or by a handle found across sources."""

    accounts: list[str] = Field(default_factory=list, max_length=20)
    handle: str = Field("", max_length=200)
    owner: str = Field("", max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)


class ChangeVoice(BaseModel):
    """Fields to change; ``owner: "@suggested"`` accepts the suggestion."""

    owner: str | None = Field(None, max_length=100)
    stage: Stage | None = None
    brands: list[str] | None = Field(None, max_length=50)
    topics: list[str] | None = Field(None, max_length=50)
    tags: list[str] | None = Field(None, max_length=50)


class Interaction(BaseModel):
    kind: InteractionKind
    note: str = Field("", max_length=4000)


def roster_router(repo: Callable[[], Awaitable[Repository]], settings: Settings) -> APIRouter:
    """The roster routes over the app's repository provider (mounted under ``/api/v1``)."""
    router = APIRouter(prefix="/roster", tags=["roster"])

    async def call(fn: Callable[Concatenate[Roster, P], T], *args: P.args, **kw: P.kwargs) -> T:
        r = await repo()

        def run() -> T:
            roster = Roster(r.roster, r.voice_posts, load_people(settings.people_file))
            return fn(roster, *args, **kw)

        try:
            return await run_in_threadpool(run)
        except NotAllowed as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        except LookupError as exc:
            raise ApiError(404, "not found", str(exc)) from None
        except ValueError as exc:
            raise ApiError(422, "invalid request", str(exc)) from None

    @router.get("/voices")
    async def voices(_: Reader, owner: Annotated[str | None, Query(pattern=NAME)] = None,
                     stage: Annotated[Stage | None, Query()] = None,
                     q: Annotated[str | None, Query(max_length=100)] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
        """The roster, newest change first; filter by owner, stage and handle/name/tag."""
        total, items = await call(lambda r: r.store.voices(owner, stage, q, limit, offset))
        return {"total": total, "items": items, "stages": STAGES}

    @router.post("/voices", status_code=201)
    async def add(body: AddVoice, who: Actor) -> dict[str, Any]:
        """Put a voice on the roster (from the voices view, a post, an alert or a handle search)."""
        if not body.accounts and not body.handle:
            raise ApiError(422, "invalid request", "give accounts (source:author_id) or a handle")
        if body.accounts:
            return await call(lambda r: r.add(body.accounts, who.name, owner=body.owner, tags=body.tags))
        return await call(lambda r: r.add_handle(body.handle, who.name))

    @router.get("/search")
    async def search(_: Reader, handle: Annotated[str, Query(min_length=1, max_length=100)]) -> dict[str, Any]:
        """Accounts with this handle on any source, with whether they are rostered."""
        def run(r: Roster) -> list[dict[str, Any]]:
            found = r.posts.find_authors(handle)
            for f in found:
                v = r.store.voice_by_account([f"{f['source']}:{f['author_id']}"])
                f["voice_id"] = v["voice_id"] if v else None
            return found
        return {"items": await call(run)}

    @router.get("/voices/{voice_id}")
    async def voice(voice_id: VoiceId, _: Reader) -> dict[str, Any]:
        """One voice with its full change and interaction history."""
        def run(r: Roster) -> dict[str, Any]:
            row = r.store.voice(voice_id)
            if row is None:
                raise LookupError(f"no voice {voice_id!r} on the roster")
            return {**row, "history": r.store.history(voice_id)}
        return await call(run)

    @router.get("/voices/{voice_id}/profile")
    async def profile(voice_id: VoiceId, _: Reader) -> dict[str, Any]:
        """Listening in one page: recent posts about our brands/topics (with the sentiment toward
        each brand), topics and conversations, attention per day, who amplifies them, history."""
        return await call(lambda r: voice_profile(r, voice_id))

    @router.patch("/voices/{voice_id}")
    async def change(voice_id: VoiceId, body: ChangeVoice, who: Actor) -> dict[str, Any]:
        """Change owner, stage, brands, topics or tags (owner or admin); every change is logged."""
        changes = body.model_dump(exclude_none=True)
        if not changes:
            raise ApiError(422, "invalid request", "nothing to change")
        return await call(lambda r: r.update(voice_id, who.name, who.can("admin"), **changes))

    @router.delete("/voices/{voice_id}", status_code=204)
    async def remove(voice_id: VoiceId, who: Actor) -> Response:
        await call(lambda r: r.remove(voice_id, who.name, who.can("admin")))
        return Response(status_code=204)

    @router.post("/voices/{voice_id}/interactions", status_code=201)
    async def interact(voice_id: VoiceId, body: Interaction, who: Actor) -> dict[str, Any]:
        """Log what was done with the voice (owner or admin)."""
        await call(lambda r: r.interact(voice_id, body.kind, body.note, who.name, who.can("admin")))
        return {"voice_id": voice_id, "kind": body.kind, "by": who.name, "kinds": INTERACTION_KINDS}

    @router.get("/people")
    async def people(_: Reader) -> dict[str, Any]:
        """People who can own voices, with how many they own."""
        def run(r: Roster) -> list[dict[str, Any]]:
            load = r.store.owner_load()
            return [{**p.model_dump(), "voices": load.get(p.name, 0)} for p in r.people()]
        return {"items": await call(run)}

    @router.put("/people/{name}")
    async def put_person(name: Annotated[str, PathParam(pattern=NAME)], body: Person,
                         who: Annotated[Principal, Depends(require_admin)]) -> dict[str, Any]:
        """Add or change a person (admin)."""
        if body.name != name:
            raise ApiError(422, "invalid request", "the name in the path and the body differ")
        await call(lambda r: r.store.save_person(body, who.name))
        return body.model_dump()

    @router.get("/digest/{person}")
    async def digest(person: Annotated[str, PathParam(pattern=NAME)], _: Reader,
                     hours: Annotated[int | None, Query(ge=1, le=24 * 31)] = None) -> dict[str, Any]:
        """A person's digest: their current period so far, or the last ``hours``."""
        def run(r: Roster) -> dict[str, Any]:
            p = r.person(person)
            if p is None:
                raise LookupError(f"no person {person!r}")
            now = utc_now(whole_seconds=True)
            if hours is not None:
                start = now - timedelta(hours=hours)
            else:
                period = period_of(p, now)
                start = period[1] if period else now - timedelta(days=1)
            return {**build_digest(r.store, r.posts, person, start, now + timedelta(seconds=1)).as_dict(),
                    "schedule": p.digest}
        return await call(run)

    @router.get("/export.csv")
    async def export(_: Reader) -> Response:
        text = await call(lambda r: r.export_csv())
        return Response(text, media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="roster.csv"'})

    @router.post("/import")
    async def import_csv(request: Request, who: Actor) -> dict[str, Any]:
        """Add or update voices from a CSV body (columns as exported); all rows or none."""
        raw = await request.body()  # bounded by the API's body limit (pipeline.api.guard)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(422, "invalid request", "the CSV must be UTF-8") from None
        return await call(lambda r: r.import_csv(text, who.name, who.can("admin")))

    return router
