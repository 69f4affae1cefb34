"""``careplace demo`` run in-process: the whole journey passes its checks, and a failed check exits 1 naming its stage."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

import careplace.demo
import processes
from careplace.cli import main
from careplace.demo_payments import ExpectedPayment
from engine.errors import ConflictError

pytestmark = pytest.mark.slow


def run_demo(capsys, *argv: str) -> tuple[int, str]:
    code = main(["demo", *argv])
    return code, capsys.readouterr().out


def test_demo_whole_journey_passes(capsys):
    code, out = run_demo(capsys)

    assert code == 0, out
    assert re.search(r"All \d+ checks passed; 18 emails reached the SMTP sink\.", out)
    assert "Mon 04 Jan 2027 09:30  provider services  recorded a call from Brightwater Home Care Ltd to the contact centre" in out
    assert "CQC check passed (Registered) and Companies House check passed (active) on the simulators" in out
    assert "deployed provider_onboarding.bpmn, enquiry.bpmn, enquiry_recipient.bpmn, care_package.bpmn, payment_run.bpmn, year_end_recoup.bpmn" in out
    assert "(through care_package.bpmn" in out
    assert "(through payment_run.bpmn)" in out
    assert "(through year_end_recoup.bpmn)" in out
    assert "to office@brightwater.example: Brightwater Home Care Ltd is now live on Care Place" in out
    assert "Meadowlark         declined: no carers free in ZZ1 until April" in out
    assert re.search(r"to office@kestrel\.example: Reminder: please respond to enquiry ENQ-\S+ by Monday 8 February 2027", out)
    assert re.search(r"to providerservices@council\.example: Escalation: no response from Kestrel Homecare Ltd", out)
    assert re.search(r"to office@brightwater\.example: Enquiry ENQ-\S+: you have been provisionally selected", out)
    assert re.search(r"to office@meadowlark\.example: Enquiry ENQ-\S+: another provider was selected", out)
    assert re.search(r"to office@brightwater\.example: Enquiry ENQ-\S+: care package confirmed from Monday 1 March 2027", out)
    assert re.search(r"suspended from Friday 26 March 2027", out)
    assert re.search(r"resumes on Tuesday 6 April 2027", out)
    assert "to office@brightwater.example: Payment of £694.40 on Thursday 1 April 2027" in out
    assert "recoup of £134.40 opened against Brightwater Home Care Ltd" in out
    assert "to office@brightwater.example: Payment of £425.60 on Monday 3 May 2027" in out
    assert re.search(r"recoup \d+ settled by offset in payment \d+", out)
    assert "service user SU-DEMO-0001 lives in ZZ1" in out
    assert "Demo Person" not in out


def test_demo_runs_stages_without_diagrams(capsys, monkeypatch):
    documents = processes.load_all()
    # The enquiry diagram starts care_package instances, so only the payment diagrams are left out.
    for name in ("payment_run.bpmn", "year_end_recoup.bpmn"):
        documents[name] = b"<definitions>not a diagram</definitions>"
    documents["zz_draft.bpmn"] = b"<definitions>not driven</definitions>"
    monkeypatch.setattr(careplace.demo.processes, "load_all", lambda: documents)

    code, out = run_demo(capsys)

    assert code == 0, out
    for name in ("payment_run", "year_end_recoup"):
        assert re.search(rf"analyst\s+{name}\.bpmn failed the linter, so its stage runs without it \(problems found: \d+\)", out)
    assert re.search(r"deployed .*care_package\.bpmn", out)
    assert re.search(r"not driven by the demo yet: .*zz_draft\.bpmn", out)
    assert "care_package.bpmn is not deployed" not in out
    assert re.search(r"to office@brightwater\.example: Care package for enquiry ENQ-\S+ suspended from Friday 26 March 2027", out)
    assert "payment_run.bpmn is not deployed, so this stage calls the care functions and the PayPal client directly" in out
    assert "year_end_recoup.bpmn is not deployed, so this stage calls the care functions directly" in out
    assert "to office@brightwater.example: Payment of £425.60 on Monday 3 May 2027" in out
    assert re.search(r"recoup \d+ settled by offset in payment \d+", out)


def test_demo_failed_check_exits_1(capsys, monkeypatch):
    wrong = ExpectedPayment(gross=Decimal("700.00"), recouped=Decimal("0.00"), amount=Decimal("700.00"))
    monkeypatch.setattr(careplace.demo, "MARCH_PAYMENT", wrong)

    code, out = run_demo(capsys, "--keep")

    assert code == 1
    assert "CHECK FAILED in stage 'Stage 7: payment run for March': gross, recouped and paid amounts" in out
    assert "All " not in out
    kept_match = re.search(r"The demo database is kept at (\S+)", out)
    assert kept_match is not None
    path = Path(kept_match.group(1))
    assert path.is_file()
    for file in path.parent.iterdir():
        file.unlink()
    path.parent.rmdir()


def test_demo_engine_error_exits_1(capsys, monkeypatch):
    def conflict(_demo):
        raise ConflictError("task 1 was completed by someone else at the same time; reload it")

    monkeypatch.setattr(careplace.demo.demo_onboarding, "onboard_provider", conflict)

    code, out = run_demo(capsys)

    assert code == 1
    assert "STAGE FAILED: 'Set-up' raised ConflictError: task 1 was completed by someone else" in out


def test_demo_database_not_empty_exits_1(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'used.db'}"
    first, _out = run_demo(capsys, "--database-url", url)

    code, out = run_demo(capsys, "--database-url", url)

    assert first == 0
    assert code == 1
    assert "CHECK FAILED in stage 'set-up': the demo database starts empty" in out
    assert (tmp_path / "used.db").is_file()
