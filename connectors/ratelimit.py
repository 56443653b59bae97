"""A thread-safe token bucket."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. :meth:`acquire` blocks until a
    token is free (or ``stop`` is set, then it returns False)."""

    def __init__(self, rate: float, burst: int = 1, clock=time.monotonic) -> None:  # noqa: ANN001
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def try_acquire(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` if available and return 0; otherwise return the seconds to wait."""
        with self._lock:
            self._refill()
            if self._tokens >= tokens:
                self._tokens -= tokens
                return 0.0
            return (tokens - self._tokens) / self.rate

    def acquire(self, tokens: float = 1.0, stop: threading.Event | None = None) -> bool:
        """Block until ``tokens`` are taken. Returns False if ``stop`` was set while waiting."""
        while True:
            wait = self.try_acquire(tokens)
            if wait <= 0:
                return True
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                time.sleep(wait)
