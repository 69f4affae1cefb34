"""The long-running commands: ``worker``, ``serve`` and ``demo``."""

from careplace.demo import add_arguments as add_demo_arguments
from careplace.demo import run_demo
from careplace.serve import run_serve
from scheduler.worker import run_worker


def add_commands(add) -> None:
    """Register the long-running commands on the CLI parser (filled in by the scheduler and web packages)."""
    worker = add("worker", cmd_worker, "run the scheduler jobs (timers, service tasks, outbox) in this process")
    worker.add_argument("--once", action="store_true", help="run what is due now, then exit")
    worker.add_argument("--worker-id", help="name for this worker in leases and logs (default host:pid)")
    serve = add("serve", cmd_serve, "run the web app, scheduler and simulated outside APIs in one process (embedded mode)", needs_services=False, json_output=False)
    serve.set_defaults(embedded_command=True)
    serve.add_argument("--demo", action="store_true", help="deploy the diagrams, create demo accounts (passwords printed at start) and seed demo data")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5000, help="TCP port to listen on (default 5000)")
    demo = add("demo", cmd_demo, "run the whole provider journey headless against the simulators and check every stage", needs_services=False, json_output=False)
    demo.set_defaults(embedded_command=True)
    add_demo_arguments(demo)


def cmd_worker(args, services) -> int:
    return run_worker(services, once=args.once, worker_id=args.worker_id, as_json=args.json)


def cmd_serve(args, _services) -> int:
    return run_serve(args)


def cmd_demo(args, _services) -> int:
    return run_demo(args)
