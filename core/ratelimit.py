"""A rate ceiling shared by every process of a deployment: a token bucket kept in Redis (when
REDIS_URL is set) or in a locked file under VAR_DIR (the embedded default), plus jittered
exponential backoff for retrying rate-limited calls.

Charge workers call `shared_bucket("stripe-charges", rate=R).acquire()` before each call to
Stripe, so the combined rate of all of them stays under R however many there are.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import random
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

# acquire() sleeps a little longer than it was told to (up to 10 %), so that workers that were
# told the same wait do not all come back at the same instant. It costs no throughput: tokens
# keep accruing while a worker oversleeps, as long as demand keeps the bucket below capacity.
ACQUIRE_JITTER = 0.1
REDIS_KEY_PREFIX = "groundswell:ratelimit:"
# Bucket names become file names and Redis keys.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

# acquire() sleeps and reads the time through these, so tests can replace them.
_sleep = time.sleep
_monotonic = time.monotonic


class RateLimitTimeout(Exception):
    """acquire() could not get its tokens before its timeout."""


class RateLimitUnavailable(Exception):
    """The shared store (Redis) cannot be reached: the caller must not go ahead unlimited."""


def _refill_and_take(level, stamp, *, now, tokens, rate, capacity):
    """The token-bucket step every backend performs under its own lock.

    level, stamp: the stored state (None, None when there is none: a full bucket).
    Returns (new_level, new_stamp, wait): wait is 0.0 when the tokens were taken, else the
    seconds until enough will have accrued (and nothing is taken).
    """
    if level is None or stamp is None:
        level = capacity
    else:
        # A clock that went backwards refills nothing (rather than draining the bucket).
        level = min(capacity, level + max(0.0, now - stamp) * rate)
    if level >= tokens:
        return level - tokens, now, 0.0
    return level, now, (tokens - level) / rate


class MemoryBackend:
    """One process's buckets in a dict: for tests (thread-safe; `clock` can be injected)."""

    def __init__(self, *, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._state = {}

    def take(self, name, *, tokens, rate, capacity):
        with self._lock:
            level, stamp = self._state.get(name, (None, None))
            level, stamp, wait = _refill_and_take(
                level, stamp, now=self._clock(), tokens=tokens, rate=rate, capacity=capacity
            )
            self._state[name] = (level, stamp)
            return wait


class FileBackend:
    """Buckets shared by every process of one machine: a small JSON state file per bucket,
    read and rewritten under an exclusive flock.

    The time is wall-clock time (time.time()), the only clock that processes share. A missing,
    empty or corrupt file counts as a full bucket.
    """

    def __init__(self, directory, *, clock=time.time):
        self.directory = Path(directory)
        self._clock = clock

    def path_for(self, name):
        return self.directory / f"{name}.bucket"

    def take(self, name, *, tokens, rate, capacity):
        self.directory.mkdir(parents=True, exist_ok=True)
        # Opened on every call rather than kept open: a descriptor inherited through fork()
        # shares its flock with the parent, so the two would not exclude each other; and a
        # state file deleted meanwhile is recreated instead of silently forking the state.
        fd = os.open(self.path_for(name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            level, stamp = _parse_state(os.read(fd, 4096))
            level, stamp, wait = _refill_and_take(
                level, stamp, now=self._clock(), tokens=tokens, rate=rate, capacity=capacity
            )
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"tokens": level, "stamp": stamp}).encode())
            return wait
        finally:
            os.close(fd)  # also releases the lock


def _parse_state(raw):
    try:
        state = json.loads(raw)
        level, stamp = float(state["tokens"]), float(state["stamp"])
    except (ValueError, TypeError, KeyError):
        return None, None
    if not (math.isfinite(level) and math.isfinite(stamp)):
        return None, None
    return level, stamp


# Refill and take in one atomic step, timed by the Redis server's clock (TIME), so the clocks
# of the workers' machines do not matter. Numbers are passed back and stored as strings
# formatted by hand: Redis converts Lua numbers to integers on return, and to strings with only
# 14 significant digits when stored, which would round an epoch timestamp to 0.1 ms steps.
_TAKE_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local ttl_ms = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local level = tonumber(state[1])
local stamp = tonumber(state[2])
if level == nil or stamp == nil then
  level = capacity
else
  local elapsed = now - stamp
  if elapsed < 0 then elapsed = 0 end
  level = math.min(capacity, level + elapsed * rate)
end
local wait = 0
if level >= tokens then
  level = level - tokens
else
  wait = (tokens - level) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', level),
           'stamp', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return string.format('%.17g', wait)
