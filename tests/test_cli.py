"""The operator command line: JSON output and errors, the form listing, exit codes and file checks."""

import json
import shutil
from pathlib import Path

import pytest

from careplace.cli import main

DIAGRAMS = Path(__file__).parent / "engine" / "diagrams"
FAILING_START = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="http://example.test/bpmn">
<bpmn:process id="failing" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:scriptTask id="divide" scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>ratio = 1 / 0</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="divide" />
<bpmn:sequenceFlow id="f2" sourceRef="divide" targetRef="end" />
</bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAREPLACE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_cli_form_lists_fields(cli):
    assert cli("deploy", str(DIAGRAMS / "forms.bpmn"))[0] == 0
    assert cli("start", "care_assessment")[0] == 0
    code, out, _err = cli("tasks", "--admin", "--json")
    task_id = json.loads(out)[0]["id"]

    code, out, _err = cli("form", task_id, "--admin")

    assert code == 0
    assert "full_name" in out
    assert "required" in out


def test_cli_form_json(cli):
    cli("deploy", str(DIAGRAMS / "forms.bpmn"))
    cli("start", "care_assessment")
    task_id = json.loads(cli("tasks", "--admin", "--json")[1])[0]["id"]

    code, out, _err = cli("form", task_id, "--admin", "--json")

    assert code == 0
    assert "full_name" in [field["id"] for field in json.loads(out)["fields"]]


def test_cli_error_as_json(cli):
    code, out, err = cli("show", "no-such-instance", "--json")

    assert code == 1
    assert json.loads(out) == {"error": "NotFoundError", "message": "instance 'no-such-instance' not found"}
    assert "not found" in err


def test_cli_start_failure_exits_1(cli, tmp_path):
    diagram = tmp_path / "failing.bpmn"
    diagram.write_text(FAILING_START)
    assert cli("deploy", str(diagram))[0] == 0

    code, out, err = cli("start", "failing")

    assert code == 1
    assert "(error)" in out
    assert "careplace incidents" in err


def test_cli_duplicate_file_names_rejected(cli, tmp_path):
    (tmp_path / "copy").mkdir()
    shutil.copy(DIAGRAMS / "forms.bpmn", tmp_path / "copy" / "forms.bpmn")

    code, _out, err = cli("deploy", str(DIAGRAMS / "forms.bpmn"), str(tmp_path / "copy" / "forms.bpmn"))

    assert code == 1
    assert "two files are named forms.bpmn" in err


def test_cli_lint_json(cli):
    code, out, _err = cli("lint", str(DIAGRAMS / "forms.bpmn"), "--json")

    assert code == 0
    assert isinstance(json.loads(out), list)


def test_cli_claim_json(cli):
    cli("deploy", str(DIAGRAMS / "forms.bpmn"))
    cli("start", "care_assessment")
    task_id = json.loads(cli("tasks", "--admin", "--json")[1])[0]["id"]

    code, out, _err = cli("claim", task_id, "--admin", "--json")

    assert code == 0
    assert json.loads(out) == {"ok": True, "task_id": task_id, "action": "claimed"}


def test_cli_bad_json_data_as_json(cli):
    code, out, _err = cli("start", "care_assessment", "--data", "{not json", "--json")

    assert code == 1
    assert json.loads(out)["error"] == "CommandError"


def test_cli_worker_bad_setting(cli, monkeypatch):
    monkeypatch.setenv("CAREPLACE_PAYMENT_RUN_EVERY_DAYS", "0")

    code, out, _err = cli("worker", "--once", "--json")

    assert code == 1
    assert json.loads(out)["error"] == "ConfigError"


def test_cli_db_upgrade_names_heads(cli):
    code, out, _err = cli("db-upgrade")

    assert code == 0
    assert out.startswith("database schema is at the newest revision of each package: ")
    assert "engine_0003" in out


def test_cli_tasks_without_groups_hints(cli):
    assert cli("deploy", str(DIAGRAMS / "parallel_gateway.bpmn"))[0] == 0
    assert cli("start", "parallel_checks")[0] == 0

    code, out, err = cli("tasks")

    assert code == 0
    assert "(none)" in out
    assert "operator has no groups" in err
    assert "--groups" in err
    assert cli("tasks", "--groups", "provider_services")[2] == ""


def test_cli_lint_clean_file_says_so(cli):
    code, out, _err = cli("lint", str(DIAGRAMS / "parallel_gateway.bpmn"))

    assert code == 0
    assert out == "1 file checked: no problems\n"
