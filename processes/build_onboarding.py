"""The first layout of provider_onboarding.bpmn: contact, application, registration, checks, profile, workshop, go live."""

from processes.layout import Diagram, Field

LANES = [
    ("provider", "Provider"),
    ("provider_services", "Provider services team"),
    ("system", "System"),
]
PROVIDER_GROUP = "${'provider-' + str(provider_id)}"
SERVICES = "provider_services"
EMAIL_VARIABLES = {"provider_name": "${provider_name}"}


def _email(diagram, node_id, name, column, template, variables=None, row=0):
    return diagram.service_task(
        node_id,
        name,
        column,
        "email.send",
        row=row,
        inputs=[
            ("to", "${contact_email}"),
            ("template", template),
            ("link_path", "/provider/onboarding"),
            ("variables", variables or EMAIL_VARIABLES),
        ],
    )


def provider_onboarding() -> Diagram:
    d = Diagram(
        "provider_onboarding",
        "Provider onboarding",
        LANES,
        "From a provider's first contact to going live on Care Place. The provider id names the provider's candidate group.",
    )
    d.start("contact_received", "Provider contact received", "provider_services", 0)
    d.user_task(
        "record_contact",
        "Record provider contact",
        "provider_services",
        1,
        groups=SERVICES,
        fields=[
            Field(
                "contact_route",
                "How the provider came to us",
                "enum",
                required=True,
                values=(
                    ("forum_outreach", "Provider forum or outreach"),
                    ("service_user_request", "A service user or their care manager asked the provider to join"),
                    ("contact_centre", "The provider contacted the contact centre"),
                    ("care_manager_referral", "A care manager asked the team to register the provider"),
                ),
            ),
            Field("provider_name", "Organisation name", required=True, constraints=(("maxlength", "255"),)),
            Field("provider_kind", "Company or charity", "enum", required=True, values=(("company", "Company"), ("charity", "Charity"))),
            Field("contact_email", "Contact email address", required=True, constraints=(("maxlength", "320"), ("pattern", r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+"))),
        ],
    )
    d.service_task(
        "create_provider",
        "Create provider record",
        2,
        "care.provider.record_contact",
        inputs=[
            ("provider_name", "${provider_name}"),
            ("provider_kind", "${provider_kind}"),
            ("contact_route", "${contact_route}"),
        ],
    )
    _email(d, "send_information_pack", "Send information pack and invitation to apply", 3, "provider_information_pack")
    d.user_task(
        "apply",
        "Apply to join Care Place",
        "provider",
        4,
        groups=PROVIDER_GROUP,
        documentation="Upload the scanned documents in the portal first; this form records that they were uploaded.",
        fields=[
            Field("provider_name", "Legal name of the organisation", required=True, constraints=(("maxlength", "255"),)),
            Field("cqc_provider_id", "CQC provider id, such as 1-000000001", required=True, constraints=(("pattern", r"[0-9]+-[0-9]+"),)),
            Field("company_number", "Companies House number (companies)", constraints=(("maxlength", "8"),)),
            Field("charity_number", "Registered charity number (charities)", constraints=(("maxlength", "8"),)),
            Field("contact_person", "Main contact person", required=True),
            Field("documents_uploaded", "I have uploaded the required documents", "boolean", required=True),
        ],
    )
    d.service_task(
        "record_application",
        "Record application",
        5,
        "care.provider.record_application",
        inputs=[
            ("provider_id", "${provider_id}"),
            ("provider_name", "${provider_name}"),
            ("cqc_provider_id", "${cqc_provider_id}"),
            ("company_number", "${company_number if provider_kind == 'company' else None}"),
            ("charity_number", "${charity_number if provider_kind == 'charity' else None}"),
            ("documents_uploaded", "${documents_uploaded}"),
        ],
    )
    d.user_task(
        "register",
        "Register provider on Care Place",
        "provider_services",
        6,
        groups=SERVICES,
        fields=[Field("registration_note", "Note for the record", constraints=(("maxlength", "1000"),))],
    )
    d.service_task("mark_registered", "Mark provider registered", 7, "care.provider.register", inputs=[("provider_id", "${provider_id}")])
    d.gateway("checks_split", "", "system", 8, kind="parallel")

    # System lane rows: 0 the CQC check, 1 and 2 the company or charity check, 3 the failure records.
    d.service_task(
        "check_cqc",
        "Check CQC registration",
        9,
        "cqc.check_registration",
        inputs=[("cqc_provider_id", "${cqc_provider_id}"), ("provider_name", "${provider_name}")],
    )
    d.boundary("cqc_failed", "CQC check failed", "check_cqc", error=True)
    d.gateway("kind_split", "Company or charity?", "system", 8.5, row=1)
    d.service_task(
        "check_company",
        "Check Companies House",
        9.5,
        "companies_house.check_company",
        row=1,
        inputs=[("company_number", "${company_number}"), ("company_name", "${provider_name}")],
    )
    d.boundary("company_failed", "Company check failed", "check_company", error=True)
    d.service_task(
        "check_charity",
        "Check Charity Commission",
        10.5,
        "charity_commission.check_charity",
        row=2,
        inputs=[("charity_number", "${charity_number}"), ("charity_name", "${provider_name}")],
    )
    d.boundary("charity_failed", "Charity check failed", "check_charity", error=True)
    for branch, column in (("cqc", 10), ("registry", 11.5)):
        d.service_task(
            f"record_{branch}_failure",
            "Record failed check",
            column,
            "care.provider.check_failed",
            row=3,
            inputs=[("provider_id", "${provider_id}"), ("check", branch), ("error_code", "${error_code}")],
        )

    review_fields = [
        Field("decision", "Decision", "enum", required=True, values=(("override", "Override: the provider may continue"), ("reject", "Reject the application"))),
        Field("review_reason", "Reason for the decision", required=True, constraints=(("minlength", "10"), ("maxlength", "2000"))),
    ]
    d.user_task("review_cqc", "Review failed CQC check", "provider_services", 11, groups=SERVICES, fields=review_fields)
    d.user_task("review_registry", "Review failed company or charity check", "provider_services", 12.5, row=1, groups=SERVICES, fields=review_fields)
    d.gateway("cqc_decision", "Override?", "provider_services", 12)
    d.gateway("registry_decision", "Override?", "provider_services", 13.5, row=1)
    for branch, column, row in (("cqc", 13, 0), ("registry", 14.5, 1)):
        d.service_task(
            f"override_{branch}",
            "Record override",
            column,
            "care.provider.override_check",
            lane="provider_services",
            row=row,
            inputs=[("provider_id", "${provider_id}"), ("reason", "${review_reason}")],
        )
    d.service_task(
        "reject_after_check",
        "Reject provider",
        14.5,
        "care.provider.reject",
        lane="provider_services",
        row=2,
        inputs=[("provider_id", "${provider_id}"), ("reason", "${review_reason}")],
    )
    d.end("rejected_after_check", "Provider rejected", "provider_services", 15.5, row=2, terminate=True)
    d.gateway("cqc_passed", "", "system", 14)
    d.gateway("registry_passed", "", "system", 15.5, row=1)
    d.gateway("checks_join", "", "system", 16.5, kind="parallel")

    d.chain("contact_received", "record_contact", "create_provider", "send_information_pack", "apply", "record_application", "register", "mark_registered", "checks_split")
    d.flow("checks_split", "check_cqc")
    d.flow("checks_split", "kind_split")
    d.flow("kind_split", "check_company", "Company", condition="${provider_kind == 'company'}")
    d.flow("kind_split", "check_charity", "Charity", default=True)
    d.flow("check_cqc", "cqc_passed")
    d.flow("check_company", "registry_passed")
    d.flow("check_charity", "registry_passed")
    d.flow("cqc_failed", "record_cqc_failure")
    d.flow("company_failed", "record_registry_failure")
    d.flow("charity_failed", "record_registry_failure")
    d.flow("record_cqc_failure", "review_cqc")
    d.flow("record_registry_failure", "review_registry")
    d.flow("review_cqc", "cqc_decision")
    d.flow("review_registry", "registry_decision")
    d.flow("cqc_decision", "override_cqc", "Override", condition="${decision == 'override'}")
    d.flow("cqc_decision", "reject_after_check", "Reject", default=True)
    d.flow("registry_decision", "override_registry", "Override", condition="${decision == 'override'}")
    d.flow("registry_decision", "reject_after_check", "Reject", default=True)
    d.flow("override_cqc", "cqc_passed")
    d.flow("override_registry", "registry_passed")
    d.flow("reject_after_check", "rejected_after_check")
    d.flow("cqc_passed", "checks_join")
    d.flow("registry_passed", "checks_join")

    # Access, profile, workshop, final review and go live.
    # One task creates the account and queues the access email, so the set-password token never enters the task data.
    d.service_task(
        "create_account",
        "Create portal account and email access instructions",
        17.5,
        "care.provider.create_account",
        inputs=[("provider_id", "${provider_id}"), ("contact_email", "${contact_email}"), ("contact_person", "${contact_person}")],
    )
    d.user_task(
        "set_up_profile",
        "Set up profile and PayPal account",
        "provider",
        18.5,
        groups=PROVIDER_GROUP,
        fields=[
            Field("services_offered", "Services offered, separated by commas", required=True, constraints=(("maxlength", "1000"),)),
            Field("districts", "Postcode districts covered, separated by commas, such as ZZ1, ZZ2", required=True),
            Field("standard_hourly_rate", "Standard hourly rate in pounds", "decimal", required=True, constraints=(("min", "0.01"),)),
            Field("paypal_email", "Email address of the PayPal payee account", required=True, constraints=(("maxlength", "320"),)),
        ],
    )
    d.service_task(
        "save_profile",
        "Save profile",
        19.5,
        "care.provider.save_profile",
        inputs=[
            ("provider_id", "${provider_id}"),
            ("services_offered", "${services_offered}"),
            ("districts", "${districts}"),
            ("standard_hourly_rate", "${standard_hourly_rate}"),
            ("paypal_email", "${paypal_email}"),
        ],
    )
    d.user_task(
        "offer_workshop",
        "Offer a workshop place",
        "provider_services",
        20.5,
        groups=SERVICES,
        fields=[
            Field("workshop_start", "Workshop date and London time, such as 2027-06-21T10:00", required=True, constraints=(("pattern", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),)),
            Field("workshop_venue", "Workshop venue or video link", required=True, constraints=(("maxlength", "300"),)),
        ],
    )
    _email(
        d,
        "send_workshop_invitation",
        "Email workshop invitation",
        21.5,
        "workshop_invitation",
        {"provider_name": "${provider_name}", "workshop_start": "${workshop_start}", "workshop_venue": "${workshop_venue}"},
    )
    d.user_task(
        "final_review",
        "Final review",
        "provider_services",
        22.5,
        groups=SERVICES,
        fields=[
            Field("final_decision", "Decision", "enum", required=True, values=(("approve", "Approve: the provider goes live"), ("reject", "Reject the application"))),
            Field("workshop_attended", "The provider attended the workshop", "boolean"),
            Field("final_reason", "Reason (required to reject)", constraints=(("maxlength", "2000"),)),
        ],
    )
    d.gateway("final_decision_gateway", "Approved?", "provider_services", 23.5)
    d.service_task(
        "go_live",
        "Set provider live",
        24.5,
        "care.provider.go_live",
        # No input parameters: the handler reads the optional workshop_attended from the task data.
    )
    _email(d, "send_go_live", "Email go-live confirmation", 25.5, "go_live", {"provider_name": "${provider_name}", "live_from": "${live_from}"})
    d.end("live", "Provider live", "system", 26.5)
    d.service_task(
        "reject_at_review",
        "Reject provider",
        24.5,
        "care.provider.reject",
        lane="provider_services",
        # No input parameters: the optional final_reason is read from the task data.
    )
    d.end("rejected_at_review", "Provider rejected", "provider_services", 25.5)

    d.chain("checks_join", "create_account", "set_up_profile", "save_profile", "offer_workshop", "send_workshop_invitation", "final_review", "final_decision_gateway")
    d.flow("final_decision_gateway", "go_live", "Approve", condition="${final_decision == 'approve'}")
    d.flow("final_decision_gateway", "reject_at_review", "Reject", default=True)
    d.chain("go_live", "send_go_live", "live")
    d.flow("reject_at_review", "rejected_at_review")
    return d
