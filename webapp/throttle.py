"""Sending rate limits: a sliding window for the whole instance and one per recipient domain.

Every worker asks before each message. With a Redis broker the windows live in Redis, so all
workers on all machines share them; otherwise (the embedded default runs one worker) they live in
the process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from webapp.config import Config

GLOBAL_WINDOW = 1.0  # seconds: AMORCE_SEND_RATE is per second
DOMAIN_WINDOW = 60.0  # seconds: AMORCE_DOMAIN_RATE is per minute
# Widen each window a little, so that messages started inside the limit still arrive inside it
# at a server that stamps them later by a varying delay (network, a busy machine).
MARGIN = 1.02
SLACK = 0.1  # seconds


@dataclass(frozen=True)
class Limit:
    """At most ``count`` sends in any ``window`` seconds."""

    count: int
    window: float


class Throttle(Protocol):
    """Blocks until one more message to ``domain`` fits every window, then counts it."""

    def acquire(self, domain: str) -> None: ...


def _limits(config: Config, domain: str) -> list[tuple[str, Limit]]:
    limits = []
    if config.send_rate > 0:
        limits.append(("all", Limit(config.send_rate, GLOBAL_WINDOW * MARGIN + SLACK)))
    if config.domain_rate > 0:
        limit = Limit(config.domain_rate, DOMAIN_WINDOW * MARGIN + SLACK)
        limits.append((f"domain:{domain.lower()}", limit))
    return limits


class LocalThrottle:
    """Sliding windows kept in this process (the embedded default's single worker)."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.sent: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def _wait(self, limits: list[tuple[str, Limit]], now: float) -> float:
        wait = 0.0
        for key, limit in limits:
            window = self.sent.setdefault(key, deque())
            while window and window[0] <= now - limit.window:
                window.popleft()
            if len(window) >= limit.count:
                wait = max(wait, window[0] + limit.window - now)
        return wait

    def acquire(self, domain: str) -> None:
        limits = _limits(self.config, domain)
        while True:
            with self.lock:
                now = self.clock()
                wait = self._wait(limits, now)
                if wait <= 0:
                    for key, _ in limits:
                        self.sent[key].append(now)
                    return
            time.sleep(wait)


# KEYS: one sorted set per window; ARGV: member, then count and window (ms) per key.
# Answers 0 and records the send when every window has room, else the milliseconds to wait.
_SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i * 2])
  local window = tonumber(ARGV[i * 2 + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= count then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local until_free = tonumber(oldest[2]) + window - now
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[i * 2 + 1]) + 1000)
end
return 0
"""


class RedisThrottle:
    """Sliding windows in Redis, shared by every worker; the Redis clock is the only clock."""

    PREFIX = "amorce:throttle:"

    def __init__(self, config: Config, client: redis.Redis) -> None:
        self.config = config
        self.client = client
        self.script = client.register_script(_SLIDING_WINDOW)
        self.counter = 0

    def acquire(self, domain: str) -> None:
        limits = _limits(self.config, domain)
        if not limits:
            return
        keys = [self.PREFIX + key for key, _ in limits]
        args: list[str | int] = []
        for _, limit in limits:
            args += [limit.count, int(limit.window * 1000)]
        while True:
            self.counter += 1
            member = f"{id(self)}:{self.counter}:{time.time_ns()}"
            wait_ms = int(self.script(keys=keys, args=[member, *args]))
            if wait_ms <= 0:
                return
            time.sleep(wait_ms / 1000)


class NoThrottle:
    """No limit configured."""

    def acquire(self, domain: str) -> None:
        return None


def throttle_for(config: Config) -> Throttle:
    """The throttle the configuration asks for: shared in Redis when the broker is Redis."""
    if config.send_rate <= 0 and config.domain_rate <= 0:
        return NoThrottle()
    if config.broker_url.startswith(("redis://", "rediss://")):
        return RedisThrottle(config, redis.Redis.from_url(config.broker_url))
    return LocalThrottle(config)
