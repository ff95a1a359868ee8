"""A per-key rate limit: a token bucket for each API key's name.

Each key may make ``rate`` requests a second on average and ``burst`` at once. The buckets live in
the worker process and are touched only on its event loop (``serving.deps.caller`` is async), so
they need no lock: a check is a dictionary lookup and a few float operations (under a
microsecond; ``tests/serving/test_keys.py`` measures it). With several workers each has its own
buckets: a key spread over ``n`` workers' connections may make up to ``n`` times the rate (a
kept-alive connection stays with one worker). The reverse proxy's ``limit_req`` is the limit
across workers (docs/deployment.md).

Only names of identified keys get a bucket, so their number is bounded by the key file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets by key name: ``wait(name)`` is 0.0 when a request may go ahead (and takes a
    token), else the seconds until the next token."""

    __slots__ = ("_buckets", "_burst", "_clock", "_rate")

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self._rate = float(rate)
        self._burst = float(burst)
        self._buckets: dict[str, list[float]] = {}  # name: [tokens, when last filled]
        self._clock = clock

    def wait(self, name: str) -> float:
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            self._buckets[name] = [self._burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self._rate
        if tokens > self._burst:
            tokens = self._burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self._rate


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
