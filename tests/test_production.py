"""The production set-up: gunicorn serving web.wsgi and two `careplace worker` processes on one PostgreSQL database."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

BIN = Path(sys.executable).parent
TIMER_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="http://example.test/bpmn">
<bpmn:process id="short_wait" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
  <bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:scriptTask id="count" scriptFormat="python"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>passes = 1</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="count" />
<bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="end" />
</bpmn:process>
</bpmn:definitions>
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def production_env(pg_url, tmp_path) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "CAREPLACE_DATABASE_URL": pg_url,
            "CAREPLACE_SECRET_KEY": "test-secret-key-not-for-real-use-0123456789",
            "CAREPLACE_EMBEDDED": "0",
            "CAREPLACE_WORKER_INTERVAL": "0.5",
            "CAREPLACE_SMTP_HOST": "",
            "CAREPLACE_UPLOAD_DIR": str(tmp_path / "uploads"),
        }
    )
    return env


def careplace(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "careplace"), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


def test_gunicorn_serves_wsgi_app(production_env):
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "web.wsgi:app"],
        env=production_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)

        assert response is not None, "gunicorn did not answer within 30 seconds"
        assert response.status_code == 200
        assert "default-src" in response.headers["Content-Security-Policy"]
        # The login form's CSRF token lives in the session, so the page sets the session cookie.
        assert "Secure" in response.headers["Set-Cookie"]
        assert "HttpOnly" in response.headers["Set-Cookie"]
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5).json()["openapi"].startswith("3.1")
    finally:
        assert stop(server) == 0


def test_two_workers_fire_timer_once(production_env, tmp_path):
    diagram = tmp_path / "short_wait.bpmn"
    diagram.write_text(TIMER_DIAGRAM)
    assert careplace(production_env, "deploy", str(diagram)).returncode == 0
    started = careplace(production_env, "start", "short_wait", "--json")
    instance_id = json.loads(started.stdout)["id"]

    workers = [
        subprocess.Popen([str(BIN / "careplace"), "worker", "--worker-id", f"w{index}"], env=production_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for index in (1, 2)
    ]
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            status = json.loads(careplace(production_env, "show", instance_id, "--json").stdout)["instance"]["status"]
            if status == "completed":
                break
            time.sleep(0.5)
    finally:
        exit_codes = [stop(worker) for worker in workers]

    assert status == "completed"
    assert exit_codes == [0, 0]
    history = json.loads(careplace(production_env, "show", instance_id, "--json").stdout)["history"]
    assert [event["kind"] for event in history].count("timer.fired") == 1
