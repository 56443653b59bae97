"""Work avoidance in the tagging stage: reposts reuse tags, firehose mode skips the encoder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from models.base import EncoderOutput
from pipeline.core.schema import RawPost
from pipeline.core.settings import load_settings
from pipeline.enrich import Enricher, build_enricher
from pipeline.tagcache import TagCache, canonical


class CountingEmbedder:
    """Wraps an embedder and records every text it encodes."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[attr-defined]
        self.dim = inner.dim  # type: ignore[attr-defined]
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> EncoderOutput:
        self.seen.extend(texts)
        return self.inner.encode(texts)  # type: ignore[attr-defined]


def _post(i: int, text: str) -> RawPost:
    return RawPost.model_validate({
        "id": f"p{i}", "source": "sample", "created_at": "2026-01-05T10:00:00Z", "text": text, "lang": "en",
        "author": {"id": f"a{i}", "handle": f"user{i}", "followers": 10},
    })


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Enricher:
    settings = load_settings(embedder="hash", model_cache_dir=Path(tmp_path_factory.mktemp("models")))
    return build_enricher(settings)


def _enricher(base: Enricher, *, cache_size: int = 1000, firehose: bool = False) -> tuple[Enricher, CountingEmbedder]:
    emb = CountingEmbedder(base.embedder)
    return Enricher(brands=base.brands, embedder=emb, sentiment=base.sentiment, topics=base.topics,  # type: ignore[arg-type]
                    langid=base.langid, targeted=base.targeted, cache=TagCache(cache_size),
                    firehose=firehose), emb


ORIGINAL = "Nimbus Air lost my luggage again, absolutely terrible service"


def test_canonical_text_maps_reposts_and_copies_to_the_original() -> None:
    assert canonical(f"RT @bob: {ORIGINAL} https://t.co/abc") == ORIGINAL
    assert canonical(f"RT @ann: RT @bob:  {ORIGINAL}\n") == ORIGINAL
    assert canonical(ORIGINAL.upper()) != ORIGINAL  # capitals are emphasis to the sentiment model
    assert canonical("https://t.co/abc") == "https://t.co/abc"  # a link alone stays a text


def test_a_posts_tags_do_not_depend_on_which_copy_came_first(base: Enricher) -> None:
    repost, original = _post(1, f"RT @user0: {ORIGINAL} https://t.co/x"), _post(0, ORIGINAL)
    forward, _ = _enricher(base)
    backward, _ = _enricher(base)
    a = {p.post.id: p for p in forward.enrich([original]) + forward.enrich([repost])}
    b = {p.post.id: p for p in backward.enrich([repost]) + backward.enrich([original])}
    for pid in a:
        assert a[pid].sentiment == b[pid].sentiment and a[pid].topics == b[pid].topics


def test_reposts_reuse_the_originals_tags_without_encoding_again(base: Enricher) -> None:
    enricher, emb = _enricher(base)
    first = enricher.enrich([_post(0, ORIGINAL), _post(1, "Loved my flight with Skyway today")])
    again = enricher.enrich([_post(2, f"RT @user0: {ORIGINAL}"), _post(3, ORIGINAL + " https://t.co/x")])
    assert emb.seen == [ORIGINAL, "Loved my flight with Skyway today"]  # the second batch encoded nothing
    for post in again:
        assert post.sentiment == first[0].sentiment and post.topics == first[0].topics
        assert [m.brand_id for m in post.brands] == ["nimbus"]  # brand matching still runs per post
    assert {p.post.id for p in again} == {"sample:p2", "sample:p3"}


def test_copies_inside_one_batch_are_encoded_once(base: Enricher) -> None:
    enricher, emb = _enricher(base)
    out = enricher.enrich([_post(i, f"RT @user{i}: {ORIGINAL}") for i in range(5)])
    assert len(emb.seen) == 1 and len({p.sentiment.label for p in out}) == 1


def test_cache_off_encodes_every_batch_anew(base: Enricher) -> None:
    enricher, emb = _enricher(base, cache_size=0)
    enricher.enrich([_post(0, ORIGINAL), _post(1, f"RT @bob: {ORIGINAL}")])
    enricher.enrich([_post(2, ORIGINAL)])
    assert emb.seen == [ORIGINAL, ORIGINAL]  # copies in a batch share one pass, nothing is kept


def test_firehose_mode_tags_only_brand_posts_expensively(base: Enricher) -> None:
    enricher, emb = _enricher(base, firehose=True)
    out = enricher.enrich([_post(0, ORIGINAL), _post(1, "Beautiful sunset over the bay tonight")])
    assert emb.seen == [ORIGINAL]
    brand, other = out
    assert brand.sentiment.label in {"negative", "neutral", "positive"} and brand.brands
    assert other.sentiment.label == "unscored" and other.sentiment.model == "firehose"
    assert other.topics == [] and other.brands == [] and other.language == "en"
