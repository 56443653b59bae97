"""Numbered schema migrations (``mNNNN_name.py``), applied in order by :mod:`pipeline.storage.migrate`.

Each module defines ``FORWARDS`` and ``BACKWARDS`` (lists of SQL statements) and may set
``MIN_SERVER_VERSION`` (a tuple): older servers skip it with a warning (e.g. TTL needs >= 19.6).
SQL here must also run on ClickHouse 18.16 unless ``MIN_SERVER_VERSION`` says otherwise.
"""
