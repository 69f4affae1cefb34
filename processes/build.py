"""Write the first layout of every diagram in processes/ (run once: ``python -m processes.build``).

This script was used once to produce the first version of each .bpmn file.
The files are now the source of truth: analysts change them in Camunda
Modeler, and running this script again would overwrite their edits.
"""

import sys
from pathlib import Path

from processes.build_care_package import care_package
from processes.build_enquiry import enquiry, enquiry_recipient
from processes.build_enquiry_note import enquiry_note
from processes.build_onboarding import provider_onboarding
from processes.build_payments import payment_run, year_end_recoup

DIAGRAMS = {
    "provider_onboarding.bpmn": provider_onboarding,
    "enquiry.bpmn": enquiry,
    "enquiry_recipient.bpmn": enquiry_recipient,
    "enquiry_note.bpmn": enquiry_note,
    "care_package.bpmn": care_package,
    "payment_run.bpmn": payment_run,
    "year_end_recoup.bpmn": year_end_recoup,
}


def main(names: list[str]) -> None:
    """Write the named diagrams (all when none are named) next to this file."""
    folder = Path(__file__).parent
    for file_name in names or DIAGRAMS:
        (folder / file_name).write_text(DIAGRAMS[file_name]().to_xml(), encoding="utf-8")
        print(f"wrote {file_name}")


if __name__ == "__main__":
    main(sys.argv[1:])
