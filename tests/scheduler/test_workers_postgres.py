"""Exactly-once execution with several worker processes on PostgreSQL: timers, and a job whose worker is killed."""

import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from scheduler_helpers import read_diagram, wait_for_file
from engine.handler_api import HandlerRegistry
from engine.jobs import acquire_jobs
from engine.models import AuditEvent, Instance, Job
from engine.runtime import Engine
from worker_process import VISIT_RECORDS

pytestmark = pytest.mark.postgres

INSTANCE_COUNT = 1000
START_BATCH = 100
WORKER_TIMEOUT_SECONDS = 120
# Past the lease of a job with a 60-second handler time-out (60 s plus the 30 s lease margin).
LEASE_EXPIRED_OFFSET_SECONDS = 120


@pytest.fixture
def engine(pg_session_factory):
    registry = HandlerRegistry()
    registry.topic("exec.record", description="Insert a visit record (run by the worker processes)")(lambda inputs, context: {})
    engine = Engine(pg_session_factory, registry)
    for name in ("exec_timer_then_job.bpmn", "exec_record.bpmn"):
        engine.deploy({name: read_diagram(name)}, "analyst_anna")
    return engine


def finish(process, timeout: float = WORKER_TIMEOUT_SECONDS) -> str:
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker exited with {process.returncode}: {stderr[-2000:]}"
    return stdout


def test_two_workers_fire_each_timer_once(engine, pg_session_factory, pg_url, visit_records, engine_clock, launch_worker, tmp_path):
    for first in range(0, INSTANCE_COUNT, START_BATCH):
        with pg_session_factory.begin() as session:
            for number in range(first, first + START_BATCH):
                engine.start("exec_timer_then_job", business_key=f"VIS-{number:04d}", session=session)

    go_file = tmp_path / "go"
    workers = [launch_worker(pg_url, worker_id, "--go-file", str(go_file)) for worker_id in ("worker_a", "worker_b")]
    for worker_id in ("worker_a", "worker_b"):
        wait_for_file(Path(f"{go_file}.{worker_id}.ready"), timeout=30)
    go_file.write_text("go")
    for worker in workers:
        finish(worker)

    with pg_session_factory() as session:
        fired_per_instance = dict(
            session.execute(
                sa.select(AuditEvent.instance_id, sa.func.count()).where(AuditEvent.kind == "timer.fired").group_by(AuditEvent.instance_id)
            ).all()
        )
        completed_per_instance = dict(
            session.execute(
                sa.select(AuditEvent.instance_id, sa.func.count()).where(AuditEvent.kind == "job.completed").group_by(AuditEvent.instance_id)
            ).all()
        )
        firing_workers = set(session.scalars(sa.select(AuditEvent.actor).where(AuditEvent.kind == "timer.fired").distinct()))
        records = session.execute(sa.select(VISIT_RECORDS.c.idempotency_key)).scalars().all()
        statuses = dict(session.execute(sa.select(Instance.status, sa.func.count()).group_by(Instance.status)).all())
        job_statuses = dict(session.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all())

    assert len(fired_per_instance) == INSTANCE_COUNT
    assert set(fired_per_instance.values()) == {1}
    assert len(completed_per_instance) == INSTANCE_COUNT
    assert set(completed_per_instance.values()) == {1}
    assert len(records) == INSTANCE_COUNT
    assert len(set(records)) == INSTANCE_COUNT
    assert statuses == {"completed": INSTANCE_COUNT}
    assert job_statuses == {"done": INSTANCE_COUNT}
    assert firing_workers == {"worker_a", "worker_b"}


def test_killed_worker_job_runs_once_after_lease(engine, pg_session_factory, pg_url, visit_records, launch_worker, tmp_path):
    instance_id = engine.start("exec_record", business_key="VIS-9001")
    with pg_session_factory() as session:
        job = session.scalars(sa.select(Job).where(Job.instance_id == instance_id)).one()
    expected_key = f"{instance_id}:{job.task_id}"

    marker = tmp_path / "in_handler"
    doomed = launch_worker(pg_url, "worker_doomed", "--hang-marker", str(marker))
    wait_for_file(marker, timeout=30)
    assert marker.read_text() == expected_key
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    with pg_session_factory() as session:
        leased = session.get(Job, job.id)
        assert leased.status == "running"
        assert leased.locked_by == "worker_doomed"
        assert leased.attempts == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(VISIT_RECORDS)) == 0
    assert acquire_jobs(pg_session_factory, "worker_early") == []

    finish(launch_worker(pg_url, "worker_rescue", "--clock-offset", str(LEASE_EXPIRED_OFFSET_SECONDS)))

    with pg_session_factory() as session:
        records = session.execute(sa.select(VISIT_RECORDS)).all()
        done = session.get(Job, job.id)
        instance = session.get(Instance, instance_id)
        completions = session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.instance_id == instance_id, AuditEvent.kind == "job.completed")
        )
    assert [(record.idempotency_key, record.worker_id, record.attempt) for record in records] == [(expected_key, "worker_rescue", 2)]
    assert done.status == "done"
    assert done.locked_by == "worker_rescue"
    assert done.attempts == 2
    assert instance.status == "completed"
    assert completions == 1
