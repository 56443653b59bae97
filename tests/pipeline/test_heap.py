"""The worker freezes its long-lived heap once loaded, after freeing what is already garbage."""

from __future__ import annotations

import gc
import weakref

from pipeline.runtime.heap import freeze_long_lived


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_garbage_is_collected_before_the_live_heap_is_frozen() -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a reference cycle: only the collector can free it
    dead = weakref.ref(a)
    del a, b
    alive = _Node()
    try:
        frozen = freeze_long_lived()
        assert dead() is None, "garbage present at start-up must be freed, not frozen for the process's life"
        assert frozen == gc.get_freeze_count() > 0
        assert not any(o is alive for o in gc.get_objects(generation=2)), "live objects move out of full passes"
    finally:
        gc.unfreeze()
