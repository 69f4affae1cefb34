"""``careplace worker`` from the command line: one pass with ``--once``, and a clean stop on SIGTERM."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from careplace.db import make_db_engine, make_session_factory
from scheduler_helpers import read_diagram
from engine.runtime import Engine

CAREPLACE = str(Path(sys.executable).with_name("careplace"))
STOP_TIMEOUT_SECONDS = 10


@pytest.fixture
def sqlite_file_url(sqlite_template, tmp_path) -> str:
    path = tmp_path / "careplace.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(sqlite_file_url):
    db_engine = make_db_engine(sqlite_file_url)
    engine = Engine(make_session_factory(db_engine))
    engine.deploy({"exec_timer_script.bpmn": read_diagram("exec_timer_script.bpmn")}, "analyst_anna")
    yield engine
    db_engine.dispose()


@pytest.fixture
def worker_env(sqlite_file_url, tmp_path) -> dict[str, str]:
    return {**os.environ, "CAREPLACE_DATABASE_URL": sqlite_file_url, "CAREPLACE_WORKER_INTERVAL": "0.2", "CAREPLACE_LOG_LEVEL": "INFO"}


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} seconds")
        time.sleep(0.05)


def test_worker_once_runs_due_timers(engine, worker_env, tmp_path, engine_clock):
    due_id = engine.start("exec_timer_script", business_key="ENQ-501")

    result = subprocess.run([CAREPLACE, "worker", "--once", "--worker-id", "cli_worker"], env=worker_env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "timers fired: 1, service tasks run: 0" in result.stdout
    assert engine.get_instance(due_id).status == "completed"
    assert engine.instance_data(due_id)["stale"] is True
    [fired] = [event for event in engine.history(due_id) if event.kind == "timer.fired"]
    assert fired.actor == "cli_worker"


def test_worker_once_leaves_timers_not_due(engine, worker_env, tmp_path):
    waiting_id = engine.start("exec_timer_script", business_key="ENQ-502")

    result = subprocess.run([CAREPLACE, "worker", "--once"], env=worker_env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "timers fired: 0" in result.stdout
    assert engine.get_instance(waiting_id).status == "running"


def test_worker_stops_on_sigterm(engine, worker_env, tmp_path, engine_clock):
    due_id = engine.start("exec_timer_script", business_key="ENQ-503")
    log_path = tmp_path / "worker.log"

    with log_path.open("w") as log_file:
        worker = subprocess.Popen([CAREPLACE, "worker", "--worker-id", "long_worker"], env=worker_env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT, text=True)
        try:
            wait_until(lambda: engine.get_instance(due_id).status == "completed", timeout=30, what="the running worker firing the due timer")
            worker.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            returncode = worker.wait(timeout=STOP_TIMEOUT_SECONDS)
            stop_seconds = time.monotonic() - stopped_at
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    log = log_path.read_text()
    assert returncode == 0, log
    assert stop_seconds < 5
    assert "worker long_worker started" in log
    assert f"received signal {int(signal.SIGTERM)}; stopping" in log
    assert "worker long_worker stopped" in log
