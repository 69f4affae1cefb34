"""Access control on every route: anonymous users go to the login page, other roles and other providers get 403."""

from dataclasses import dataclass

import pytest

from engine.runtime import Actor
from handlers.notifications import notify_provider


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    denied_roles: tuple[str, ...]


# Paths use {task}, {enquiry}, {notification}; the role check runs before any record is looked up,
# so the instance and incident ids need not exist.
ROUTES = {
    "task list": Route("GET", "/tasks", ()),
    "task page": Route("GET", "/tasks/{task}", ("provider_user", "analyst")),
    "task complete": Route("POST", "/tasks/{task}", ("provider_user", "provider_services")),
    "task claim": Route("POST", "/tasks/{task}/claim", ("provider_user", "analyst")),
    "task release": Route("POST", "/tasks/{task}/release", ("provider_user",)),
    "provider enquiries": Route("GET", "/provider/enquiries", ("care_manager", "admin")),
    "provider enquiry": Route("GET", "/provider/enquiries/{enquiry}", ("care_manager", "admin", "other_provider_user")),
    "provider notifications": Route("GET", "/provider/notifications", ("care_manager", "admin")),
    "provider notification read": Route("POST", "/provider/notifications/{notification}/read", ("care_manager", "other_provider_user")),
    "provider enquiry note": Route("POST", "/provider/enquiries/{enquiry}/notes", ("care_manager", "admin", "other_provider_user")),
    "provider profile": Route("GET", "/provider/profile", ("care_manager", "admin")),
    "provider profile save": Route("POST", "/provider/profile", ("care_manager", "provider_services")),
    "provider payments": Route("GET", "/provider/payments", ("care_manager", "admin")),
    "provider documents": Route("GET", "/provider/documents", ("care_manager", "admin")),
    "provider document upload": Route("POST", "/provider/documents", ("care_manager", "provider_services")),
    "provider packages": Route("GET", "/provider/packages", ("care_manager", "admin")),
    "provider package": Route("GET", "/provider/packages/1", ("care_manager", "admin", "other_provider_user")),
    "provider package change": Route("POST", "/provider/packages/1/change-request", ("care_manager", "other_provider_user")),
    "provider package suspend": Route("POST", "/provider/packages/1/suspend", ("care_manager", "other_provider_user")),
    "provider package resume": Route("POST", "/provider/packages/1/resume", ("admin", "other_provider_user")),
    "provider package visit": Route("POST", "/provider/packages/1/visits", ("care_manager", "other_provider_user")),
    "provider document download": Route("GET", "/documents/provider/1", ("care_manager", "analyst", "other_provider_user")),
    "enquiry document download": Route("GET", "/documents/enquiry/1", ("analyst", "other_provider_user")),
    "staff raise enquiry": Route("GET", "/staff/enquiries/new", ("provider_user", "admin", "provider_services")),
    "staff enquiry note": Route("POST", "/staff/enquiries/{enquiry}/notes", ("provider_user", "analyst")),
    "staff enquiry document upload": Route("POST", "/staff/enquiries/{enquiry}/documents", ("provider_user", "admin")),
    "staff select": Route("GET", "/staff/enquiries/{enquiry}/select", ("provider_user", "provider_services")),
    "staff change requests": Route("GET", "/staff/change-requests", ("provider_user", "provider_services")),
    "staff change review": Route("POST", "/staff/change-requests/1", ("provider_user", "analyst")),
    "staff provider": Route("GET", "/staff/providers/1", ("provider_user", "care_manager")),
    "staff provider contact": Route("POST", "/staff/providers/contact", ("provider_user", "care_manager")),
    "staff enquiries": Route("GET", "/staff/enquiries", ("provider_user", "analyst", "provider_services")),
    "staff enquiry": Route("GET", "/staff/enquiries/{enquiry}", ("provider_user", "analyst")),
    "staff providers": Route("GET", "/staff/providers", ("provider_user", "care_manager", "analyst")),
    "process versions": Route("GET", "/admin/processes", ("provider_user", "care_manager")),
    "deploy": Route("POST", "/admin/processes/deploy", ("provider_user", "provider_services")),
    "instances": Route("GET", "/admin/instances", ("analyst", "care_manager")),
    "instance": Route("GET", "/admin/instances/00000000-0000-0000-0000-000000000000", ("analyst", "provider_user")),
    "incidents": Route("GET", "/admin/incidents", ("analyst", "provider_services")),
    "incident retry": Route("POST", "/admin/incidents/1/retry", ("analyst", "care_manager")),
    "incident cancel": Route("POST", "/admin/incidents/1/cancel", ("analyst", "provider_user")),
    "mailbox": Route("GET", "/admin/mailbox", ("analyst", "provider_user")),
}


@pytest.fixture
def targets(services, people, deployed, enquiry_id, session_factory) -> dict:
    services.engine.start("web_review", actor="test")
    task_id = services.engine.list_tasks(Actor("test", is_admin=True))[0].id
    with session_factory.begin() as db:
        notification_id = notify_provider(db, people.provider.id, "New enquiry", "An enquiry in LS6.", "/provider/enquiries")
    return {"task": task_id, "enquiry": enquiry_id, "notification": notification_id}


def _send(client, route: Route, targets: dict, token: str):
    path = route.path.format(**targets)
    if route.method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": token, "reason": "test"})


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_anonymous_redirected_to_login(name, client, targets, csrf_token):
    route = ROUTES[name]
    token = csrf_token(client, "/login")

    response = _send(client, route, targets, token)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("name", sorted(name for name, route in ROUTES.items() if route.denied_roles))
def test_route_other_role_forbidden(name, logged_in, people, targets, csrf_token):
    route = ROUTES[name]
    for role in route.denied_roles:
        client = logged_in(people.by_role(role))
        token = csrf_token(client, "/tasks")

        response = _send(client, route, targets, token)

        assert response.status_code == 403, f"{role} reached {route.method} {route.path} with status {response.status_code}"
