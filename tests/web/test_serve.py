"""The demo set-up of ``careplace serve``: accounts for every role, demo data, and the command's options."""

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from care.models.enquiries import Enquiry
from care.models.people import User
from careplace.cli import build_parser
from careplace.serve import DEMO_ACCOUNTS, create_demo_accounts, seed_demo_data


def test_demo_accounts_cover_every_role(session_factory):
    passwords = create_demo_accounts(session_factory)

    with session_factory() as db:
        users = {user.email: user for user in db.scalars(sa.select(User))}
    assert {role.value for _email, _name, role in DEMO_ACCOUNTS} == {"provider_user", "care_manager", "provider_services", "analyst", "admin"}
    for email, _name, _role in DEMO_ACCOUNTS:
        assert check_password_hash(users[email].password_hash, passwords[email])
    assert users["provider@example.test"].provider_id is not None


def test_demo_accounts_reset_passwords(session_factory):
    first = create_demo_accounts(session_factory)
    second = create_demo_accounts(session_factory)

    with session_factory() as db:
        count = db.scalar(sa.select(sa.func.count()).select_from(User))
    assert count == len(DEMO_ACCOUNTS)
    assert first["cm@example.test"] != second["cm@example.test"]


def test_demo_data_seeded_once(session_factory):
    create_demo_accounts(session_factory)

    seed_demo_data(session_factory)
    seed_demo_data(session_factory)

    with session_factory() as db:
        enquiries = db.scalars(sa.select(Enquiry)).all()
        recipients = len(enquiries[0].recipients)
    assert len(enquiries) == 1
    assert recipients == 2


def test_serve_options_parsed():
    args = build_parser().parse_args(["serve", "--demo", "--port", "5077"])

    assert args.demo is True
    assert args.host == "127.0.0.1"
    assert args.port == 5077
    assert args.embedded_command is True
    assert args.needs_services is False


def test_worker_command_still_registered():
    args = build_parser().parse_args(["worker", "--once"])

    assert args.once is True
