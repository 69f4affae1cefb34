"""Diagram pages: access control, the XML and element-state endpoints, the editor's lint and deploy, and the vendored bpmn-js."""

import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from engine.models import Deployment, ProcessVersion
from web.security import CONTENT_SECURITY_POLICY

DIAGRAMS = Path(__file__).with_name("diagrams")
VENDOR = Path(__file__).parents[2] / "web" / "static" / "vendor"
UNKNOWN_INSTANCE = "00000000-0000-0000-0000-000000000000"
SAVE_PATH = "/admin/processes/editor"

# GET routes with the roles that may open them. {instance} is a real instance, so allowed roles get 200.
ADMIN_ONLY = ("admin",)
ANALYST_AND_ADMIN = ("analyst", "admin")
PAGES = {
    "/admin/instances/{instance}/diagram": ADMIN_ONLY,
    "/admin/instances/{instance}/diagram.xml": ADMIN_ONLY,
    "/admin/instances/{instance}/elements.json": ADMIN_ONLY,
    "/admin/processes/web_review/versions/1/diagram": ANALYST_AND_ADMIN,
    "/admin/processes/web_review/versions/1/diagram.xml": ANALYST_AND_ADMIN,
    "/admin/processes/editor": ANALYST_AND_ADMIN,
    "/admin/processes/editor?process_id=web_review": ANALYST_AND_ADMIN,
}
ROLES = ("provider_user", "care_manager", "provider_services", "analyst", "admin")


@pytest.fixture
def instance_id(services, deployed) -> str:
    return services.engine.start("web_review", business_key="REF-DIAGRAM", data={"hours": 10}, actor="test")


def _versions(session_factory) -> list[tuple[str, int, str]]:
    query = sa.select(ProcessVersion.process_id, ProcessVersion.version, Deployment.source_name).join(Deployment).order_by(ProcessVersion.id)
    with session_factory() as db:
        return [tuple(row) for row in db.execute(query)]


def _page_token(client) -> str:
    """Return the CSRF token of the logout form, which every page of a logged-in user carries."""
    page = client.get("/admin/processes").get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match is not None, "no CSRF token on the process versions page"
    return match.group(1)


def _save(client, xml: str, *, action: str = "deploy", file_name: str | None = None, token: str | None = None):
    body = {"xml": xml, "action": action}
    if file_name is not None:
        body["file_name"] = file_name
    headers = {"X-CSRFToken": token if token is not None else _page_token(client)}
    return client.post(SAVE_PATH, json=body, headers=headers)


# Access control


@pytest.mark.parametrize("path", sorted(PAGES))
def test_diagram_route_anonymous_redirected(path, client, instance_id):
    response = client.get(path.format(instance=instance_id))

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", sorted(PAGES))
def test_diagram_route_roles(path, logged_in, people, instance_id):
    allowed = PAGES[path]
    for role in ROLES:
        client = logged_in(people.by_role(role))

        response = client.get(path.format(instance=instance_id))

        expected = 200 if role in allowed else 403
        assert response.status_code == expected, f"{role} got {response.status_code} from {path}"


def test_save_anonymous_redirected(client, deployed, csrf_token, session_factory):
    token = csrf_token(client, "/login")

    response = _save(client, (DIAGRAMS / "web_review.bpmn").read_text(), token=token)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", ["provider_user", "care_manager", "provider_services"])
def test_save_other_role_forbidden(role, logged_in, people, session_factory):
    client = logged_in(people.by_role(role))
    page = client.get("/tasks").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    response = _save(client, (DIAGRAMS / "web_review.bpmn").read_text(), token=token)

    assert response.status_code == 403
    assert _versions(session_factory) == []


def test_instance_unknown_id_not_found(logged_in, people):
    client = logged_in(people.admin)

    for suffix in ("diagram", "diagram.xml", "elements.json"):
        response = client.get(f"/admin/instances/{UNKNOWN_INSTANCE}/{suffix}")
        assert response.status_code == 404, suffix


def test_version_unknown_not_found(logged_in, people, deployed):
    client = logged_in(people.analyst)

    assert client.get("/admin/processes/web_review/versions/2/diagram").status_code == 404
    assert client.get("/admin/processes/web_review/versions/2/diagram.xml").status_code == 404
    assert client.get("/admin/processes/editor?process_id=no_such_process").status_code == 404


# Instance state


def test_instance_xml_returns_deployed_xml(logged_in, people, instance_id):
    client = logged_in(people.admin)

    response = client.get(f"/admin/instances/{instance_id}/diagram.xml")

    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.get_data(as_text=True) == (DIAGRAMS / "web_review.bpmn").read_text(encoding="utf-8")
    assert response.headers["Cache-Control"] == "no-store"


