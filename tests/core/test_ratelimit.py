"""core.ratelimit: the token-bucket arithmetic on an injected clock, the file and Redis buckets
shared by several processes, the refusal to run unlimited without Redis, and backoff_delay."""

import json
import multiprocessing
import threading
import time
import uuid

import pytest

from core import ratelimit
from core.ratelimit import (
    FileBackend,
    MemoryBackend,
    RateLimitTimeout,
    RateLimitUnavailable,
    RedisBackend,
    TokenBucket,
    backoff_delay,
    shared_bucket,
)


class FakeClock:
    def __init__(self, now=1_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(params=["memory", "file"])
def backend(request, clock, tmp_path):
    if request.param == "memory":
        return MemoryBackend(clock=clock)
    return FileBackend(tmp_path / "ratelimit", clock=clock)


@pytest.fixture
def fake_sleep(monkeypatch, clock):
    """acquire() sleeps on the fake clock: each sleep advances it and is recorded."""
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr(ratelimit, "_sleep", sleep)
    monkeypatch.setattr(ratelimit, "_monotonic", clock)
    return slept


# --- The arithmetic ---------------------------------------------------------------------------


def test_a_new_bucket_is_full_and_then_says_how_long_to_wait(backend):
    bucket = TokenBucket("charges", rate=10, capacity=3, backend=backend)
    assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_acquire() == pytest.approx(0.1)
    assert bucket.try_acquire(2) == pytest.approx(0.2)


def test_tokens_refill_at_the_rate_up_to_the_capacity(backend, clock):
    bucket = TokenBucket("charges", rate=10, capacity=5, backend=backend)
    assert bucket.try_acquire(5) == 0.0
    clock.advance(0.25)  # 2.5 tokens
    assert bucket.try_acquire(2) == 0.0
    assert bucket.try_acquire(1) == pytest.approx(0.05)  # 0.5 left, 0.5 missing
    clock.advance(3600)
    assert bucket.try_acquire(5) == 0.0  # full again, but not more than full
    assert bucket.try_acquire(0.5) == pytest.approx(0.05)


def test_a_refusal_takes_nothing_so_the_returned_wait_is_exact(backend, clock):
    bucket = TokenBucket("charges", rate=4, capacity=1, backend=backend)
    assert bucket.try_acquire() == 0.0
    for _ in range(5):  # asking again does not push the wait further out
        assert bucket.try_acquire() == pytest.approx(0.25)
    clock.advance(0.2499)
    assert bucket.try_acquire() == pytest.approx(0.0001)
    clock.advance(0.0001)
    assert bucket.try_acquire() == 0.0
    assert bucket.try_acquire() == pytest.approx(0.25)


def test_the_default_capacity_is_one_second_and_at_least_one_token(backend):
    assert TokenBucket("a", rate=20, backend=backend).capacity == 20
    slow = TokenBucket("b", rate=0.5, backend=backend)
    assert slow.capacity == 1
    assert slow.try_acquire() == 0.0
    assert slow.try_acquire() == pytest.approx(2.0)


def test_a_bucket_may_change_rate_between_calls(backend, clock):
    TokenBucket("charges", rate=10, capacity=10, backend=backend).try_acquire(10)
    clock.advance(0.5)
    faster = TokenBucket("charges", rate=100, capacity=10, backend=backend)
    assert faster.try_acquire(10) == 0.0  # 0.5 s at 100/s refilled it (capped at 10)
    smaller = TokenBucket("charges", rate=100, capacity=2, backend=backend)
    clock.advance(1)
    assert smaller.try_acquire(2) == 0.0
    assert smaller.try_acquire(1) == pytest.approx(0.01)


def test_buckets_of_different_names_are_independent(backend):
    TokenBucket("a", rate=1, capacity=1, backend=backend).try_acquire()
    assert TokenBucket("b", rate=1, capacity=1, backend=backend).try_acquire() == 0.0


def test_a_clock_going_backwards_refills_nothing(backend, clock):
    bucket = TokenBucket("charges", rate=10, capacity=1, backend=backend)
    bucket.try_acquire()
    clock.advance(-30)
    assert bucket.try_acquire() == pytest.approx(0.1)
    clock.advance(0.1)
    assert bucket.try_acquire() == 0.0


@pytest.mark.parametrize("tokens", [0, -1, 4])
def test_impossible_requests_are_refused(backend, tokens):
    bucket = TokenBucket("charges", rate=10, capacity=3, backend=backend)
    with pytest.raises(ValueError):
        bucket.try_acquire(tokens)


@pytest.mark.parametrize(
    "kwargs", [{"rate": 0}, {"rate": -5}, {"rate": 5, "capacity": 0}, {"name": "../etc"}]
)
def test_bad_buckets_are_refused(kwargs):
    with pytest.raises(ValueError):
        TokenBucket(kwargs.pop("name", "charges"), **{"rate": 1, **kwargs})


def test_the_memory_backend_never_overdraws_under_threads(clock):
    bucket = TokenBucket("charges", rate=1, capacity=50, backend=MemoryBackend(clock=clock))
    granted = []
    start = threading.Barrier(8)

    def worker():
        start.wait()
        granted.extend(1 for _ in range(20) if bucket.try_acquire() == 0.0)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 50  # the clock stands still: exactly the capacity, of 160 asked


# --- acquire ----------------------------------------------------------------------------------


def test_acquire_sleeps_the_wait_with_a_little_jitter(clock, fake_sleep):
    bucket = TokenBucket("charges", rate=10, capacity=1, backend=MemoryBackend(clock=clock))
    assert bucket.acquire() == 0.0
    assert fake_sleep == []
    waited = bucket.acquire()
    assert len(fake_sleep) == 1
    assert 0.1 <= fake_sleep[0] <= 0.1 * (1 + ratelimit.ACQUIRE_JITTER)
    assert waited == pytest.approx(fake_sleep[0])


def test_acquire_tries_again_when_another_worker_took_the_token(clock, fake_sleep):
    backend = MemoryBackend(clock=clock)
    bucket = TokenBucket("charges", rate=10, capacity=1, backend=backend)
    bucket.try_acquire()
    rival = TokenBucket("charges", rate=10, capacity=1, backend=backend)
    real_sleep = ratelimit._sleep

    def sleep_and_lose_the_race(seconds):
        real_sleep(seconds)
        if len(fake_sleep) == 1:
            assert rival.try_acquire() == 0.0

    ratelimit._sleep = sleep_and_lose_the_race  # restored by monkeypatch (fake_sleep)
    waited = bucket.acquire()
    assert len(fake_sleep) == 2
    assert waited == pytest.approx(sum(fake_sleep))
    assert waited >= 0.2


def test_acquire_gives_up_at_its_timeout_without_taking_anything(clock, fake_sleep):
    bucket = TokenBucket("charges", rate=2, capacity=1, backend=MemoryBackend(clock=clock))
    bucket.try_acquire()
    with pytest.raises(RateLimitTimeout):
        bucket.acquire(timeout=0.3)  # the wait (0.5 s) is known to outlast it: no sleep
    assert fake_sleep == []
    with pytest.raises(RateLimitTimeout):
        bucket.acquire(timeout=0)
    assert bucket.acquire(timeout=0.5) == pytest.approx(0.5)  # never sleeps past the timeout
    assert fake_sleep == [0.5]


# --- The file backend -------------------------------------------------------------------------


def test_the_file_state_is_shared_by_every_backend_on_the_directory(tmp_path, clock):
    first = TokenBucket("charges", rate=1, capacity=2, backend=FileBackend(tmp_path, clock=clock))
    second = TokenBucket("charges", rate=1, capacity=2, backend=FileBackend(tmp_path, clock=clock))
    assert first.try_acquire() == 0.0
    assert second.try_acquire() == 0.0
    assert first.try_acquire() == pytest.approx(1.0)
    state = json.loads((tmp_path / "charges.bucket").read_text())
    assert state == {"tokens": 0.0, "stamp": clock.now}


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"tokens": "x"}', b'{"tokens": NaN}'])
def test_a_missing_or_corrupt_file_starts_full(tmp_path, clock, content):
    directory = tmp_path / "not" / "there" / "yet"
    bucket = TokenBucket("charges", rate=1, capacity=2, backend=FileBackend(directory, clock=clock))
    assert bucket.try_acquire(2) == 0.0
    (directory / "charges.bucket").write_bytes(content)
    assert bucket.try_acquire(2) == 0.0
    assert bucket.try_acquire() == pytest.approx(1.0)


