"""The tagging stage as a plain object: a batch of RawPosts in, EnrichedPosts out.

One encoder pass per batch feeds topics, conversations, near-duplicates and the sentiment
head. Components are passed in (defaults built from settings by :func:`build_enricher`), so
tests use a fake embedder and the Faust agent only schedules batches on an executor.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from models.base import (
    BrandHit,
    BrandMatcher,
    Embedder,
    LanguageIdentifier,
    PostInput,
    SentimentResult,
    SentimentScorer,
    TopicTagger,
)
from pipeline.schema import BrandMention, EnrichedPost, RawPost, Sentiment, TopicTag
from pipeline.settings import Settings

log = logging.getLogger(__name__)

TargetedFn = Callable[[str, list[BrandHit], Callable[[list[str]], list[tuple[str, float]]]], dict[str, tuple[str, float]]]


@dataclass
class Enricher:
    """Runs every tagger over a batch; thread-safe (one batch at a time)."""

    brands: BrandMatcher
    embedder: Embedder
    sentiment: SentimentScorer
    topics: TopicTagger
    langid: LanguageIdentifier
    conversations: Any | None = None  # models.conversations.ConversationClusterer
    dedup: Any | None = None  # models.dedup.DuplicateIndex
    targeted: TargetedFn | None = None  # models.brands.targeted.brand_sentiments

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def enrich(self, posts: Sequence[RawPost], lineage: Sequence[tuple[int, int]] | None = None) -> list[EnrichedPost]:
        """Tag ``posts``; ``lineage[i]`` is the (partition, offset) of post i's raw message."""
        if not posts:
            return []
        with self._lock:
            return self._enrich(posts, lineage)

    def conversation_snapshot(self) -> list[Any]:
        """The clusterer's snapshot, taken between batches (thread-safe)."""
        if self.conversations is None:
            return []
        with self._lock:
            return list(self.conversations.snapshot())

    def _enrich(self, posts: Sequence[RawPost], lineage: Sequence[tuple[int, int]] | None) -> list[EnrichedPost]:
        texts = [p.text for p in posts]
        detected = self.langid.identify(texts)
        langs = [p.lang or d for p, d in zip(posts, detected, strict=True)]
        inputs = [
            PostInput(text=p.text, lang=lang, author_handle=p.author.handle, author_id=p.author.id, source=p.source)
            for p, lang in zip(posts, langs, strict=True)
        ]
        hits = self.brands.match(inputs)
        encoded = self.embedder.encode(texts)
        sentiments = self.sentiment.score(texts, encoded, langs)
        topic_tags = self.topics.tag(encoded.embeddings)
        conv_ids: list[str | None] = [None] * len(posts)
        if self.conversations is not None:
            conv_ids = list(self.conversations.assign(encoded.embeddings, texts, [p.created_at for p in posts]))
        dups: list[str | None] = [None] * len(posts)
        if self.dedup is not None:
            dups = list(self.dedup.check_batch([p.id for p in posts], texts, encoded.embeddings,
                                               [p.repost_of_post for p in posts]))
        out: list[EnrichedPost] = []
        for i, post in enumerate(posts):
            dup = dups[i]
            mentions = self._mentions(post.text, hits[i], sentiments[i], langs[i])
            part, off = lineage[i] if lineage else (-1, -1)
            s = sentiments[i]
            out.append(EnrichedPost(
                post=post, brands=mentions,
                sentiment=Sentiment(label=s.label, score=s.score, confidence=s.confidence, model=self.sentiment.name),  # type: ignore[arg-type]
                topics=[TopicTag(topic_id=t, score=sc) for t, sc in topic_tags[i]],
                language=langs[i] or "und", duplicate_of=dup, conversation_id=conv_ids[i],
                kafka_partition=part, kafka_offset=off,
            ))
        return out

    def _mentions(self, text: str, hits: list[BrandHit], post_sent: SentimentResult, lang: str | None) -> list[BrandMention]:
        per_brand: dict[str, tuple[str, float]] = {}
        distinct = {h.brand_id for h in hits}
        if len(distinct) > 1 and self.targeted is not None and post_sent.label != "unsupported":
            def score_fn(clauses: list[str]) -> list[tuple[str, float]]:
                res = self.sentiment.score(clauses, self.embedder.encode(clauses), [lang] * len(clauses))
                return [(r.label, r.score) for r in res]

            per_brand = self.targeted(text, hits, score_fn)
        return [
            BrandMention(
                brand_id=h.brand_id, matched_text=h.matched_text, start=h.start, end=h.end, rule=h.rule,
                sentiment=per_brand.get(h.brand_id, (post_sent.label, post_sent.score))[0],  # type: ignore[arg-type]
                sentiment_score=per_brand.get(h.brand_id, (post_sent.label, post_sent.score))[1],
            )
            for h in hits
        ]


def build_enricher(settings: Settings, embedder_name: str | None = None) -> Enricher:
    """Default components from settings (loads models once; call in the worker, not at import)."""
    import models.brands  # noqa: F401 - registers the brand matcher
    import models.embedding  # noqa: F401 - registers embedders
    import models.langid  # noqa: F401 - registers language id
    import models.sentiment  # noqa: F401 - registers sentiment scorers
    from models.base import registry
    from models.brands.config import load_brands
    from models.brands.targeted import brand_sentiments
    from models.conversations import ConversationClusterer
    from models.dedup import DuplicateIndex
    from models.topics import EmbeddingTopicTagger

    embedder = registry.create("embedder", embedder_name or settings.embedder, cache_dir=settings.model_cache_dir)
    return Enricher(
        brands=registry.create("brand_matcher", "spacy", brands=load_brands(settings.brands_file)),
        embedder=embedder,
        sentiment=registry.create("sentiment", settings.sentiment_model),
        topics=EmbeddingTopicTagger.from_yaml(settings.topics_file, embedder),
        langid=registry.create("langid", "default"),
        conversations=ConversationClusterer(id_prefix=f"conv-{uuid.uuid4().hex[:6]}-"),
        dedup=DuplicateIndex(),
        targeted=brand_sentiments,
    )