def test_instance_elements_match_engine(logged_in, people, services, instance_id):
    client = logged_in(people.admin)

    response = client.get(f"/admin/instances/{instance_id}/elements.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == services.engine.instance_elements(instance_id)
    assert response.get_json()["active"] == ["approve"]
    assert "start" in response.get_json()["completed"]


def test_instance_page_links_diagram(logged_in, people, instance_id):
    client = logged_in(people.admin)

    page = client.get(f"/admin/instances/{instance_id}").get_data(as_text=True)

    assert f'href="/admin/instances/{instance_id}/diagram"' in page


def test_instance_diagram_page_names_endpoints(logged_in, people, instance_id):
    client = logged_in(people.admin)

    page = client.get(f"/admin/instances/{instance_id}/diagram").get_data(as_text=True)

    assert f'data-xml-url="/admin/instances/{instance_id}/diagram.xml"' in page
    assert f'data-elements-url="/admin/instances/{instance_id}/elements.json"' in page
    assert "/static/vendor/bpmn-viewer.js" in page
    for word in ("Completed", "Active", "Waiting", "Failed"):
        assert f"<strong>{word}</strong>" in page, f"the key does not name {word}"


# Versions


def test_version_xml_returns_deployed_xml(logged_in, people, deployed):
    client = logged_in(people.analyst)

    response = client.get("/admin/processes/web_review/versions/1/diagram.xml")

    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.get_data(as_text=True) == (DIAGRAMS / "web_review.bpmn").read_text(encoding="utf-8")


def test_versions_page_links_view_and_edit(logged_in, people, deployed):
    client = logged_in(people.analyst)

    page = client.get("/admin/processes").get_data(as_text=True)

    assert 'href="/admin/processes/web_review/versions/1/diagram"' in page
    assert 'href="/admin/processes/editor?process_id=web_review"' in page
    assert 'href="/admin/processes/editor"' in page


def test_editor_opens_newest_version(logged_in, people, services, deployed):
    changed = (DIAGRAMS / "web_review.bpmn").read_text().replace('name="Approve hours"', 'name="Approve the hours"')
    services.engine.deploy({"web_review.bpmn": changed.encode()}, "test")
    client = logged_in(people.analyst)

    page = client.get("/admin/processes/editor?process_id=web_review").get_data(as_text=True)

    assert 'data-xml-url="/admin/processes/web_review/versions/2/diagram.xml"' in page
    assert 'data-file-name="web_review.bpmn"' in page
    assert "/static/vendor/bpmn-modeler.js" in page


def test_editor_blank_has_no_xml_url(logged_in, people):
    client = logged_in(people.analyst)

    page = client.get("/admin/processes/editor").get_data(as_text=True)

    assert "data-xml-url" not in page
    assert 'data-save-url="/admin/processes/editor"' in page
    assert re.search(r'data-csrf-token="[^"]+"', page)


# Saving from the editor


def test_save_invalid_returns_problems(logged_in, people, session_factory):
    client = logged_in(people.analyst)

    response = _save(client, (DIAGRAMS / "broken.bpmn").read_text(), file_name="broken.bpmn")

    assert response.status_code == 422
    body = response.get_json()
    assert body["deployed"] is False
    assert body["file_name"] == "broken.bpmn"
    problems = {problem["element_id"]: problem for problem in body["problems"]}
    assert "call_nobody" in problems
    assert problems["call_nobody"]["severity"] == "error"
    assert problems["call_nobody"]["text"].startswith("broken.bpmn:call_nobody")
    assert "no.such.topic" in problems["call_nobody"]["message"]
    assert _versions(session_factory) == []


def test_save_malformed_xml_returns_problem(logged_in, people, session_factory):
    client = logged_in(people.analyst)

    response = _save(client, "<bpmn:definitions")

    assert response.status_code == 422
    body = response.get_json()
    assert body["file_name"] == "diagram.bpmn"
    assert body["problems"], "a malformed file gave no lint problem"
    assert _versions(session_factory) == []


def test_save_valid_creates_version(logged_in, people, session_factory):
    client = logged_in(people.analyst)

    response = _save(client, (DIAGRAMS / "web_review.bpmn").read_text())

    assert response.status_code == 200
    body = response.get_json()
    assert body["deployed"] is True
    assert body["created"] == [{"process_id": "web_review", "version": 1}]
    assert body["file_name"] == "web_review.bpmn"
    assert _versions(session_factory) == [("web_review", 1, "web_review.bpmn")]


def test_save_edited_diagram_adds_version(logged_in, people, session_factory, deployed):
    client = logged_in(people.admin)
    changed = (DIAGRAMS / "web_review.bpmn").read_text().replace('name="Approve hours"', 'name="Approve the hours"')

    response = _save(client, changed, file_name="web_review.bpmn")

    assert response.status_code == 200
    assert response.get_json()["created"] == [{"process_id": "web_review", "version": 2}]
    assert _versions(session_factory) == [("web_review", 1, "web_review.bpmn"), ("web_review", 2, "web_review.bpmn")]


def test_save_unchanged_diagram_deploys_nothing(logged_in, people, session_factory, deployed):
    client = logged_in(people.analyst)

    response = _save(client, (DIAGRAMS / "web_review.bpmn").read_text(), file_name="web_review.bpmn")

    assert response.status_code == 200
    body = response.get_json()
    assert body["deployed"] is False
    assert body["unchanged"] == ["web_review.bpmn"]
    assert len(_versions(session_factory)) == 1


def test_save_unsafe_file_name_made_safe(logged_in, people, session_factory):
    client = logged_in(people.analyst)

    response = _save(client, (DIAGRAMS / "web_review.bpmn").read_text(), file_name="../../etc/review")

    assert response.status_code == 200
    assert response.get_json()["file_name"] == "etc_review.bpmn"
    assert _versions(session_factory) == [("web_review", 1, "etc_review.bpmn")]


def test_save_lint_action_deploys_nothing(logged_in, people, session_factory):
    client = logged_in(people.analyst)

    valid = _save(client, (DIAGRAMS / "web_review.bpmn").read_text(), action="lint")
    invalid = _save(client, (DIAGRAMS / "broken.bpmn").read_text(), action="lint")

    assert valid.status_code == 200
    assert valid.get_json()["problems"] == []
    assert invalid.status_code == 422
    assert any(problem["element_id"] == "call_nobody" for problem in invalid.get_json()["problems"])
    assert _versions(session_factory) == []


def test_save_without_csrf_token_rejected(logged_in, people, session_factory):
    client = logged_in(people.analyst)

    response = client.post(SAVE_PATH, json={"xml": (DIAGRAMS / "web_review.bpmn").read_text()})

    assert response.status_code == 400
    assert _versions(session_factory) == []


@pytest.mark.parametrize(
    "body",
    [
        {"action": "deploy"},
        {"xml": "   "},
        {"xml": 5},
        {"xml": "<x/>", "action": "publish"},
        ["<x/>"],
    ],
)
def test_save_bad_body_rejected(body, logged_in, people, session_factory):
    client = logged_in(people.analyst)

    response = client.post(SAVE_PATH, json=body, headers={"X-CSRFToken": _page_token(client)})

    assert response.status_code == 400
    assert response.get_json()["error"]
    assert _versions(session_factory) == []


# Vendored bundles and the CSP


@pytest.mark.parametrize("name", ["bpmn-viewer.js", "bpmn-modeler.js"])
def test_vendor_script_served_as_javascript(name, client):
    response = client.get(f"/static/vendor/{name}")

    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert len(response.get_data()) > 100_000
    response.close()


@pytest.mark.parametrize("name", ["bpmn-viewer-style.css", "bpmn-modeler-style.css"])
def test_vendor_style_served_as_css(name, client):
    response = client.get(f"/static/vendor/{name}")

    assert response.status_code == 200
    assert response.mimetype == "text/css"
    fonts = re.findall(r"url\(\"?\.?/?(fonts/[^\"?#)]+)", response.get_data(as_text=True))
    response.close()
    assert fonts, "the stylesheet names no font file"
    for font in fonts:
        assert (VENDOR / font).is_file(), f"{font} is missing from web/static/vendor"


def test_vendor_licences_beside_bundles():
    licences = (VENDOR / "THIRD-PARTY-LICENCES.txt").read_text(encoding="utf-8")

    for package in ("bpmn-js", "bpmn-js-properties-panel", "camunda-bpmn-moddle", "diagram-js", "preact"):
        assert f"\n{package} " in licences, f"no licence for {package}"


@pytest.mark.parametrize("path", sorted(PAGES))
def test_diagram_pages_csp_without_unsafe_inline(path, logged_in, people, instance_id):
    client = logged_in(people.admin)

    response = client.get(path.format(instance=instance_id))

    policy = response.headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "script-src 'self'" in policy
    if response.mimetype == "text/html":
        page = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page), "inline script on the page"
        assert " style=" not in page
        assert "<style" not in page


