"""The first layout of enquiry.bpmn (one instance per enquiry) and enquiry_recipient.bpmn (one per provider it goes to)."""

from processes.layout import Diagram, Field

LANES = [
    ("provider", "Provider"),
    ("provider_services", "Provider services team"),
    ("care_manager", "Care manager"),
    ("system", "System"),
]
PROVIDER_GROUP = "${'provider-' + str(provider_id)}"
# The team mailbox that receives escalations, written as a constant "to" input so analysts can change it in the Modeler.
TEAM_MAILBOX = "providerservices@council.example"


def enquiry() -> Diagram:
    d = Diagram("enquiry", "Enquiry", LANES, "One care manager's enquiry: raise, send, select and confirm. Each provider's side runs in enquiry_recipient.")
    d.start("enquiry_started", "Care needed", "care_manager", 0)
    d.user_task(
        "raise_enquiry",
        "Raise enquiry",
        "care_manager",
        1,
        groups="care_manager",
        fields=[
            Field("hours_per_week", "Hours of care per week", "decimal", required=True, constraints=(("min", "0.25"), ("max", "168"))),
            Field("expected_start_on", "Expected start date", "date", required=True),
            Field(
                "urgency",
                "Urgency (sets the respond-by date)",
                "enum",
                required=True,
                default="standard",
                values=(("standard", "Standard: five working days"), ("emergency_48h", "Emergency: 48 hours"), ("emergency_24h", "Emergency: 24 hours")),
            ),
            Field("provider_ids", "Providers to send to (ids separated by commas)"),
            Field("interim_provider_id", "Provider already giving interim care (id)", "long"),
            Field("notes", "Notes for providers", constraints=(("maxlength", "4000"),)),
        ],
    )
    d.service_task(
        "create_enquiry",
        "Create enquiry with respond-by date",
        2,
        "care.enquiry.create",
        # No input parameters: optional form fields are absent from the data when left empty.
    )
    d.service_task(
        "send_enquiry",
        "Send to providers",
        3,
        "care.enquiry.send",
    )
    d.user_task(
        "select_provider",
        "Compare responses and select a provider",
        "care_manager",
        4,
        groups="care_manager",
        due="${respond_by}",
        fields=[
            Field("decision", "Decision", "enum", required=True, values=(("select", "Select a provider that accepted"), ("close", "Close: no provider is suitable"))),
            Field("selected_provider_id", "Selected provider (id)", "long"),
        ],
    )
    d.gateway("decision_gateway", "Select?", "care_manager", 5)
    d.service_task(
        "record_selection",
        "Record provisional selection and tell every recipient",
        6,
        "care.enquiry.select",
        inputs=[("enquiry_id", "${enquiry_id}"), ("provider_id", "${selected_provider_id}"), ("care_manager_id", "${care_manager_id}")],
    )
    d.user_task(
        "confirm_start",
        "Confirm the care package start",
        "care_manager",
        7,
        groups="care_manager",
        fields=[Field("start_on", "Care starts on", "date", required=True)],
    )
    d.service_task(
        "record_confirmation",
        "Confirm selection and start the care package",
        8,
        "care.enquiry.confirm",
        inputs=[("enquiry_id", "${enquiry_id}"), ("care_manager_id", "${care_manager_id}"), ("start_on", "${start_on}")],
    )
    d.service_task("start_package", "Start the care package process", 9, "care.package.start", inputs=[("package_id", "${package_id}")])
    d.end("enquiry_confirmed", "Provider confirmed", "system", 10)
    d.service_task("close_enquiry", "Close enquiry and tell every recipient", 6, "care.enquiry.close", row=1, inputs=[("enquiry_id", "${enquiry_id}")])
    d.end("enquiry_closed", "Enquiry closed", "system", 7, row=1)

    d.chain("enquiry_started", "raise_enquiry", "create_enquiry", "send_enquiry", "select_provider", "decision_gateway")
    d.flow("decision_gateway", "record_selection", "Select", condition="${decision == 'select'}")
    d.flow("decision_gateway", "close_enquiry", "Close", default=True)
    d.chain("record_selection", "confirm_start", "record_confirmation", "start_package", "enquiry_confirmed")
    d.flow("close_enquiry", "enquiry_closed")
    return d


