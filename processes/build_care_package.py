"""The first layout of care_package.bpmn: one instance per care package, from confirmation to its end."""

from processes.layout import Diagram, Field

LANES = [
    ("provider", "Provider"),
    ("care_manager", "Care manager"),
    ("provider_services", "Provider services team"),
    ("system", "System"),
]
PROVIDER_GROUP = "${'provider-' + str(provider_id)}"
PROVIDER_LINK = "${'/provider/packages/' + str(package_id)}"
STAFF_LINK = "${'/staff/packages/' + str(package_id)}"

# Each message keeps its whole payload under one variable, so a field one message leaves out never keeps the value an earlier message of the same name gave.
PAYLOAD_VARIABLES = {
    "package_suspended": "suspension",
    "package_resumed": "resumption",
    "package_change_requested": "change",
    "service_user_missing": "missing",
    "non_delivery_reported": "non_delivery",
    "service_user_died": "death",
    "package_end_requested": "ending",
}

DOCUMENTATION = (
    "One care package from confirmation to its end; the business key is the package reference (PKG- and the package id). "
    "The provider records its home assessment while the instance listens for these messages, each payload kept under one variable: "
    "package_suspended (suspension: suspension_reason holiday or hospital, suspended_from), package_resumed (resumption: resumed_from), "
    "package_change_requested (change: requested_hours_per_week, requested_unit_price, change_reason, requested_by_id), "
    "service_user_missing (missing: missing_since, missing_note) and non_delivery_reported (non_delivery: missed_on, non_delivery_note), whose date is the last day of care if the package ends, "
    "service_user_died (death: date_of_death, death_note) and package_end_requested (ending: last_day, end_note). "
    "A message sent while the instance is between two waits is rejected, and the sender should send it again."
)


class PayloadDiagram(Diagram):
    """A diagram whose message events store their payload under the variable PAYLOAD_VARIABLES names."""

    def _event_definition(self, message, timer, node_id=None) -> str:
        text = super()._event_definition(message, timer, node_id)
        if message in PAYLOAD_VARIABLES:
            text = text.replace(" />", f' camunda:resultVariable="{PAYLOAD_VARIABLES[message]}" />', 1)
        return text


def _notify_provider(d, node_id, name, column, title, body, *, row=0, lane="system"):
    return d.service_task(
        node_id,
        name,
        column,
        "notify.provider",
        lane=lane,
        row=row,
        inputs=[("provider_id", "${provider_id}"), ("title", title), ("body", body), ("link_path", PROVIDER_LINK)],
    )


def _notify_care_manager(d, node_id, name, column, title, body, *, row=0, lane="system"):
    return d.service_task(
        node_id,
        name,
        column,
        "notify.user",
        lane=lane,
        row=row,
        inputs=[("user_id", "${care_manager_id}"), ("title", title), ("body", body), ("link_path", STAFF_LINK)],
    )


def _end_package(d, node_id, name, column, reason, last_day, note, *, row):
    return d.service_task(
        node_id,
        name,
        column,
        "care.package.end",
        row=row,
        inputs=[("package_id", "${package_id}"), ("end_reason", reason), ("last_day", last_day), ("end_note", note)],
    )


def care_package() -> Diagram:
    d = PayloadDiagram("care_package", "Care package", LANES, DOCUMENTATION)

    d.start("package_started", "Package confirmed", "system", 0)
    d.service_task("load_package", "Load package, provider and care manager", 1, "care.package.load", inputs=[("package_id", "${package_id}")])
    d.gateway("start_split", "", "system", 2, kind="parallel")
    _add_assessment(d)
    d.gateway("listen_merge", "", "system", 3)
    d.gateway("await_event", "Wait for the next event", "system", 4, kind="eventBased")
    d.chain("package_started", "load_package", "start_split", "listen_merge", "await_event")
    d.flow("start_split", "assess_needs")

    _add_suspension(d)
    _add_change_request(d)
    _add_missing(d)
    _add_non_delivery(d)
    _add_death(d)
    _add_planned_end(d)
    return d


def _add_assessment(d):
    d.user_task(
        "assess_needs",
        "Record the home assessment",
        "provider",
        3,
        groups=PROVIDER_GROUP,
        due="P14D",
        documentation="Assess the service user at home and record what you found. Answer the regulator's five key questions for the care you plan.",
        fields=[
            Field("environment", "Home environment", required=True, constraints=(("maxlength", "4000"),)),
            Field("mobility", "Mobility", required=True, constraints=(("maxlength", "4000"),)),
            Field("religious_cultural_needs", "Religious and cultural needs", required=True, constraints=(("maxlength", "4000"),)),
            Field("point_safe", "The care planned is safe", "boolean", default="false"),
            Field("point_effective", "The care planned is effective", "boolean", default="false"),
            Field("point_caring", "The care planned is caring", "boolean", default="false"),
            Field("point_responsive", "The care planned is responsive to needs", "boolean", default="false"),
            Field("point_well_led", "The care planned is well-led", "boolean", default="false"),
            Field("assessment_notes", "Other notes", constraints=(("maxlength", "4000"),)),
        ],
    )
    d.service_task("save_assessment", "Store the assessment", 4, "care.package.record_assessment", lane="provider")
    _notify_care_manager(
        d, "notify_assessment", "Tell the care manager", 5, "${'Assessment recorded for ' + enquiry_reference}", "The provider's home assessment is in Care Place.", lane="provider"
    )
    d.end("assessment_done", "Assessment on record", "provider", 6)
    d.chain("assess_needs", "save_assessment", "notify_assessment", "assessment_done")


