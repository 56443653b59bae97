"""The tagging stage as a plain object: a batch of RawPosts in, EnrichedPosts out.

One encoder pass per batch feeds topics, conversations, near-duplicates and the sentiment
head; texts seen before (reposts, copies) reuse their tags from a :class:`TagCache`, and in
firehose mode posts that mention no tracked brand skip the encoder altogether. Components are passed in (defaults built from settings by :func:`build_enricher`), so
tests use a fake embedder and the Faust agent only schedules batches on an executor.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

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
from models.conversations import ConversationClusterer, ConversationSnapshot
from models.dedup import DuplicateIndex
from pipeline.core.brands import load_brands
from pipeline.core.schema import (
    BrandMention,
    EnrichedPost,
    RawPost,
    Sentiment,
    SentimentLabel,
    TopicTag,
)
from pipeline.core.settings import Settings, load_settings
from pipeline.tagcache import CachedTags, TagCache, canonical

log = logging.getLogger(__name__)

UNSCORED = SentimentResult(label="unscored", score=0.0, confidence=0.0)
"""Scorers return plain strings; a label outside the contract is a bug and fails here, loudly."""

TargetedFn = Callable[[str, list[BrandHit], Callable[[list[str]], list[tuple[SentimentLabel, float]]]], dict[str, tuple[SentimentLabel, float]]]


@dataclass
class Enricher:
    """Runs every tagger over a batch; thread-safe (one batch at a time)."""

    brands: BrandMatcher
    embedder: Embedder
    sentiment: SentimentScorer
    topics: TopicTagger
    langid: LanguageIdentifier
    conversations: ConversationClusterer | None = None
    dedup: DuplicateIndex | None = None
    targeted: TargetedFn | None = None  # models.brands.targeted.brand_sentiments
    cache: TagCache = field(default_factory=TagCache)
    firehose: bool = False  # expensive tags only for posts that mention a tracked brand

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def enrich(self, posts: Sequence[RawPost], lineage: Sequence[tuple[int, int]] | None = None) -> list[EnrichedPost]:
        """Tag ``posts``; ``lineage[i]`` is the (partition, offset) of post i's raw message."""
        if not posts:
            return []
        with self._lock:
            return self._enrich(posts, lineage)

    def conversation_snapshot(self) -> list[ConversationSnapshot]:
        """The clusterer's snapshot, taken between batches (thread-safe)."""
        if self.conversations is None:
            return []
        with self._lock:
            return list(self.conversations.snapshot())

    def _enrich(self, posts: Sequence[RawPost], lineage: Sequence[tuple[int, int]] | None) -> list[EnrichedPost]:
        texts = [p.text for p in posts]
        keys = [canonical(t) for t in texts]  # what copies share: cache key and the expensive tags' input
        cached = [self.cache.get(k) for k in keys]
        langs = self._languages(posts, cached)
        inputs = [
            PostInput(text=p.text, lang=lang, author_handle=p.author.handle, author_id=p.author.id, source=p.source)
            for p, lang in zip(posts, langs, strict=True)
        ]
        hits = self.brands.match(inputs)
        tags = self._expensive_tags(keys, cached, hits, langs)
        tagged = [i for i, t in enumerate(tags) if t is not None]
        conv_ids: list[str | None] = [None] * len(posts)
        dups: list[str | None] = [None] * len(posts)
        if tagged:
            vectors = np.stack([t.embedding for t in tags if t is not None])
            sub_texts = [texts[i] for i in tagged]
            if self.conversations is not None:
                assigned = self.conversations.assign(vectors, sub_texts, [posts[i].created_at for i in tagged])
                for i, c in zip(tagged, assigned, strict=True):
                    conv_ids[i] = c
            if self.dedup is not None:
                found = self.dedup.check_batch([posts[i].id for i in tagged], sub_texts, vectors,
                                               [posts[i].repost_of_post for i in tagged])
                for i, d in zip(tagged, found, strict=True):
                    dups[i] = d
        out: list[EnrichedPost] = []
        for i, post in enumerate(posts):
            t = tags[i]
            s = t.sentiment if t is not None else UNSCORED
            part, off = lineage[i] if lineage else (-1, -1)
            out.append(EnrichedPost(
                post=post, brands=self._mentions(post.text, hits[i], s, langs[i]),
                sentiment=Sentiment(label=s.label, score=s.score, confidence=s.confidence,
                                    model=self.sentiment.name if t is not None else "firehose"),
                topics=[TopicTag(topic_id=tid, score=sc) for tid, sc in (t.topics if t else [])],
                language=langs[i] or "und", duplicate_of=dups[i], conversation_id=conv_ids[i],
                kafka_partition=part, kafka_offset=off,
            ))
        return out

    def _languages(self, posts: Sequence[RawPost], cached: Sequence[CachedTags | None]) -> list[str]:
        """The post's own language, else the cached text's, else language id (cheap)."""
        todo = [i for i, (p, c) in enumerate(zip(posts, cached, strict=True)) if not p.lang and c is None]
        detected = dict(zip(todo, self.langid.identify([posts[i].text for i in todo]), strict=True)) if todo else {}
        return [p.lang or (c.lang if c is not None else detected[i]) for i, (p, c) in enumerate(zip(posts, cached, strict=True))]

    def _expensive_tags(self, keys: Sequence[str], cached: Sequence[CachedTags | None],
                        hits: Sequence[list[BrandHit]], langs: Sequence[str]) -> list[CachedTags | None]:
        """Encoder, sentiment and topics once per distinct uncached canonical text ``keys[i]`` (in
        firehose mode only for posts that mention a brand); ``None`` where a post gets the cheap
        tags only."""
        todo: dict[str, int] = {}  # canonical text -> first post that needs it
        for i, (key, c) in enumerate(zip(keys, cached, strict=True)):
            if c is None and (hits[i] or not self.firehose):
                todo.setdefault(key, i)
        if not todo:
            return list(cached)
        first = list(todo.values())
        texts = list(todo)  # canonical texts: a post's tags do not depend on which copy came first
        encoded = self.embedder.encode(texts)
        sentiments = self.sentiment.score(texts, encoded, [langs[i] for i in first])
        topic_tags = self.topics.tag(encoded.embeddings)
        fresh: dict[str, CachedTags] = {}
        for j, (key, i) in enumerate(todo.items()):
            fresh[key] = CachedTags(embedding=encoded.embeddings[j], sentiment=sentiments[j],
                                    topics=list(topic_tags[j]), lang=langs[i])
            self.cache.put(key, fresh[key])
        return [c if c is not None else fresh.get(key) for key, c in zip(keys, cached, strict=True)]

    def _mentions(self, text: str, hits: list[BrandHit], post_sent: SentimentResult, lang: str | None) -> list[BrandMention]:
        per_brand: dict[str, tuple[SentimentLabel, float]] = {}
        distinct = {h.brand_id for h in hits}
        if len(distinct) > 1 and self.targeted is not None and post_sent.label != "unsupported":
            def score_fn(clauses: list[str]) -> list[tuple[SentimentLabel, float]]:
                res = self.sentiment.score(clauses, self.embedder.encode(clauses), [lang] * len(clauses))
                return [(r.label, r.score) for r in res]

            per_brand = self.targeted(text, hits, score_fn)
        mentions = []
        for h in hits:
            label, score = per_brand.get(h.brand_id, (post_sent.label, post_sent.score))
            mentions.append(BrandMention(brand_id=h.brand_id, matched_text=h.matched_text, start=h.start, end=h.end,
                                         rule=h.rule, sentiment=label, sentiment_score=score))
        return mentions


