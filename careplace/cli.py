"""The ``careplace`` command line: lint, deploy, instances and tasks for operators, and the services."""

import argparse
import json
import logging
import sys
from pathlib import Path

from careplace import commands_run
from care.errors import CareError
from careplace.config import ConfigError, Settings
from careplace.db import schema_heads, upgrade
from careplace.output import print_rows, to_jsonable
from careplace.wiring import build_services
from engine.errors import DiagramError, EngineError, FormValidationError
from engine.jobs import cancel_incident, list_incidents, retry_incident
from engine.runtime import Actor
from web.api.cli import add_token_commands

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A bad argument or file. The message names the value and what to change."""


def _done(args, text: str, **fields) -> int:
    """Report a command's success as text, or as a JSON object with ``fields`` under --json."""
    print(json.dumps({"ok": True, **fields}) if args.json else text)
    return 0


def _read_documents(paths: list[str]) -> dict[str, bytes]:
    documents = {}
    for path in paths:
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"{path}: no such file; give the path of a .bpmn file")
        if file.name in documents:
            raise CommandError(f"two files are named {file.name}; versions are stored by file name, so rename one")
        documents[file.name] = file.read_bytes()
    return documents


def _json_argument(text: str | None, option: str) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(f"{option} is not valid JSON ({error.msg} at column {error.colno}); pass an object such as '{{\"hours\": 10}}'")
    if not isinstance(value, dict):
        raise CommandError(f"{option} must be a JSON object such as '{{\"hours\": 10}}'")
    return value


def _actor(args) -> Actor:
    groups = frozenset(group.strip() for group in (args.groups or "").split(",") if group.strip())
    return Actor(args.user, groups, is_admin=args.admin)


def cmd_lint(args, services) -> int:
    problems = services.engine.lint(_read_documents(args.files))
    if args.json:
        print(json.dumps([problem.as_dict() for problem in problems]))
    elif not problems:
        print(f"{len(args.files)} file{'s' if len(args.files) != 1 else ''} checked: no problems")
    else:
        for problem in problems:
            print(problem)
    return 1 if any(problem.severity == "error" for problem in problems) else 0


