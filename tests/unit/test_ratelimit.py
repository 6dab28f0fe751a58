from __future__ import annotations

import pytest

from shared.web.problems import Problem
from shared.web.ratelimit import RateLimiter


def test_a_key_over_its_rate_gets_429_with_retry_after_and_others_do_not() -> None:
    limiter = RateLimiter(rate_per_s=2, burst=3)
    for _ in range(3):
        limiter.check("k1", now=100.0)
    with pytest.raises(Problem) as refused:
        limiter.check("k1", now=100.0)
    assert refused.value.status == 429
    assert refused.value.headers == {"Retry-After": "1"}
    limiter.check("k2", now=100.0)
    limiter.check("k1", now=100.6)  # 1.2 tokens refilled


def test_zero_means_no_limit() -> None:
    limiter = RateLimiter(rate_per_s=0, burst=1)
    for _ in range(1000):
        limiter.check("k", now=1.0)