def _email(d, node_id, name, column, template, variables, *, row):
    return d.service_task(
        node_id,
        name,
        column,
        "email.send",
        row=row,
        inputs=[("to", "${provider_email}"), ("template", template), ("link_path", PROVIDER_LINK), ("variables", variables)],
    )


def _add_suspension(d):
    reference = {"provider_name": "${provider_name}", "enquiry_reference": "${enquiry_reference}"}
    d.catch("suspended", "Package suspended", "system", 5, row=0, message="package_suspended")
    d.service_task(
        "suspend_package",
        "Suspend package and pause payments",
        6,
        "care.package.suspend",
        inputs=[
            ("package_id", "${package_id}"),
            ("suspension_reason", "${suspension['suspension_reason']}"),
            ("suspended_from", "${suspension['suspended_from']}"),
            ("reported_by_id", "${suspension.get('reported_by_id')}"),
        ],
    )
    _email(d, "email_suspended", "Email suspension", 7, "package_suspended", {**reference, "suspended_from": "${suspension['suspended_from']}"}, row=0)
    d.catch("resumed", "Package resumed", "system", 5, row=1, message="package_resumed")
    d.service_task(
        "resume_package",
        "Resume package and payments",
        6,
        "care.package.resume",
        row=1,
        inputs=[("package_id", "${package_id}"), ("resumed_from", "${resumption['resumed_from']}"), ("reported_by_id", "${resumption.get('reported_by_id')}")],
    )
    _email(d, "email_resumed", "Email resumption", 7, "package_resumed", {**reference, "resumed_from": "${resumption['resumed_from']}"}, row=1)

    d.flow("await_event", "suspended")
    d.flow("await_event", "resumed")
    d.chain("suspended", "suspend_package", "email_suspended", "listen_merge")
    d.chain("resumed", "resume_package", "email_resumed", "listen_merge")


def _add_change_request(d):
    d.catch("change_requested", "Change requested", "system", 5, row=2, message="package_change_requested")
    d.service_task(
        "record_change",
        "Record change request",
        6,
        "care.package.request_change",
        row=2,
        inputs=[
            ("package_id", "${package_id}"),
            ("requested_hours_per_week", "${change.get('requested_hours_per_week')}"),
            ("requested_unit_price", "${change.get('requested_unit_price')}"),
            ("change_reason", "${change.get('change_reason')}"),
            ("requested_by_id", "${change.get('requested_by_id')}"),
        ],
    )

    d.gateway("change_split", "", "system", 7, row=2, kind="parallel")
    d.user_task(
        "review_change",
        "Review change request",
        "care_manager",
        8,
        groups="care_manager",
        due="P5D",
        documentation="The provider asks to change the hours or the price of this package. New terms apply from the effective date, which may be in the past.",
        fields=[
            Field("change_decision", "Decision", "enum", required=True, values=(("approve", "Approve"), ("reject", "Reject"))),
            Field("effective_from", "New terms apply from (approve; tomorrow when left empty)", "date"),
            Field("review_note", "Note for the provider (required to reject)", constraints=(("maxlength", "2000"),)),
        ],
    )
    # No input parameters: the optional effective date and note are absent from the data when left empty.
    d.service_task("apply_review", "Apply the review", 9, "care.package.review_change", row=2)
    _notify_provider(
        d,
        "notify_change_review",
        "Tell the provider the decision",
        10,
        "${'Change request ' + ('approved' if change_decision == 'approve' else 'rejected') + ' for ' + enquiry_reference}",
        "The care manager has reviewed your change request. The decision and any note are in Care Place.",
        row=2,
    )
    d.end("change_reviewed", "Change reviewed", "system", 11, row=2)

    d.flow("await_event", "change_requested")
    d.chain("change_requested", "record_change", "change_split", "listen_merge")
    d.flow("change_split", "review_change")
    d.chain("review_change", "apply_review", "notify_change_review", "change_reviewed")


