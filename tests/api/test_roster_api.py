"""Roster API with named access keys: anyone reading sees the roster; only the owner or an admin
changes a voice; suggestions, interactions, profile, digest and CSV."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from pipeline.api.app import create_api
from pipeline.storage.repository import Repository
from tests.api.conftest import api_settings

V1 = "/api/v1/roster"
TOKENS = {"Ana Ruiz": "ana-key-0123456789", "bob": "bob-key-0123456789", "root": "root-key-0123456789",
          "viewer": "viewer-key-0123456789"}
SCOPES = {"Ana Ruiz": "act", "bob": "act", "root": "admin", "viewer": "read"}


def key(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def test_roster_through_the_api(seeded_repo: Repository, tmp_path: Path) -> None:
    people = tmp_path / "people.yaml"
    people.write_text("people:\n  - {name: Ana Ruiz, topics: [delays], digest: daily}\n"
                      "  - {name: bob, topics: [food], brands: [rival]}\n", encoding="utf-8")
    settings = api_settings(tmp_path, people_file=people,
                            api_tokens=[{"name": n, "token": t, "scope": SCOPES[n]} for n, t in TOKENS.items()])
    with TestClient(create_api(lambda: seeded_repo, settings)) as c:
        assert c.post(V1 + "/voices", json={"handle": "carol"}, headers=key("viewer")).status_code == 403
        found = c.get(V1 + "/search", params={"handle": "@carol"}, headers=key("viewer")).json()["items"]
        assert [(f["source"], f["author_id"], f["voice_id"]) for f in found] == [("test", "u-carol", None)]
        r = c.post(V1 + "/voices", json={"handle": "@carol"}, headers=key("bob"))
        assert r.status_code == 201, r.text
        voice = r.json()
        assert voice["voice_id"] == "test:u-carol" and voice["suggested_owner"] == "Ana Ruiz"  # she posts on delays
        vid = voice["voice_id"]
        r = c.patch(f"{V1}/voices/{vid}", json={"owner": "@suggested"}, headers=key("Ana Ruiz"))
        assert r.status_code == 200 and r.json()["owner"] == "Ana Ruiz"
        r = c.patch(f"{V1}/voices/{vid}", json={"stage": "listening"}, headers=key("bob"))
        assert r.status_code == 403 and "Ana Ruiz" in r.json()["detail"]
        assert c.patch(f"{V1}/voices/{vid}", json={"stage": "listening"}, headers=key("Ana Ruiz")).status_code == 200
        assert c.patch(f"{V1}/voices/{vid}", json={"stage": "besties"}, headers=key("Ana Ruiz")).status_code == 422
        r = c.post(f"{V1}/voices/{vid}/interactions", json={"kind": "replied", "note": "offered help"},
                   headers=key("Ana Ruiz"))
        assert r.status_code == 201 and r.json()["by"] == "Ana Ruiz"
        assert c.post(f"{V1}/voices/{vid}/interactions", json={"kind": "note"}, headers=key("bob")).status_code == 403
        assert c.patch(f"{V1}/voices/{vid}", json={"tags": ["frequent"]}, headers=key("root")).status_code == 200

        listing = c.get(V1 + "/voices", params={"owner": "Ana Ruiz"}, headers=key("viewer")).json()
        assert listing["total"] == 1 and listing["items"][0]["stage"] == "listening"
        hist = c.get(f"{V1}/voices/{vid}", headers=key("viewer")).json()["history"]
        assert [(h["action"], h["by"]) for h in hist] == [
            ("updated", "root"), ("interaction", "Ana Ruiz"), ("stage", "Ana Ruiz"), ("owner", "Ana Ruiz"), ("added", "bob")]

        prof = c.get(f"{V1}/voices/{vid}/profile", headers=key("viewer")).json()
        assert [p["text"] for p in prof["recent"]] == ["Still waiting, acme. Delayed 3 hours"]
        assert prof["recent"][0]["brand_sentiments"] == ["negative"] and prof["topics"] == [["delays", 1]]
        assert [x["conversation_id"] for x in prof["conversations"]] == ["c-delay"]
        assert sum(d["posts"] for d in prof["attention"]) == 1 and prof["suggestion"]["person"] == "Ana Ruiz"

        dig = c.get(V1 + "/digest/Ana Ruiz", params={"hours": 1}, headers=key("viewer")).json()
        assert dig["voices"] == 1 and "Ana Ruiz replied @carol: offered help" in dig["lines"]
        assert c.get(V1 + "/digest/nobody", headers=key("viewer")).status_code == 404

        csv_text = c.get(V1 + "/export.csv", headers=key("viewer")).text
        assert "test:u-carol" in csv_text and "Ana Ruiz" in csv_text
        r = c.post(V1 + "/import", content="accounts,owner\ntest:u-dave,bob\n", headers=key("bob"))
        assert r.json() == {"added": 1, "updated": 0}
        r = c.post(V1 + "/import", content=csv_text, headers=key("bob"))  # Ana's voice: not bob's to overwrite
        assert r.status_code == 403
        assert c.put(V1 + "/people/carl", json={"name": "carl", "topics": ["food"]}, headers=key("bob")).status_code == 403
        assert c.put(V1 + "/people/carl", json={"name": "carl", "topics": ["food"]}, headers=key("root")).status_code == 200
        names = [p["name"] for p in c.get(V1 + "/people", headers=key("viewer")).json()["items"]]
        assert names == ["Ana Ruiz", "bob", "carl"]
        assert c.delete(f"{V1}/voices/{vid}", headers=key("bob")).status_code == 403
        assert c.delete(f"{V1}/voices/{vid}", headers=key("Ana Ruiz")).status_code == 204
        assert c.get(f"{V1}/voices/{vid}", headers=key("viewer")).status_code == 404
