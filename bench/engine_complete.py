"""Benchmark completing one user task through the engine against SpiffWorkflow's own cost of the same step.

Usage (from the repository root, with the virtualenv active)::

    python bench/engine_complete.py --db sqlite
    python bench/engine_complete.py --db postgresql --iterations 300

The process is a chain of 20 user tasks with small forms. Each measured
instance has completed 9 of them, so its state contains a realistic history.
Three things are timed on the same database, one fresh instance each
time, in alternating blocks of ``--block`` instances (default 10), so
each measure runs in a warm loop and a slow spell on the machine hits
all three alike:

- engine: ``Engine.complete`` of task 10 (load the instance, validate the
  form, run the task and the engine steps, save state and query rows,
  commit);
- raw: SpiffWorkflow alone, on the same state as the stock
  ``BpmnWorkflowSerializer`` writes it with the spec included (with
  converters for Decimal and date registered, which the data needs):
  deserialize, run the task, ``do_engine_steps``, serialize;
- round trip: ``SELECT 1`` on the connection the engine's pool hands out.

The goal is an engine median of at most 1.5 times the raw median plus one
round trip. ``--profile`` adds a cProfile run of the engine step and prints
its top costs. PostgreSQL runs in a database created for the run on the
server at CAREPLACE_TEST_POSTGRES_URL and dropped after it.
"""

import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from importlib.metadata import version

import sqlalchemy as sa
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from careplace.db import make_db_engine, make_session_factory, upgrade
from engine.models import HumanTask, Instance
from engine.runtime import Actor, Engine
from engine.serializer import workflow_from_json

PG_ADMIN_URL = os.environ.get("CAREPLACE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CHAIN_LENGTH = 20
MEASURED_STEP = 10
GOAL_FACTOR = 1.5
ACTOR = Actor("bench.manager", frozenset({"care_manager"}))
SUBMISSION = {"note": "Visit times agreed with the family", "visits": "7", "confirmed": "true"}
START_DATA = {
    "full_name": "Ada Example",
    "postcode": "ZZ99 3VZ",
    "hourly_rate": Decimal("21.35"),
    "start_on": date(2030, 2, 1),
    "needs": ["personal care", "meals", "shopping"],
}

STOCK_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
STOCK_SERIALIZER.registry.register(Decimal, lambda value: {"value": str(value)}, lambda dct: Decimal(dct["value"]))
STOCK_SERIALIZER.registry.register(date, lambda value: {"value": value.isoformat()}, lambda dct: date.fromisoformat(dct["value"]))


def chain_diagram(length: int) -> bytes:
    """Build a Camunda diagram of ``length`` user tasks in a row, each with a three-field form."""
    tasks, flows = [], []
    previous = "start"
    for number in range(1, length + 1):
        task_id = f"step_{number:02d}"
        tasks.append(
            f'<bpmn:userTask id="{task_id}" name="Step {number}" camunda:candidateGroups="care_manager" camunda:dueDate="P2D">'
            "<bpmn:extensionElements><camunda:formData>"
            '<camunda:formField id="note" label="Note" type="string"><camunda:validation><camunda:constraint name="maxlength" config="200" /></camunda:validation></camunda:formField>'
            '<camunda:formField id="visits" label="Visits" type="long"><camunda:validation><camunda:constraint name="min" config="0" /><camunda:constraint name="max" config="50" /></camunda:validation></camunda:formField>'
            '<camunda:formField id="confirmed" label="Confirmed" type="boolean" />'
            "</camunda:formData></bpmn:extensionElements></bpmn:userTask>"
        )
        flows.append(f'<bpmn:sequenceFlow id="flow_{number:02d}" sourceRef="{previous}" targetRef="{task_id}" />')
        previous = task_id
    flows.append(f'<bpmn:sequenceFlow id="flow_end" sourceRef="{previous}" targetRef="end" />')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_chain" targetNamespace="http://bpmn.io/schema/bpmn">'
        '<bpmn:process id="bench_chain" isExecutable="true"><bpmn:startEvent id="start" />'
        + "".join(tasks)
        + '<bpmn:endEvent id="end" />'
        + "".join(flows)
        + "</bpmn:process></bpmn:definitions>"
    ).encode()


def open_task_id(session_factory, instance_id: str) -> str:
    with session_factory() as session:
        return session.scalars(sa.select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.status == "open")).one()


def prepare_instances(engine: Engine, count: int) -> list[str]:
    """Start ``count`` instances and complete steps 1 to 9 of each, so step 10 is open."""
    instance_ids = []
    for _ in range(count):
        instance_id = engine.start("bench_chain", data=START_DATA, actor="bench")
        for _step in range(1, MEASURED_STEP):
            engine.complete(open_task_id(engine.session_factory, instance_id), SUBMISSION, ACTOR)
        instance_ids.append(instance_id)
    return instance_ids


def stock_state(session_factory, instance_id: str) -> tuple[str, int]:
    """Return the instance's state as the stock serializer writes it (spec included) and the engine's state size."""
    with session_factory() as session:
        row = session.get(Instance, instance_id)
        workflow = workflow_from_json(row.state, row.version.spec_json)
        return STOCK_SERIALIZER.serialize_json(workflow), len(row.state)


