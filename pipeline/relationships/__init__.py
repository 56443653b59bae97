"""Relationships with voices: the roster (discover → listen → participate → engage), the people
who own the voices, owner suggestions, interactions, alerts and digests.  Plain modules, no Faust;
storage is :mod:`pipeline.storage.roster`."""
