"""Fixtures for the diagram tests: the deployed journey, the simulated outside APIs, a movable clock and a job runner."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from care.models.messaging import OutboxEmail
from careplace.wiring import STAFF_GROUPS
from care.models.people import Role, ServiceUser, User
from care.models.providers import Provider, ProviderDistrict, ProviderKind, ProviderStatus
from engine.clock import set_clock
from engine.jobs import JobRunner
from engine.models import HumanTask, Incident
from engine.runtime import Actor, Engine
from handlers.email import TEMPLATE_NAMES
from handlers.registry import build_registry
from handlers.simulators.server import start_simulators
from processes.loader import load_all

class MovableClock:
    """A clock for ``engine.clock.set_clock`` that stays still until a test moves it."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def set(self, moment: datetime) -> None:
        self.current = moment


@pytest.fixture(scope="session")
def simulators():
    server = start_simulators()
    yield server
    server.stop()


@pytest.fixture
def clock():
    # Monday 7 June 2027, 09:00 UTC (10:00 in London).
    movable = MovableClock(datetime(2027, 6, 7, 9, 0, tzinfo=timezone.utc))
    set_clock(movable)
    yield movable
    set_clock(None)


class Journey:
    """The engine with every diagram deployed, a job runner and helpers to drive and inspect instances."""

    def __init__(self, session_factory, registry, clock):
        self.session_factory = session_factory
        self.registry = registry
        self.clock = clock
        self.engine = Engine(session_factory, registry, known_groups=STAFF_GROUPS, known_templates=set(TEMPLATE_NAMES))
        self.engine.deploy(load_all(), "analyst")
        self.runner = JobRunner(session_factory, registry, "test-worker")

    def run_jobs(self) -> list[str]:
        """Run service tasks until none is due; return the outcomes in order."""
        outcomes = []
        for _ in range(50):
            batch = self.runner.run_due()
            if not batch:
                return outcomes
            outcomes.extend(outcome.result for outcome in batch)
        raise AssertionError(f"jobs still due after 50 batches: {outcomes[-10:]}")

    def fire_timers(self) -> int:
        from engine.timers import fire_due_timers

        return fire_due_timers(self.session_factory)

    def open_tasks(self, element_id: str | None = None, instance_id: str | None = None) -> list[HumanTask]:
        with self.session_factory() as session:
            query = sa.select(HumanTask).where(HumanTask.status == "open").order_by(HumanTask.created_at, HumanTask.id)
            if element_id:
                query = query.where(HumanTask.element_id == element_id)
            if instance_id:
                query = query.where(HumanTask.instance_id == instance_id)
            return list(session.scalars(query))

    def task(self, element_id: str, instance_id: str | None = None) -> HumanTask:
        tasks = self.open_tasks(element_id, instance_id)
        assert len(tasks) == 1, f"expected one open {element_id} task, found {len(tasks)}"
        return tasks[0]

    def complete(self, element_id: str, data: dict, actor: Actor, instance_id: str | None = None) -> None:
        self.engine.complete(self.task(element_id, instance_id).id, data, actor)
        self.run_jobs()

    def candidate_groups(self, element_id: str) -> set[str]:
        with self.session_factory() as session:
            task = session.get(HumanTask, self.task(element_id).id)
            return {candidate.group_name for candidate in task.candidates}

    def emails(self, template: str | None = None) -> list[OutboxEmail]:
        with self.session_factory() as session:
            query = sa.select(OutboxEmail).order_by(OutboxEmail.id)
            if template:
                query = query.where(OutboxEmail.template == template)
            return list(session.scalars(query))

    def incidents(self) -> list[Incident]:
        with self.session_factory() as session:
            return list(session.scalars(sa.select(Incident).where(Incident.status == "open").order_by(Incident.id)))

    def status(self, instance_id: str) -> str:
        return self.engine.get_instance(instance_id).status

    def get(self, model, record_id):
        with self.session_factory() as session:
            record = session.get(model, record_id)
            session.expunge_all()
            return record


@pytest.fixture
def journey(session_factory, simulators, clock):
    simulators.state.reset()
    registry = build_registry(simulators.handler_settings())
    journey = Journey(session_factory, registry, clock)
    yield journey
    journey.runner.close()


STAFF = Actor("staff", frozenset({"provider_services"}))


@pytest.fixture
def people(session_factory):
    """A care manager, a provider services officer and a service user, with made-up names."""
    with session_factory.begin() as session:
        care_manager = User(email="cm.ash@council.example", display_name="Robin Ash", role=Role.CARE_MANAGER)
        officer = User(email="ps.birch@council.example", display_name="Sam Birch", role=Role.PROVIDER_SERVICES)
        service_user = ServiceUser(reference="SU-00001", display_name="Grace Example", postcode_district="ZZ1", full_postcode="ZZ1 9ZZ", address="1 Example Street")
        session.add_all([care_manager, officer, service_user])
        session.flush()
        return {"care_manager": care_manager.id, "officer": officer.id, "service_user": service_user.id}


@pytest.fixture
def make_provider(session_factory):
    """Return a function that creates a live provider covering a district, with one provider user: (provider id, user id)."""

    def make(name: str, number: int, rate: str = "21.50", district: str = "ZZ1") -> tuple[int, int]:
        with session_factory.begin() as session:
            provider = Provider(
                name=name,
                kind=ProviderKind.COMPANY,
                company_number=f"ZZ{number:06d}",
                status=ProviderStatus.LIVE,
                standard_hourly_rate=Decimal(rate),
                paypal_email=f"payments{number}@provider.example",
            )
            provider.districts = [ProviderDistrict(postcode_district=district)]
            session.add(provider)
            session.flush()
            user = User(email=f"office{number}@provider.example", display_name=f"Office {number}", role=Role.PROVIDER_USER, provider_id=provider.id)
            session.add(user)
            session.flush()
            return provider.id, user.id

    return make


def care_manager_actor(user_id: int) -> Actor:
    return Actor(str(user_id), frozenset({"care_manager"}))


def provider_actor(user_id: int | str, provider_id: int) -> Actor:
    return Actor(str(user_id), frozenset({f"provider-{provider_id}", "provider_user"}))


@pytest.fixture
def actors():
    """Builders of the actors who complete tasks: provider services staff, care managers and provider users."""

    class Actors:
        staff = STAFF
        care_manager = staticmethod(care_manager_actor)
        provider = staticmethod(provider_actor)

    return Actors