"""


class RedisBackend:
    """Buckets shared by every process that reaches one Redis, on any number of machines."""

    def __init__(self, url, *, client=None):
        import redis

        self.url = url
        self._client = client or redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2
        )
        self._script = self._client.register_script(_TAKE_LUA)  # EVALSHA, EVAL on NOSCRIPT

    def take(self, name, *, tokens, rate, capacity):
        import redis

        # Once the key would have refilled to capacity it says nothing a missing key does not,
        # so it may expire then (with a second's margin).
        ttl_ms = math.ceil(capacity / rate * 1000) + 1000
        try:
            wait = self._script(
                keys=[REDIS_KEY_PREFIX + name], args=[repr(rate), repr(capacity), tokens, ttl_ms]
            )
        except redis.RedisError as exc:
            raise RateLimitUnavailable(
                f"rate limiter {name!r}: Redis at {_redacted(self.url)} (REDIS_URL) failed: {exc}"
            ) from exc
        return float(wait)


def _redacted(url):
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class TokenBucket:
    """A token bucket of `capacity` tokens (default: one second's worth, at least 1) refilled
    at `rate` tokens per second. Its state lives in `backend` (default: this process's memory),
    keyed by `name`, as a level and a timestamp, so buckets of one name may change rate."""

    def __init__(self, name: str, *, rate: float, capacity: float | None = None, backend=None):
        if not _NAME_RE.match(name):
            raise ValueError(f"bucket name {name!r}: use letters, digits, '_', '.', '-'")
        if not rate > 0:
            raise ValueError(f"rate must be positive, not {rate!r}")
        self.name = name
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(rate, 1.0))
        if not self.capacity > 0:
            raise ValueError(f"capacity must be positive, not {capacity!r}")
        self.backend = backend if backend is not None else MemoryBackend()

    def __repr__(self):
        return (
            f"<TokenBucket {self.name!r} rate={self.rate:g}/s capacity={self.capacity:g} "
            f"in {type(self.backend).__name__}>"
        )

    def try_acquire(self, tokens: float = 1) -> float:
        """0.0 if granted now, else the seconds to wait before trying again (nothing taken)."""
        if not 0 < tokens <= self.capacity:
            # More than the capacity could never be granted: refuse instead of waiting forever.
            raise ValueError(f"cannot take {tokens!r} tokens from {self!r}")
        return self.backend.take(self.name, tokens=tokens, rate=self.rate, capacity=self.capacity)

    def acquire(self, tokens: float = 1, *, timeout: float | None = None) -> float:
        """Block (sleeping the returned waits, with a little jitter) until granted; returns the
        seconds waited; raises RateLimitTimeout if `timeout` passes first."""
        started = _monotonic()
        while True:
            wait = self.try_acquire(tokens)
            if wait == 0:
                return _monotonic() - started
            pause = wait * (1 + random.random() * ACQUIRE_JITTER)
            if timeout is not None:
                remaining = started + timeout - _monotonic()
                # Give up as soon as the wait is known to outlast the timeout.
                if wait > remaining:
                    raise RateLimitTimeout(f"{self!r}: no {tokens:g} token(s) within {timeout:g} s")
                pause = min(pause, remaining)
            _sleep(pause)


_shared_buckets = {}
_shared_lock = threading.Lock()


def shared_bucket(name: str, *, rate: float, capacity: float | None = None) -> TokenBucket:
    """The bucket for this deployment: Redis when settings.REDIS_URL (getattr, default "") is
    set, else a file under settings.VAR_DIR / "ratelimit" shared by every process of the
    machine (fcntl.flock on a small state file). Cached per (name, rate, capacity) per process.
    """
    redis_url = getattr(settings, "REDIS_URL", "") or ""
    directory = Path(settings.VAR_DIR) / "ratelimit"
    # The store is part of the key too, so a settings override (in tests) gets a new bucket.
    key = (name, rate, capacity, redis_url or str(directory))
    with _shared_lock:
        bucket = _shared_buckets.get(key)
        if bucket is None:
            backend = RedisBackend(redis_url) if redis_url else FileBackend(directory)
            bucket = _shared_buckets[key] = TokenBucket(
                name, rate=rate, capacity=capacity, backend=backend
            )
        return bucket


def backoff_delay(
    attempt: int, *, base: float = 1.0, cap: float = 60.0, retry_after: float | None = None
) -> float:
    """Exponential backoff with full jitter (AWS's "full jitter"), never below retry_after.

    attempt: how many tries have failed so far, less one (0 before the first retry), so the
    delay is uniform in [0, min(cap, base * 2**attempt)]; a server's Retry-After (seconds)
    wins when it is longer, even beyond `cap`.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, not {attempt!r}")
    # min() on the exponent first: 2**attempt would overflow a float for attempts past ~1000.
    ceiling = min(cap, base * 2.0 ** min(attempt, 64))
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