# Browser check: the bundles load under the CSP and draw the state; skipped without Playwright and Debian's Chromium.

CHROMIUM = Path("/usr/bin/chromium")
# web_review.bpmn with a layout (BPMN DI), which bpmn-js needs to draw anything.
LAYOUT = """
  <bpmndi:BPMNDiagram id="diagram_web_review">
    <bpmndi:BPMNPlane id="plane_web_review" bpmnElement="web_review">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="approve_di" bpmnElement="approve"><dc:Bounds x="200" y="78" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="notify_di" bpmnElement="notify"><dc:Bounds x="360" y="78" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="520" y="100" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="136" y="118" /><di:waypoint x="200" y="118" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="300" y="118" /><di:waypoint x="360" y="118" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3"><di:waypoint x="460" y="118" /><di:waypoint x="520" y="118" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>"""
DI_NAMESPACES = (
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda='
)


def _web_review_with_layout() -> bytes:
    xml = (DIAGRAMS / "web_review.bpmn").read_text(encoding="utf-8")
    xml = xml.replace("xmlns:camunda=", DI_NAMESPACES, 1).replace("</bpmn:definitions>", LAYOUT)
    return xml.encode("utf-8")


@pytest.fixture
def live_server(app, db_url):
    """The app served on a loopback port in a thread; its base URL."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the browser check runs once, on SQLite")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def _record_console_error(problems: list[str], message) -> None:
    # The app serves no favicon, and the browser requests one on the first page it opens.
    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
        problems.append(f"{message.text} at {message.location}")


@pytest.fixture
def browser_page():
    """A headless Chromium page that records console errors and CSP violations."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed: apt-get install chromium")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page()
        page.problems = []
        page.add_init_script(CSP_REPORTER)
        page.on("console", lambda message: _record_console_error(page.problems, message))
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        yield page
        browser.close()


