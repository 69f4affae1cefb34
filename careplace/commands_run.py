"""The long-running commands: ``worker``, ``serve`` and ``demo``."""

from scheduler.worker import run_worker


def add_commands(add) -> None:
    """Register the long-running commands on the CLI parser (filled in by the scheduler and web packages)."""
    worker = add("worker", cmd_worker, "run the scheduler jobs (timers, service tasks, outbox) in this process")
    worker.add_argument("--once", action="store_true", help="run what is due now, then exit")
    worker.add_argument("--worker-id", help="name for this worker in leases and logs (default host:pid)")


def cmd_worker(args, services) -> int:
    return run_worker(services, once=args.once, worker_id=args.worker_id)