def cmd_deploy(args, services) -> int:
    try:
        result = services.engine.deploy(_read_documents(args.files), args.user)
    except DiagramError as error:
        for problem in error.problems:
            print(problem)
        print("careplace: nothing was deployed; fix the problems above and deploy again", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(warning)
    if args.json:
        print(json.dumps({"created": result.created, "unchanged": result.unchanged}))
        return 0
    for process_id, version in result.created:
        print(f"deployed {process_id} version {version}")
    for name in result.unchanged:
        print(f"unchanged {name} (already deployed)")
    return 0


def cmd_start(args, services) -> int:
    data = _json_argument(args.data, "--data")
    instance_id = services.engine.start(args.process_id, business_key=args.business_key, data=data, actor=args.user)
    instance = services.engine.get_instance(instance_id)
    if args.json:
        print(json.dumps(to_jsonable(instance)))
    else:
        print(f"started {instance_id} ({instance.status})")
    if instance.status == "error":
        print(f"careplace: instance {instance_id} failed as it started; see `careplace incidents` and retry after correcting the data", file=sys.stderr)
        return 1
    return 0


def cmd_form(args, services) -> int:
    form = services.engine.task_form(args.task_id, _actor(args))
    if args.json:
        print(json.dumps({"task": to_jsonable(form.task), "fields": to_jsonable([field.as_dict() for field in form.fields]), "values": to_jsonable(form.values)}))
        return 0
    print(f"{form.task.name} ({form.task.element_id}) in instance {form.task.instance_id}")
    if form.documentation:
        print(f"  {form.documentation}")
    if not form.fields:
        print("  (no form fields: complete it with no --data)")
    for field in form.fields:
        flags = [flag for flag, on in (("required", field.required), ("read-only", field.readonly)) if on]
        options = f" one of {', '.join(option_id for option_id, _name in field.options)}" if field.options else ""
        current = form.values.get(field.id)
        flag_text = f" ({', '.join(flags)})" if flags else ""
        current_text = f" [now {current}]" if current is not None else ""
        print(f"  {field.id:<24} {field.type:<8} {field.label}{flag_text}{options}{current_text}")
    return 0


def cmd_tasks(args, services) -> int:
    actor = _actor(args)
    tasks = services.engine.list_tasks(actor, mine_only=args.mine, limit=args.limit, offset=args.offset)
    print_rows(tasks, ["id", "name", "element_id", "business_key", "assignee", "candidate_groups", "due_at"], args.json)
    if not tasks and not actor.groups and not actor.is_admin:
        print(f"careplace: {actor.user} has no groups, so only tasks assigned to {actor.user} are listed; pass --groups GROUP,... or --admin", file=sys.stderr)
    return 0


def cmd_claim(args, services) -> int:
    services.engine.claim(args.task_id, _actor(args))
    return _done(args, f"claimed {args.task_id}", task_id=args.task_id, action="claimed")


def cmd_release(args, services) -> int:
    services.engine.release(args.task_id, _actor(args))
    return _done(args, f"released {args.task_id}", task_id=args.task_id, action="released")


def cmd_complete(args, services) -> int:
    data = _json_argument(args.data, "--data")
    try:
        services.engine.complete(args.task_id, data, _actor(args))
    except FormValidationError as error:
        if args.json:
            print(json.dumps({"task_id": error.task_id, "errors": [e.as_dict() for e in error.errors]}))
        for field_error in error.errors:
            print(f"{field_error.field}: {field_error.message}", file=sys.stderr)
        return 1
    return _done(args, f"completed {args.task_id}", task_id=args.task_id, action="completed")


def cmd_instances(args, services) -> int:
    rows = services.engine.list_instances(process_id=args.process_id, status=args.status, business_key=args.business_key, limit=args.limit, offset=args.offset)
    print_rows(rows, ["id", "process_id", "business_key", "status", "next_timer_at", "created_at"], args.json)
    return 0


def cmd_show(args, services) -> int:
    instance = services.engine.get_instance(args.instance_id)
    history = services.engine.history(args.instance_id)
    elements = services.engine.instance_elements(args.instance_id)
    if args.json:
        print(json.dumps({"instance": to_jsonable(instance), "elements": elements, "history": [to_jsonable(event) for event in history]}))
        return 0
    print(f"{instance.id}  {instance.process_id}  {instance.status}  business key {instance.business_key or '-'}")
    for state, ids in elements.items():
        if ids:
            print(f"  {state}: {', '.join(ids)}")
    for event in history:
        print(f"  {event.at.isoformat(timespec='seconds')}  {event.actor:<16} {event.kind}")
    return 0


def cmd_message(args, services) -> int:
    delivered = services.engine.send_message(
        args.name, _json_argument(args.data, "--data"), business_key=args.business_key, correlation=_json_argument(args.correlation, "--correlation"), actor=args.user
    )
    print(json.dumps(delivered) if args.json else f"delivered to {', '.join(delivered)}")
    return 0


def cmd_incidents(args, services) -> int:
    rows = list_incidents(services.session_factory, status=None if args.all else "open", limit=args.limit, offset=args.offset)
    print_rows(rows, ["id", "instance_id", "element_id", "topic", "attempts", "status", "error"], args.json)
    return 0


def cmd_retry(args, services) -> int:
    retry_incident(services.session_factory, args.incident_id, args.user, _json_argument(args.data, "--data"))
    return _done(args, f"incident {args.incident_id} retried", incident_id=args.incident_id, action="retried")


def cmd_cancel_incident(args, services) -> int:
    cancel_incident(services.session_factory, args.incident_id, args.user, args.reason)
    return _done(args, f"incident {args.incident_id} cancelled", incident_id=args.incident_id, action="cancelled")


def cmd_db_upgrade(args, services) -> int:
    # main() has already brought the schema up to date, before building the services that read it.
    revisions = sorted(schema_heads(services.settings.database_url))
    return _done(args, f"database schema is at the newest revision of each package: {', '.join(revisions)}", revisions=revisions)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="careplace", description="Care Place BPMN orchestration service")
    parser.add_argument("--user", default="operator", help="who the command acts as (recorded in the audit log)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_text, *, needs_services=True, json_output=True):
        command = sub.add_parser(name, help=help_text)
        command.set_defaults(func=func, needs_services=needs_services, json=False)
        if json_output:
            command.add_argument("--json", action="store_true", help="print JSON instead of text (errors too)")
        return command

    lint = add("lint", cmd_lint, "check diagrams and print one problem per line")
    lint.add_argument("files", nargs="+")
    deploy = add("deploy", cmd_deploy, "lint and deploy diagrams as new versions")
    deploy.add_argument("files", nargs="+")
    start = add("start", cmd_start, "start an instance of the newest version of a process")
    start.add_argument("process_id")
    start.add_argument("--business-key")
    start.add_argument("--data", help="process variables as a JSON object")
    for name, func, help_text in (("tasks", cmd_tasks, "list open human tasks for a user and groups"), ("form", cmd_form, "show a task's form fields and current values"), ("claim", cmd_claim, "claim a task"), ("release", cmd_release, "release a claimed task"), ("complete", cmd_complete, "complete a task with form data")):
        command = add(name, func, help_text)
        command.add_argument("--groups", default="", help="comma-separated groups of the acting user")
        command.add_argument("--admin", action="store_true", help="act as an administrator (sees every task)")
        if name == "tasks":
            command.add_argument("--mine", action="store_true", help="only tasks assigned to the user")
            command.add_argument("--limit", type=int, default=50)
            command.add_argument("--offset", type=int, default=0)
        else:
            command.add_argument("task_id")
        if name == "complete":
            command.add_argument("--data", help="form values as a JSON object")
    instances = add("instances", cmd_instances, "list instances")
    instances.add_argument("--process-id")
    instances.add_argument("--status")
    instances.add_argument("--business-key")
    instances.add_argument("--limit", type=int, default=50)
    instances.add_argument("--offset", type=int, default=0)
    show = add("show", cmd_show, "show an instance's state and history")
    show.add_argument("instance_id")
    message = add("message", cmd_message, "send a message to waiting instances")
    message.add_argument("name")
    message.add_argument("--business-key")
    message.add_argument("--correlation", help="correlation values as a JSON object")
    message.add_argument("--data", help="payload as a JSON object")
    incidents = add("incidents", cmd_incidents, "list incidents")
    incidents.add_argument("--all", action="store_true", help="include resolved and cancelled incidents")
    incidents.add_argument("--limit", type=int, default=50)
    incidents.add_argument("--offset", type=int, default=0)
    retry = add("retry-incident", cmd_retry, "retry an incident, optionally with corrected data")
    retry.add_argument("incident_id", type=int)
    retry.add_argument("--data", help="corrected variables as a JSON object")
    cancel = add("cancel-incident", cmd_cancel_incident, "close an incident without retrying")
    cancel.add_argument("incident_id", type=int)
    cancel.add_argument("--reason", required=True)
    add("db-upgrade", cmd_db_upgrade, "create or upgrade the database schema")
    commands_run.add_commands(add)
    add_token_commands(add)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.for_cli() if not getattr(args, "embedded_command", False) else Settings.from_env(embedded=True)
    except ConfigError as error:
        print(f"careplace: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("careplace.db").setLevel(logging.WARNING)
    # SpiffWorkflow logs every task state change at INFO, which drowns the command's own output.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    services = None
    if args.needs_services:
        if settings.database_url.startswith("sqlite") or args.command == "db-upgrade":
            upgrade(settings.database_url)
        services = build_services(settings)
    try:
        return args.func(args, services)
    except (EngineError, CareError, ConfigError, CommandError) as error:
        if args.json:
            print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        print(f"careplace: {error}", file=sys.stderr)
        return 1
    finally:
        if services is not None:
            services.session_factory.kw["bind"].dispose()


if __name__ == "__main__":
    sys.exit(main())
