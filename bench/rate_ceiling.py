"""Benchmark: does the shared rate ceiling (core.ratelimit) deliver its rate R to several
processes hammering one bucket, and never more?

For each backend (the file bucket of the embedded default, and Redis when --redis or
REDIS_URL is given), each rate R and each number N of worker processes, N spawned processes
call `acquire()` on one fresh bucket (capacity: one second's worth) as fast as it grants for
--duration seconds. Printed, as ratios against R:

- achieved/R: (grants - capacity) / (R x seconds): the bucket starts full, so everything
  beyond its capacity had to be refilled; 1.0 is the ceiling, target >= 0.9;
- peak/R: the most grants in any one-second window / (R + capacity): <= 1.0 means no second
  ever saw more than the rate plus the allowed burst.

    .venv/bin/python bench/rate_ceiling.py [--rates 20 100] [--processes 1 2 4]
        [--duration 3] [--redis redis://127.0.0.1:6379/9]
"""

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.ratelimit import (  # noqa: E402
    REDIS_KEY_PREFIX,
    FileBackend,
    RateLimitTimeout,
    RedisBackend,
    TokenBucket,
)

TARGET = 0.9


def backend_for(store):
    return RedisBackend(store) if store.startswith("redis") else FileBackend(store)


def hammer(store, name, rate, duration, start, results):
    bucket = TokenBucket(name, rate=rate, backend=backend_for(store))
    start.wait(timeout=60)
    started = time.time()
    grants = []
    while (remaining := started + duration - time.time()) > 0:
        try:
            bucket.acquire(timeout=remaining)
        except RateLimitTimeout:
            break
        grants.append(time.time())
    results.put((started, time.time(), grants))


def run(store, *, rate, processes, duration):
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(processes), ctx.Queue()
    name = f"bench-{uuid.uuid4().hex[:12]}"
    workers = [
        ctx.Process(target=hammer, args=(store, name, rate, duration, start, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=duration + 120) for _ in workers]
    for worker in workers:
        worker.join()
    if store.startswith("redis"):
        backend_for(store)._client.delete(REDIS_KEY_PREFIX + name)
    seconds = max(o[1] for o in outcomes) - min(o[0] for o in outcomes)
    grants = sorted(t for o in outcomes for t in o[2])
    capacity = max(rate, 1.0)
    achieved = (len(grants) - capacity) / (rate * seconds)
    peak, j = 0, 0
    for i, t in enumerate(grants):  # two pointers: grants in [t, t + 1 s)
        while j < len(grants) and grants[j] - t < 1.0:
            j += 1
        peak = max(peak, j - i)
    return len(grants), seconds, achieved, peak / (rate + capacity)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", type=float, nargs="+", default=[20.0, 100.0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""))
    options = parser.parse_args()

    worst = None
    with TemporaryDirectory(prefix="gs-ratelimit-") as directory:
        stores = [("file", directory)] + ([("redis", options.redis)] if options.redis else [])
        print(
            f"{'backend':8} {'R/s':>6} {'N':>3} {'grants':>7} {'s':>6} {'achieved/R':>11} "
            f"{'peak/R':>7}"
        )
        for label, store in stores:
            for rate in options.rates:
                for processes in options.processes:
                    granted, seconds, achieved, peak = run(
                        store, rate=rate, processes=processes, duration=options.duration
                    )
                    worst = achieved if worst is None else min(worst, achieved)
                    print(
                        f"{label:8} {rate:6g} {processes:3} {granted:7} {seconds:6.2f} "
                        f"{achieved:11.3f} {peak:7.3f}"
                    )
    verdict = "meets" if worst >= TARGET else "MISSES"
    print(f"worst achieved/R {worst:.3f}: {verdict} the target of {TARGET}")
    return 0 if worst >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
