"""Fixtures of the fault-injection tests: a private Redis database, the stand-in with a short
search lag, and a cluster of real processes torn down before the test database is flushed."""

import pytest

from tests.faults.harness import (
    SEARCH_LAG_SECONDS,
    Cluster,
    claim_private_redis,
    release_private_redis,
)


@pytest.fixture
def private_redis():
    """Broker and rate ceiling of the cluster: a Redis database of its own (flushed on purpose
    by one scenario, so never the one REDIS_URL or CELERY_BROKER_URL names)."""
    url = claim_private_redis()
    yield url
    release_private_redis(url)


@pytest.fixture
def standin(standin_settings):
    """The session's stand-in, emptied, its search lagging as Stripe's does (a little); emptied
    again afterwards, so no fault switch or webhook endpoint of ours outlives the test."""
    standin_settings.set_faults(search_lag_s=SEARCH_LAG_SECONDS)
    yield standin_settings
    standin_settings.reset()


@pytest.fixture
def cluster(transactional_db, tmp_path, private_redis, standin):
    """Processes started by the test (`cluster.start_standard()` …); stopped before the test
    database is flushed. Their logs are printed, so a failing test shows them."""
    processes = Cluster(tmp_path=tmp_path, broker_url=private_redis, standin_url=standin.base_url)
    yield processes
    processes.stop()
    print(processes.logs(lines=60))
