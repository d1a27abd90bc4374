"""./bin/dev's processes stop cleanly on Ctrl-C: the Procfile's worker exits by itself, without
ERRORs, well inside the time bin/dev gives honcho before it SIGKILLs what is left."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import honcho.manager

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]


def procfile():
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(
        re.match(r"^([\w-]+):\s*(.+)$", line).groups() for line in lines if line[:1].isalnum()
    )


def dev_kill_wait():
    """The seconds bin/dev lets honcho wait before SIGKILL."""
    return int(re.search(r"honcho\.manager\.KILL_WAIT = (\d+)", (ROOT / "bin/dev").read_text())[1])


def test_every_procfile_line_execs_its_program():
    # Without exec, honcho's SIGTERM kills the shell around the program and reports its -15.
    assert set(procfile()) == {"web", "worker", "charges", "beat", "stripe", "stripe-webhooks"}
    assert all(command.startswith("exec ") for command in procfile().values())


def test_bin_dev_waits_longer_than_honchos_default():
    assert hasattr(honcho.manager, "KILL_WAIT")  # the name bin/dev sets still exists
    assert dev_kill_wait() > honcho.manager.KILL_WAIT


def test_the_worker_stops_cleanly_when_honcho_terminates_it(tmp_path):
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "GROUNDSWELL_VAR_DIR": str(tmp_path),
        "DEBUG": "true",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    env.pop("CELERY_BROKER_URL", None)  # the embedded default: the filesystem broker
    with log.open("wb") as out:
        # As honcho runs it: through a shell, in a session (and process group) of its own.
        worker = subprocess.Popen(
            procfile()["worker"],
            shell=True,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            assert wait_for(lambda: b" ready." in log.read_bytes(), 60, 0.1), log.read_text()
            started = time.monotonic()
            os.killpg(worker.pid, signal.SIGTERM)  # what honcho does on Ctrl-C
            returncode = worker.wait(timeout=dev_kill_wait())
            elapsed = time.monotonic() - started
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    output = log.read_text()
    assert returncode == 0, output  # the worker's own warm-shutdown exit, not a signal
    assert "ERROR" not in output
    assert elapsed < dev_kill_wait() - 5, f"took {elapsed:.1f} s"