def _add_missing(d):
    d.catch("user_missing", "Service user missing", "system", 5, row=3, message="service_user_missing")
    _notify_care_manager(
        d, "notify_missing", "Alert the care manager", 6, "${'Service user missing: ' + enquiry_reference}", "The provider reports the service user missing. Find them and record the outcome.", row=3
    )

    d.gateway("missing_split", "", "system", 7, row=3, kind="parallel")
    d.user_task(
        "find_service_user",
        "Find the missing service user",
        "care_manager",
        8,
        row=1,
        groups="care_manager",
        due="P1D",
        documentation="The provider reports the service user missing. Contact their family and the services involved, then record the outcome.",
        fields=[
            Field("missing_outcome", "Outcome", "enum", required=True, values=(("found", "Found: care continues"), ("end", "End the package"))),
            Field("missing_outcome_note", "What happened", required=True, constraints=(("maxlength", "2000"),)),
        ],
    )
    d.gateway("missing_gateway", "End the package?", "care_manager", 9, row=1)
    d.end("service_user_found", "Care continues", "care_manager", 10, row=1)
    _end_package(d, "end_missing", "End package: service user missing", 10, "missing", "${missing['missing_since']}", "${missing_outcome_note}", row=3)
    _notify_provider(
        d, "notify_missing_end", "Tell the provider the package ended", 11, "${'Care package ended: ' + enquiry_reference}", "The care manager has ended this package because the service user is missing. Make no further visits.", row=3
    )
    d.end("missing_ended", "Package ended", "system", 12, row=3, terminate=True)

    d.flow("await_event", "user_missing")
    d.chain("user_missing", "notify_missing", "missing_split", "listen_merge")
    d.flow("missing_split", "find_service_user")
    d.chain("find_service_user", "missing_gateway")
    d.flow("missing_gateway", "end_missing", "End", condition="${missing_outcome == 'end'}")
    d.flow("missing_gateway", "service_user_found", "Found", default=True)
    d.chain("end_missing", "notify_missing_end", "missing_ended")


def _add_non_delivery(d):
    d.catch("care_not_delivered", "Care not delivered", "system", 5, row=4, message="non_delivery_reported")
    d.gateway("non_delivery_split", "", "system", 6, row=4, kind="parallel")
    d.user_task(
        "review_non_delivery",
        "Review non-delivery of care",
        "provider_services",
        7,
        groups="provider_services",
        due="P2D",
        documentation="Care was not delivered as agreed. Speak to the provider and the care manager, then decide whether the package continues.",
        fields=[
            Field("non_delivery_outcome", "Outcome", "enum", required=True, values=(("resolved", "Resolved: care continues"), ("end", "End the package"))),
            Field("non_delivery_outcome_note", "What was agreed", required=True, constraints=(("maxlength", "2000"),)),
        ],
    )

    d.gateway("non_delivery_gateway", "End the package?", "provider_services", 8)
    d.end("non_delivery_resolved", "Care continues", "provider_services", 9)
    _end_package(
        d, "end_non_delivery", "End package: care not delivered", 9, "non_delivery", "${non_delivery['missed_on']}", "${non_delivery_outcome_note}", row=4
    )
    _notify_provider(
        d, "notify_non_delivery_end", "Tell the provider the package ended", 10, "${'Care package ended: ' + enquiry_reference}", "The council has ended this package because care was not delivered as agreed.", row=4
    )
    _notify_care_manager(d, "notify_cm_non_delivery_end", "Tell the care manager", 11, "${'Care package ended: ' + enquiry_reference}", "The provider services team ended this package for non-delivery. Arrange other care.", row=4)
    d.end("non_delivery_ended", "Package ended", "system", 12, row=4, terminate=True)

    d.flow("await_event", "care_not_delivered")
    d.chain("care_not_delivered", "non_delivery_split", "listen_merge")
    d.flow("non_delivery_split", "review_non_delivery")
    d.chain("review_non_delivery", "non_delivery_gateway")
    d.flow("non_delivery_gateway", "end_non_delivery", "End", condition="${non_delivery_outcome == 'end'}")
    d.flow("non_delivery_gateway", "non_delivery_resolved", "Resolved", default=True)
    d.chain("end_non_delivery", "notify_non_delivery_end", "notify_cm_non_delivery_end", "non_delivery_ended")


def _add_death(d):
    d.catch("user_died", "Service user died", "system", 5, row=5, message="service_user_died")
    _end_package(d, "end_death", "End package: death", 6, "death", "${death['date_of_death']}", "${death.get('death_note')}", row=5)
    _notify_provider(
        d, "notify_death_provider", "Tell the provider", 7, "${'Care package ended: ' + enquiry_reference}", "We are sorry to tell you the service user has died. The package has ended; make no further visits.", row=5
    )
    _notify_care_manager(d, "notify_death_care_manager", "Tell the care manager", 8, "${'Service user died: ' + enquiry_reference}", "The care package has ended after the service user's death.", row=5)
    d.end("death_ended", "Package ended", "system", 9, row=5, terminate=True)

    d.flow("await_event", "user_died")
    d.chain("user_died", "end_death", "notify_death_provider", "notify_death_care_manager", "death_ended")


def _add_planned_end(d):
    d.catch("end_requested", "Package to end", "system", 5, row=6, message="package_end_requested")
    _end_package(d, "end_planned", "End package", 6, "ended", "${ending['last_day']}", "${ending.get('end_note')}", row=6)
    _notify_provider(d, "notify_end_provider", "Tell the provider", 7, "${'Care package ends: ' + enquiry_reference}", "The care package ends after the last day of care shown in Care Place.", row=6)
    d.end("package_ended", "Package ended", "system", 8, row=6, terminate=True)

    d.flow("await_event", "end_requested")
    d.chain("end_requested", "end_planned", "notify_end_provider", "package_ended")