# Chromium's own console message for a CSP violation names neither the element nor the code position.
CSP_REPORTER = """
document.addEventListener('securitypolicyviolation', function (event) {
  console.error('CSP violation: ' + event.violatedDirective + ' by ' + event.sourceFile + ':' + event.lineNumber + ':' + event.columnNumber + ' sample ' + event.sample);
});
"""


def _browser_login(page, base_url: str, user) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_browser_instance_diagram_marks_state(live_server, browser_page, people, services):
    services.engine.deploy({"web_review.bpmn": _web_review_with_layout()}, "test")
    instance_id = services.engine.start("web_review", actor="test")
    _browser_login(browser_page, live_server, people.admin)

    browser_page.goto(f"{live_server}/admin/instances/{instance_id}/diagram")
    browser_page.wait_for_selector("#diagram-status:has-text('Diagram loaded.')", timeout=15_000)

    assert browser_page.locator('.djs-element.state-active[data-element-id="approve"]').count() == 1
    assert browser_page.locator('.djs-element.state-completed[data-element-id="start"]').count() == 1
    assert browser_page.locator(".state-badge.state-active").inner_text() == "Active"
    assert "approve" in browser_page.locator("#diagram-elements").inner_text()
    assert browser_page.problems == [], "\n".join(browser_page.problems)


def test_browser_editor_deploys_new_version(live_server, browser_page, people, services, session_factory):
    services.engine.deploy({"web_review.bpmn": _web_review_with_layout()}, "test")
    _browser_login(browser_page, live_server, people.analyst)

    browser_page.goto(f"{live_server}/admin/processes/editor?process_id=web_review")
    browser_page.wait_for_selector("#editor-result:has-text('The diagram is open.')", timeout=15_000)
    browser_page.click('.djs-element[data-element-id="approve"]')
    browser_page.wait_for_selector(".bio-properties-panel-header-label:has-text('Approve hours')", timeout=5_000)
    # Each element type opens other property groups, which must not need inline styles either.
    for element_id in ("notify", "end", "start"):
        browser_page.click(f'.djs-element[data-element-id="{element_id}"]')
        browser_page.wait_for_selector(f'.djs-element.selected[data-element-id="{element_id}"]', timeout=5_000)
    browser_page.click("#editor-deploy")
    browser_page.wait_for_selector("#editor-result:has-text('Deployed web_review version 2')", timeout=15_000)

    assert _versions(session_factory)[-1] == ("web_review", 2, "web_review.bpmn")
    assert browser_page.problems == [], "\n".join(browser_page.problems)