def build_embedder(name: str | None = None, settings: Settings | None = None) -> Embedder:
    """The embedder ``name`` (default: the settings'), built as the worker builds it: model cache
    directory and thread count from the settings."""
    from models.factories import registry

    settings = settings or load_settings()
    return registry.create("embedder", name or settings.embedder, cache_dir=settings.model_cache_dir,
                           threads=settings.encoder_threads)


def build_enricher(settings: Settings, embedder_name: str | None = None) -> Enricher:
    """Default components from settings (loads models once; call in the worker, not at import)."""
    from models.brands.targeted import brand_sentiments
    from models.factories import registry
    from models.topics import EmbeddingTopicTagger

    embedder = build_embedder(embedder_name, settings)
    return Enricher(
        brands=registry.create("brand_matcher", "spacy", brands=load_brands(settings.brands_file)),
        embedder=embedder,
        sentiment=registry.create("sentiment", settings.sentiment_model),
        topics=EmbeddingTopicTagger.from_yaml(settings.topics_file, embedder),
        langid=registry.create("langid", "default"),
        conversations=ConversationClusterer(id_prefix=f"conv-{uuid.uuid4().hex[:6]}-"),
        dedup=DuplicateIndex(),
        targeted=brand_sentiments,
        cache=TagCache(settings.tag_cache_size),
        firehose=settings.firehose,
    )