PROVIDER_LINK = "${'/provider/enquiries/' + str(enquiry_id)}"
STAFF_LINK = "${'/staff/enquiries/' + str(enquiry_id)}"


def _email(d, node_id, name, column, template, to, variables, *, row=0, link=PROVIDER_LINK):
    return d.service_task(
        node_id,
        name,
        column,
        "email.send",
        row=row,
        inputs=[("to", to), ("template", template), ("link_path", link), ("variables", variables)],
    )


def enquiry_recipient() -> Diagram:
    d = Diagram(
        "enquiry_recipient",
        "Enquiry for one provider",
        LANES,
        "One provider's side of an enquiry: notice, view, reminder, follow-up, response and outcome. Its business key is the enquiry reference, a slash and the provider id.",
    )
    reference = {"enquiry_reference": "${enquiry_reference}", "provider_name": "${provider_name}"}
    deadline = {**reference, "respond_by": "${respond_by}"}

    d.start("recipient_started", "Enquiry sent to provider", "system", 0)
    _email(d, "email_new_enquiry", "Email new enquiry", 1, "enquiry_new", "${provider_email}", {**deadline, "postcode_district": "${postcode_district}"})
    d.service_task(
        "notify_new_enquiry",
        "Show notification in Care Place",
        2,
        "notify.provider",
        inputs=[
            ("provider_id", "${provider_id}"),
            ("title", "${'New enquiry ' + enquiry_reference}"),
            ("body", "${'Care needed in ' + postcode_district + '. Please respond by the date shown.'}"),
            ("link_path", "${'/provider/enquiries/' + str(enquiry_id)}"),
        ],
    )
    d.user_task(
        "respond",
        "Respond to enquiry",
        "provider",
        3,
        groups=PROVIDER_GROUP + ", provider_services, care_manager",
        due="${respond_by}",
        documentation="Council staff who take a response by phone tick 'Recorded from a phone call'.",
        fields=[
            Field("response", "Response", "enum", required=True, values=(("accepted", "Accept"), ("declined", "Decline"))),
            Field("unit_price", "Price per hour in pounds (accept)", "decimal", constraints=(("min", "0.01"),)),
            Field("decline_reason", "Reason (decline)", constraints=(("maxlength", "2000"),)),
            Field("response_note", "Note for the care manager", constraints=(("maxlength", "2000"),)),
            Field("by_phone", "Recorded from a phone call by council staff", "boolean"),
        ],
        properties=(
            ("requiredWhen:decline_reason", "${response == 'declined'}"),
            ("requiredMessage:decline_reason", "is required when you decline: tell the care manager why"),
            ("onlyGroups:by_phone", "provider_services, care_manager"),
        ),
    )
    d.boundary("viewed", "Provider opened the enquiry", "respond", message="enquiry_viewed", interrupting=False, slot=0)
    d.boundary("reminder_due", "Reminder due", "respond", timer=("timeDate", "${reminder_at}"), interrupting=False, slot=1)
    d.boundary("respond_by_passed", "Respond-by passed", "respond", timer=("timeDate", "${respond_by}"), interrupting=False, slot=2)
    d.service_task("record_view", "Record viewed time", 3.5, "care.enquiry.record_view", lane="provider", row=1, inputs=[("enquiry_id", "${enquiry_id}"), ("provider_id", "${provider_id}")])
    d.end("view_recorded", "", "provider", 4.5, row=1)
    _email(d, "email_reminder", "Email reminder", 4, "enquiry_reminder", "${provider_email}", deadline, row=1)
    d.end("reminder_sent", "", "system", 5, row=1)
    _email(d, "email_follow_up_due", "Email care manager to phone the provider", 4, "follow_up_call_due", "${care_manager_email}", {**deadline, "care_manager_name": "${care_manager_name}"}, row=2, link=STAFF_LINK)
    d.user_task(
        "follow_up_call",
        "Phone provider that has not responded",
        "care_manager",
        5,
        groups="care_manager",
        fields=[
            Field("follow_up_result", "Result", "enum", required=True, values=(("resolved", "The provider will respond"), ("unresolved", "Unresolved: escalate"))),
            Field("follow_up_note", "What was said", constraints=(("maxlength", "2000"),)),
        ],
    )
    d.gateway("follow_up_gateway", "Resolved?", "care_manager", 6)
    d.end("follow_up_done", "", "care_manager", 7)
    _email(d, "email_escalation", "Email escalation to provider services", 7, "enquiry_escalation", TEAM_MAILBOX, deadline, row=2, link=STAFF_LINK)
    d.user_task(
        "resolve_non_response",
        "Resolve non-response",
        "provider_services",
        8,
        groups="provider_services",
        fields=[Field("resolution_note", "How it was resolved", required=True, constraints=(("maxlength", "2000"),))],
    )
    d.end("escalation_done", "", "provider_services", 9)

    d.service_task(
        "record_response",
        "Record response",
        4,
        "care.enquiry.record_response",
    )
    d.service_task(
        "notify_care_manager",
        "Notify care manager of the response",
        5,
        "notify.user",
        inputs=[
            ("user_id", "${care_manager_id}"),
            ("title", "${provider_name + ' ' + response + ' enquiry ' + enquiry_reference}"),
            ("body", "Compare the responses in Care Place."),
            ("link_path", "${'/staff/enquiries/' + str(enquiry_id)}"),
        ],
    )
    d.catch("await_outcome", "Outcome decided", "system", 6, message="enquiry_outcome")
    d.boundary("outcome_before_response", "Outcome decided before a response", "respond", message="enquiry_outcome", slot=3)
    d.gateway("outcome_gateway", "Selected?", "system", 7)
    _email(d, "email_provisional", "Email provisional selection", 8, "selection_provisional", "${provider_email}", reference)
    d.catch("await_confirmation", "Start confirmed", "system", 9, message="enquiry_confirmed")
    _email(d, "email_confirmed", "Email confirmed selection", 10, "selection_confirmed", "${provider_email}", {**reference, "start_date": "${start_date}"})
    d.end("selected_end", "Provider told", "system", 11, terminate=True)
    _email(d, "email_not_selected", "Email not selected", 8, "selection_not_selected", "${provider_email}", reference, row=1)
    d.end("not_selected_end", "Provider told", "system", 9, row=1, terminate=True)

    d.chain("recipient_started", "email_new_enquiry", "notify_new_enquiry", "respond", "record_response", "notify_care_manager", "await_outcome", "outcome_gateway")
    d.chain("viewed", "record_view", "view_recorded")
    d.chain("reminder_due", "email_reminder", "reminder_sent")
    d.chain("respond_by_passed", "email_follow_up_due", "follow_up_call", "follow_up_gateway")
    d.flow("follow_up_gateway", "email_escalation", "Unresolved", condition="${follow_up_result == 'unresolved'}")
    d.flow("follow_up_gateway", "follow_up_done", "Resolved", default=True)
    d.chain("email_escalation", "resolve_non_response", "escalation_done")
    d.flow("outcome_before_response", "outcome_gateway")
    d.flow("outcome_gateway", "email_provisional", "Selected", condition="${outcome == 'selected'}")
    d.flow("outcome_gateway", "email_not_selected", "Not selected", default=True)
    d.chain("email_provisional", "await_confirmation", "email_confirmed", "selected_end")
    d.flow("email_not_selected", "not_selected_end")
    return d
