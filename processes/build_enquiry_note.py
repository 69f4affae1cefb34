"""The first layout of enquiry_note.bpmn: one instance per note between a provider and the council on an enquiry."""

from processes.layout import Diagram, Field

LANES = [
    ("provider", "Provider"),
    ("care_manager", "Care manager"),
    ("system", "System"),
]
PROVIDER_LINK = "${'/provider/enquiries/' + str(enquiry_id) + '#notes'}"
STAFF_LINK = "${'/staff/enquiries/' + str(enquiry_id) + '#notes'}"


def enquiry_note() -> Diagram:
    d = Diagram(
        "enquiry_note",
        "Note on an enquiry",
        LANES,
        "One note in the thread between the council and one provider about an enquiry. The portal stores the note, then starts "
        "this process with its data; its business key is the enquiry reference, the provider id and note- with the note id, "
        "separated by slashes. A provider's question opens an answer task for the care manager, a council note notifies the "
        "provider, and a phone call logged as a note notifies nobody.",
    )
    d.start("note_added", "Note stored", "system", 0)
    d.gateway("note_kind", "Who wrote it, how?", "system", 1)
    d.end("phone_call_recorded", "Phone call on record", "system", 2, row=2)

    # A provider's question: tell the care manager, who answers it as a new note.
    d.service_task(
        "notify_care_manager",
        "Notify care manager of the question",
        2,
        "notify.user",
        inputs=[
            ("user_id", "${care_manager_id}"),
            ("title", "${provider_name + ' asked a question on enquiry ' + enquiry_reference}"),
            ("body", "Read the question and answer it in Care Place."),
            ("link_path", STAFF_LINK),
        ],
    )
    d.service_task(
        "email_care_manager",
        "Email care manager the question is waiting",
        3,
        "email.send",
        inputs=[
            ("to", "${care_manager_email}"),
            ("template", "enquiry_note_question"),
            ("link_path", STAFF_LINK),
            (
                "variables",
                {
                    "enquiry_reference": "${enquiry_reference}",
                    "provider_name": "${provider_name}",
                    "care_manager_name": "${care_manager_name}",
                    "postcode_district": "${postcode_district}",
                },
            ),
        ],
    )
    d.user_task(
        "answer_question",
        "Answer the provider's question",
        "care_manager",
        4,
        groups="care_manager",
        due="P2D",
        documentation="Your answer is added to the provider's thread on the enquiry. Tick 'answered by phone' when you gave the answer in a call: the note then records the call and the provider is not notified again.",
        fields=[
            Field("question", "The provider's question", constraints=(("readonly", ""),)),
            Field("answer", "Your answer", required=True, constraints=(("maxlength", "4000"),)),
            Field("by_phone", "I answered by phone", "boolean"),
        ],
    )
    d.service_task(
        "record_answer",
        "Record the answer as a note",
        5,
        "care.enquiry.add_note",
        inputs=[
            ("enquiry_id", "${enquiry_id}"),
            ("provider_id", "${provider_id}"),
            ("body", "${answer}"),
            ("via_phone", "${by_phone}"),
            ("author_task", "answer_question"),
        ],
        outputs=[("answer_note_id", "${note_id}")],
    )
    d.boundary("enquiry_closed", "Enquiry closed", "record_answer", error=True, error_code="enquiry_closed")
    d.service_task(
        "notify_answer_not_sent",
        "Tell the care manager the answer was not sent",
        6,
        "notify.user",
        row=2,
        inputs=[
            ("user_id", "${care_manager_id}"),
            ("title", "${'Your answer was not sent: enquiry ' + enquiry_reference + ' is closed'}"),
            ("body", "The enquiry no longer takes notes. Phone the provider if they still need the answer."),
            ("link_path", STAFF_LINK),
        ],
    )
    d.end("answer_not_sent", "Answer not sent", "system", 7, row=2)
    d.gateway("answered_by_phone", "Answered by phone?", "system", 6)
    d.end("phone_answer_recorded", "Answer on record", "system", 7)

    # A council note, or the care manager's written reply to a question, notifies the provider.
    d.service_task(
        "notify_provider",
        "Notify provider of the council's note",
        7,
        "notify.provider",
        row=1,
        inputs=[
            ("provider_id", "${provider_id}"),
            ("title", "${'New note from the council on enquiry ' + enquiry_reference}"),
            ("body", "Read it on the enquiry in Care Place."),
            ("link_path", PROVIDER_LINK),
        ],
    )
    d.service_task(
        "email_provider",
        "Email provider the note is waiting",
        8,
        "email.send",
        row=1,
        inputs=[
            ("to", "${provider_email}"),
            ("template", "enquiry_note_from_council"),
            ("link_path", PROVIDER_LINK),
            ("variables", {"enquiry_reference": "${enquiry_reference}", "provider_name": "${provider_name}", "postcode_district": "${postcode_district}"}),
        ],
    )
    d.end("provider_told", "Provider told", "provider", 9)

    d.chain("note_added", "note_kind")
    d.flow("note_kind", "phone_call_recorded", "Phone call", condition="${via_phone}")
    d.flow("note_kind", "notify_care_manager", "Provider's question", condition="${author_side == 'provider'}")
    d.flow("note_kind", "notify_provider", "Council's note", default=True)
    d.chain("notify_care_manager", "email_care_manager", "answer_question", "record_answer", "answered_by_phone")
    d.flow("answered_by_phone", "phone_answer_recorded", "By phone", condition="${by_phone}")
    d.flow("answered_by_phone", "notify_provider", "In writing", default=True)
    d.chain("enquiry_closed", "notify_answer_not_sent", "answer_not_sent")
    d.chain("notify_provider", "email_provider", "provider_told")
    return d