# --- Several processes ------------------------------------------------------------------------


def _hammer(store, name, rate, capacity, duration, start, results):
    """One worker: acquire as fast as the bucket allows for `duration` seconds."""
    backend = RedisBackend(store) if store.startswith("redis") else FileBackend(store)
    bucket = TokenBucket(name, rate=rate, capacity=capacity, backend=backend)
    start.wait(timeout=30)
    started = time.time()
    grants = []
    while (remaining := started + duration - time.time()) > 0:
        try:
            bucket.acquire(timeout=remaining)
        except RateLimitTimeout:
            break
        grants.append(time.time())
    results.put((started, time.time(), grants))


def _run_processes(store, *, processes=3, rate=50.0, capacity=10.0, duration=1.5):
    """Start `processes` workers on one bucket together; (seconds, sorted grant times)."""
    ctx = multiprocessing.get_context("spawn")  # no state inherited from the test process
    start, results = ctx.Barrier(processes), ctx.Queue()
    name = f"test-{uuid.uuid4().hex[:12]}"
    args = (store, name, rate, capacity, duration, start, results)
    workers = [ctx.Process(target=_hammer, args=args) for _ in range(processes)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    seconds = max(o[1] for o in outcomes) - min(o[0] for o in outcomes)
    grants = sorted(t for o in outcomes for t in o[2])
    assert all(o[2] for o in outcomes), "every worker got some tokens"
    return name, seconds, grants


def _assert_rate_held(seconds, grants, *, rate=50.0, capacity=10.0, window=0.5):
    assert len(grants) <= rate * seconds + capacity
    assert len(grants) >= 0.85 * rate * seconds
    # Nor does any half second see more than its share plus the burst. The times are taken
    # after each grant, in the workers, so a worker descheduled in between can shift one
    # (hence the slack of two).
    busiest = max(sum(1 for t in grants[i:] if t - grants[i] < window) for i in range(len(grants)))
    assert busiest <= rate * window + capacity + 2


def test_processes_share_the_file_bucket(tmp_path):
    name, seconds, grants = _run_processes(str(tmp_path / "ratelimit"))
    print(f"file: {len(grants)} grants in {seconds:.2f} s = {len(grants) / seconds:.1f}/s")
    _assert_rate_held(seconds, grants)


@pytest.mark.redis
def test_processes_share_the_redis_bucket():
    import redis

    from tests.conftest import redis_url

    name, seconds, grants = _run_processes(redis_url())
    print(f"redis: {len(grants)} grants in {seconds:.2f} s = {len(grants) / seconds:.1f}/s")
    _assert_rate_held(seconds, grants)
    client = redis.Redis.from_url(redis_url())
    key = ratelimit.REDIS_KEY_PREFIX + name
    assert 0 < client.pttl(key) <= 1200  # expires once it would be full anyway (0.2 s + 1 s)
    client.delete(key)


# --- Redis ------------------------------------------------------------------------------------


@pytest.mark.redis
def test_the_redis_bucket_does_the_same_arithmetic():
    from tests.conftest import redis_url

    name = f"test-{uuid.uuid4().hex[:12]}"
    bucket = TokenBucket(name, rate=1, capacity=2, backend=RedisBackend(redis_url()))
    try:
        assert bucket.try_acquire(2) == 0.0
        wait = bucket.try_acquire(0.5)
        assert 0.45 < wait <= 0.5  # the server's clock moved a little since
        assert TokenBucket(name, rate=1000, capacity=2, backend=bucket.backend).try_acquire() < 0.01
    finally:
        bucket.backend._client.delete(ratelimit.REDIS_KEY_PREFIX + name)


def test_an_unreachable_redis_is_an_error_not_an_unlimited_rate():
    bucket = TokenBucket("charges", rate=20, backend=RedisBackend("redis://:s3cret@127.0.0.1:1/0"))
    started = time.monotonic()
    with pytest.raises(RateLimitUnavailable) as raised:
        bucket.acquire()
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert "redis://:***@127.0.0.1:1/0" in message and "REDIS_URL" in message
    assert "s3cret" not in message


# --- shared_bucket ----------------------------------------------------------------------------


def test_shared_bucket_is_a_file_under_var_dir_without_redis(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.REDIS_URL = ""
    bucket = shared_bucket("stripe-charges", rate=20)
    assert isinstance(bucket.backend, FileBackend)
    assert bucket.backend.directory == tmp_path / "ratelimit"
    assert (bucket.rate, bucket.capacity) == (20, 20)
    assert shared_bucket("stripe-charges", rate=20) is bucket
    assert shared_bucket("stripe-charges", rate=80) is not bucket
    assert bucket.try_acquire() == 0.0
    assert (tmp_path / "ratelimit" / "stripe-charges.bucket").exists()


def test_shared_bucket_without_a_redis_setting_at_all(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    if hasattr(settings, "REDIS_URL"):
        del settings.REDIS_URL
    assert isinstance(shared_bucket("stripe-charges", rate=20).backend, FileBackend)


def test_shared_bucket_uses_redis_when_configured(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # unreachable: the bucket says so, loudly
    bucket = shared_bucket("stripe-charges", rate=20, capacity=5)
    assert isinstance(bucket.backend, RedisBackend)
    assert shared_bucket("stripe-charges", rate=20, capacity=5) is bucket
    with pytest.raises(RateLimitUnavailable):
        bucket.try_acquire()


# --- backoff_delay ----------------------------------------------------------------------------


@pytest.mark.parametrize(("attempt", "ceiling"), [(0, 1.0), (1, 2.0), (3, 8.0), (6, 60.0)])
def test_backoff_is_full_jitter_below_an_exponential_ceiling(attempt, ceiling):
    delays = [backoff_delay(attempt) for _ in range(300)]
    assert all(0 <= d <= ceiling for d in delays)
    # Full jitter spreads over the whole range (each bound fails with probability 2**-300).
    assert min(delays) < ceiling / 2 < max(delays)


def test_backoff_honours_base_cap_and_retry_after():
    assert all(backoff_delay(10, base=0.1, cap=5) <= 5 for _ in range(100))
    assert all(backoff_delay(0, base=0.1) <= 0.1 for _ in range(100))
    assert all(3 <= backoff_delay(0, retry_after=3) <= 3 for _ in range(100))
    assert backoff_delay(2, cap=10, retry_after=120) == 120  # the server knows best
    assert all(2 <= backoff_delay(5, retry_after=2) <= 32 for _ in range(100))
    assert 0 <= backoff_delay(10_000) <= 60  # no overflow


def test_backoff_refuses_a_negative_attempt():
    with pytest.raises(ValueError):
        backoff_delay(-1)
