"""Reads for the API (and the demo and benchmarks), one module per subject; :class:`pipeline.storage.repository.Repository`
exposes them (``repo.mentions``, ``repo.conversations``, ``repo.voices``, ``repo.alerts``,
``repo.posts``).

All SQL uses typed placeholders; optional filters add constant SQL fragments, never values.
Counts merge the ``uniqExact`` states per minute and then add minutes up: a post has one
``created_at``, so its redeliveries share a minute and the sum stays exact, while small per-minute
sets are far cheaper than one set of millions of ids. The SQL avoids features newer than
ClickHouse 18.16 (no ``toStartOfInterval``, no ``JOIN ... ON``, no window functions), so the same
statements run on chDB and on an old server.  Rows come back as dicts (the ClickHouse boundary);
the API shapes them into its JSON.
"""
