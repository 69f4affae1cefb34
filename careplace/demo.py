"""``careplace demo``: the whole provider journey run headless, with every stage's outcome checked."""

import dataclasses
import logging
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

import processes
from care.errors import CareError
from care.models.providers import Provider
from careplace import demo_delivery, demo_enquiry, demo_onboarding, demo_payments
from careplace.config import Settings
from careplace.db import upgrade
from careplace.demo_payments import ExpectedPayment
from careplace.demo_support import Demo, DemoCheckError, DemoClock, SmtpSink, london
from careplace.wiring import build_services
from engine.clock import set_clock
from engine.errors import DiagramError, EngineError
from handlers.config import HandlerSettings
from handlers.simulators.server import start_simulators


# The diagrams the demo drives. Each must pass the linter and deploy.
DRIVEN_DIAGRAMS = ("provider_onboarding.bpmn", "enquiry.bpmn", "enquiry_recipient.bpmn")
# Diagrams the demo drives when they are present and pass the linter. Without one, its stage calls the care functions directly.
OPTIONAL_DIAGRAMS = ("care_package.bpmn", "payment_run.bpmn", "year_end_recoup.bpmn")
# March: 31 one-hour visits at £22.40. The year-end review takes back the 6 visits from 26 to
# 31 March, paid before the hospital stay was reported. April: 25 visits from 6 April.
MARCH_PAYMENT = ExpectedPayment(gross=Decimal("694.40"), recouped=Decimal("0.00"), amount=Decimal("694.40"))
RECOUP = Decimal("134.40")
APRIL_PAYMENT = ExpectedPayment(gross=Decimal("560.00"), recouped=RECOUP, amount=Decimal("425.60"))


def add_arguments(command) -> None:
    command.add_argument("--database-url", help="SQLAlchemy URL of an empty database to use (default: a new SQLite file in a temporary folder)")
    command.add_argument("--keep", action="store_true", help="keep the temporary SQLite file and print its path")
    command.add_argument("--verbose", action="store_true", help="show the services' INFO logs on stderr as well as the timeline")


def run_demo(args, out=None) -> int:
    """Run every stage and return 0 when every check passed, 1 when one failed (printed with its stage)."""
    out = out or sys.stdout
    root = logging.getLogger()
    level = root.level
    if not args.verbose:
        root.setLevel(logging.WARNING)

    folder = None
    database_url = args.database_url
    if database_url is None:
        folder = tempfile.mkdtemp(prefix="careplace-demo-")
        database_url = f"sqlite:///{Path(folder) / 'demo.db'}"

    try:
        return _run(database_url, out)
    finally:
        root.setLevel(level)
        if folder is not None and args.keep:
            print(f"\nThe demo database is kept at {Path(folder) / 'demo.db'}", file=out)
        elif folder is not None:
            _remove_folder(Path(folder))


def _run(database_url: str, out) -> int:
    demo_clock = DemoClock(london(2027, 1, 4, 9, 0))
    set_clock(demo_clock)
    simulators = start_simulators()
    sink = SmtpSink().start()
    demo = None
    try:
        upgrade(database_url)
        settings = dataclasses.replace(Settings.from_env(embedded=True), database_url=database_url)
        handler_settings = simulators.handler_settings(
            HandlerSettings(),
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_starttls=False,
            smtp_sender="careplace@council.example",
        )
        services = build_services(settings, handler_settings)
        demo = Demo(services, simulators, sink, demo_clock, out)
        print("Care Place demo: the provider journey, January to May 2027 (made-up people and places)", file=out)
        _check_empty(demo)
        _deploy(demo)
        _run_stages(demo)
    except DemoCheckError as error:
        print(f"\nCHECK FAILED in stage {error.stage!r}: {error.check}: {error.detail}", file=out)
        return 1
    except (EngineError, CareError) as error:
        stage = demo.stage if demo is not None else "set-up"
        print(f"\nSTAGE FAILED: {stage!r} raised {type(error).__name__}: {error}", file=out)
        return 1
    finally:
        if demo is not None:
            demo.close()
        sink.stop()
        simulators.stop()
        set_clock(None)

    print(f"\nAll {demo.checks_passed} checks passed; {len(sink.received())} emails reached the SMTP sink.", file=out)
    return 0


def _check_empty(demo: Demo) -> None:
    providers = demo.scalar(sa.select(sa.func.count()).select_from(Provider))
    demo.check_equal(providers, 0, "the demo database starts empty (give --database-url a new database)")


def _deploy(demo: Demo) -> None:
    documents = processes.load_all()
    missing = [name for name in DRIVEN_DIAGRAMS if name not in documents]
    demo.check_equal(missing, [], "diagrams present in the processes package")
    try:
        demo.engine.deploy({name: documents[name] for name in DRIVEN_DIAGRAMS}, "demo")
    except DiagramError as error:
        raise DemoCheckError("set-up", "the diagrams pass the linter", "; ".join(str(problem) for problem in error.problems)) from error

    deployed = list(DRIVEN_DIAGRAMS)
    for name in OPTIONAL_DIAGRAMS:
        if name not in documents:
            continue

        try:
            demo.engine.deploy({name: documents[name]}, "demo")
        except DiagramError as error:
            demo.say("analyst", f"{name} failed the linter, so its stage runs without it (problems found: {len(error.problems)})")
            continue

        deployed.append(name)

    demo.values["deployed"] = set(deployed)
    demo.say("analyst", "deployed " + ", ".join(deployed))
    undriven = sorted(set(documents) - set(DRIVEN_DIAGRAMS) - set(OPTIONAL_DIAGRAMS))
    if undriven:
        demo.say("analyst", "not driven by the demo yet: " + ", ".join(undriven))


def _run_stages(demo: Demo) -> None:
    demo_onboarding.seed_people(demo)
    demo_onboarding.onboard_provider(demo)
    demo_enquiry.run_enquiry(demo)
    demo_delivery.deliver_march(demo)
    demo_payments.pay_run(demo, "Stage 7: payment run for March", london(2027, 4, 1, 9, 0), *_month(3), MARCH_PAYMENT)
    demo_delivery.hospital_stay(demo)
    demo_payments.year_end_review(demo, RECOUP)
    demo_delivery.deliver_april(demo)
    payment_id = demo_payments.pay_run(demo, "Stage 7: payment run for April, with the recoup offset", london(2027, 5, 3, 9, 0), *_month(4), APRIL_PAYMENT)
    demo_payments.check_recoup_offset(demo, payment_id)
    demo.show_new_emails()


def _month(month: int):
    first = london(2027, month, 1).date()
    following = london(2027, month + 1, 1).date()
    return first, following.fromordinal(following.toordinal() - 1)


def _remove_folder(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