def run_raw_step(state_json: str) -> None:
    """Do the step with SpiffWorkflow alone: deserialize, complete the ready task, run engine steps, serialize."""
    workflow = STOCK_SERIALIZER.deserialize_json(state_json)
    [task] = workflow.get_tasks(state=TaskState.READY)
    task.data.update({"note": SUBMISSION["note"], "visits": 7, "confirmed": True})
    task.run()
    workflow.do_engine_steps()
    STOCK_SERIALIZER.serialize_json(workflow)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def measure(engine: Engine, db_engine: sa.Engine, instance_ids: list[str], block: int) -> dict[str, list[float]]:
    """Time the three measures in alternating blocks, each block a warm loop over ``block`` instances."""
    samples: dict[str, list[float]] = {"engine": [], "raw": [], "round_trip": []}
    for first in range(0, len(instance_ids), block):
        chunk = instance_ids[first : first + block]
        prepared = [(open_task_id(engine.session_factory, instance_id), stock_state(engine.session_factory, instance_id)[0]) for instance_id in chunk]
        with db_engine.connect() as connection:
            for _ in chunk:
                samples["round_trip"].append(timed(lambda: connection.exec_driver_sql("SELECT 1").scalar()))
        for _task_id, state_json in prepared:
            samples["raw"].append(timed(lambda: run_raw_step(state_json)))
        for task_id, _state_json in prepared:
            samples["engine"].append(timed(lambda: engine.complete(task_id, SUBMISSION, ACTOR)))
    return samples


def profile(engine: Engine, instance_ids: list[str], top: int) -> str:
    task_ids = [open_task_id(engine.session_factory, instance_id) for instance_id in instance_ids]
    profiler = cProfile.Profile()
    profiler.enable()
    for task_id in task_ids:
        engine.complete(task_id, SUBMISSION, ACTOR)
    profiler.disable()
    output = io.StringIO()
    pstats.Stats(profiler, stream=output).sort_stats("cumulative").print_stats(top)
    return output.getvalue()


def create_postgres_database() -> tuple[str, sa.Engine, str]:
    admin = make_db_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"careplace_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return url, admin, name


def database_version(db_engine: sa.Engine) -> str:
    if db_engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with db_engine.connect() as connection:
        return f"PostgreSQL {connection.exec_driver_sql('SHOW server_version').scalar()}"


def report(samples: dict[str, list[float]], state_size: int, stock_size: int, db_label: str, args) -> None:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    p95s = {name: percentile(values, 0.95) for name, values in samples.items()}
    goal = GOAL_FACTOR * medians["raw"] + medians["round_trip"]
    print(f"database: {db_label}; {len(samples['engine'])} iterations after {args.warmup} warm-up; cpus: {os.cpu_count()}; "
          f"Python {platform.python_version()}; SpiffWorkflow {version('SpiffWorkflow')}; SQLAlchemy {sa.__version__}")
    print(f"state at step {MEASURED_STEP} of {CHAIN_LENGTH}: engine {state_size / 1024:.1f} KB without spec, stock {stock_size / 1024:.1f} KB with spec")
    print()
    print("| measure | median ms | p95 ms |")
    print("|---|---:|---:|")
    for name, label in (("engine", "engine: Engine.complete"), ("raw", "raw SpiffWorkflow step"), ("round_trip", "round trip (SELECT 1)")):
        print(f"| {label} | {medians[name]:.2f} | {p95s[name]:.2f} |")
    print()
    print(f"ratio engine / raw (medians): {medians['engine'] / medians['raw']:.2f}")
    print(f"goal: engine <= {GOAL_FACTOR} x raw + one round trip = {goal:.2f} ms; engine median {medians['engine']:.2f} ms: "
          f"{'met' if medians['engine'] <= goal else 'missed'}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), required=True, help="database to run against")
    parser.add_argument("--iterations", type=int, default=200, help="measured completions (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="completions run first and not measured (default 20)")
    parser.add_argument("--block", type=int, default=10, help="instances per block: each measure runs over a block in a row, then the next measure (default 10)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also profile N completions with cProfile and print the top costs")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error(f"--iterations must be at least 1, not {args.iterations}")
    if args.block < 1:
        parser.error(f"--block must be at least 1, not {args.block}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    admin, database_name, workdir = None, None, None
    if args.db == "sqlite":
        workdir = tempfile.TemporaryDirectory(prefix="careplace_bench_")
        url = f"sqlite:///{workdir.name}/bench.db"
    else:
        url, admin, database_name = create_postgres_database()

    try:
        upgrade(url)
        db_engine = make_db_engine(url)
        engine = Engine(make_session_factory(db_engine))
        engine.deploy({"bench_chain.bpmn": chain_diagram(CHAIN_LENGTH)}, "bench")

        print(f"preparing {args.warmup + args.iterations + args.profile} instances at step {MEASURED_STEP}...", file=sys.stderr)
        instance_ids = prepare_instances(engine, args.warmup + args.iterations + args.profile)
        stock_json, state_size = stock_state(engine.session_factory, instance_ids[0])

        measure(engine, db_engine, instance_ids[: args.warmup], args.block)
        samples = measure(engine, db_engine, instance_ids[args.warmup : args.warmup + args.iterations], args.block)
        report(samples, state_size, len(stock_json), database_version(db_engine), args)
        if args.profile:
            print()
            print(profile(engine, instance_ids[args.warmup + args.iterations :], top=30))
        db_engine.dispose()
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)'))
            admin.dispose()
        if workdir is not None:
            workdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
