"""The first layout of payment_run.bpmn (one instance per payment run) and year_end_recoup.bpmn (one per financial year)."""

from processes.layout import Diagram, Field

LANES = [("provider_services", "Provider services team"), ("system", "System")]
# PayPal is polled this often, at most this many times (two days), before a person is asked to look at the batch.
POLL_INTERVAL = "PT1H"
MAX_POLLS = 48


def payment_run() -> Diagram:
    d = Diagram(
        "payment_run",
        "Payment run",
        LANES,
        "Pays providers for the care delivered in one period. The message payment_run_requested (period_start, period_end) starts a run; "
        "the scheduler or provider services send it every four weeks, for the four weeks ending the Sunday before, because the engine "
        "has no timer start events. PayPal is paid once per run: the run id is the sender_batch_id.",
    )
    d.start("run_requested", "Payment run due", "system", 0, message="payment_run_requested")
    d.service_task(
        "create_run",
        "Create run: hours delivered times unit price, less recoups",
        1,
        "payment.run.create",
        inputs=[("period_start", "${period_start}"), ("period_end", "${period_end}")],
    )
    d.gateway("payout_needed_gateway", "Anything to pay?", "system", 2)
    d.service_task(
        "create_payout",
        "Send the payout to PayPal",
        3,
        "paypal.create_payout",
        inputs=[
            ("payment_run_id", "${sender_batch_id}"),
            ("items", "${payout_items}"),
            ("email_subject", "Payment for home care from the council"),
        ],
        retry="R5/PT5M",
    )
    d.boundary("payout_rejected", "Payout rejected", "create_payout", error=True)
    d.user_task(
        "resolve_rejected_payout",
        "Resolve rejected payout",
        "provider_services",
        4,
        groups="provider_services",
        documentation="PayPal rejected this payment run's batch. The error is in error_code and error_message. Correct the account or the payees, then start a new run.",
        fields=[Field("resolution_note", "What was done", required=True, constraints=(("maxlength", "2000"),))],
    )
    d.end("payout_rejected_end", "Run not paid", "provider_services", 5)
    d.service_task(
        "mark_submitted",
        "Record the batch",
        4,
        "payment.run.mark_submitted",
        inputs=[("payment_run_id", "${payment_run_id}"), ("payout_batch_id", "${payout_batch_id}")],
    )
    d.gateway("poll_merge", "", "system", 5)
    d.service_task("poll_payout", "Read the batch status", 6, "paypal.poll_payout", inputs=[("payout_batch_id", "${payout_batch_id}")])
    d.gateway("terminal_gateway", "Batch finished?", "system", 7)
    # No input parameters: poll_count is absent before the first count.
    d.service_task("count_poll", "Count the poll", 8, "payment.run.count_poll", row=1)
    d.gateway("poll_limit_gateway", "Poll again?", "system", 9, row=1)
    d.catch("poll_wait", "Wait an hour", "system", 10, row=1, timer=("timeDuration", POLL_INTERVAL))
    d.user_task(
        "check_stuck_payout",
        "Check a payout PayPal has not finished",
        "provider_services",
        10,
        groups="provider_services",
        documentation="PayPal has not finished this batch after two days of polling. Check it in the PayPal dashboard.",
        fields=[Field("stuck_note", "What PayPal shows", required=True, constraints=(("maxlength", "2000"),))],
    )
    d.end("stuck_end", "Checked by hand", "provider_services", 11)
    d.service_task(
        "record_results",
        "Record results, email remittances and unclaimed notices",
        8,
        "payment.run.record_results",
        inputs=[
            ("payment_run_id", "${payment_run_id}"),
            ("payout_succeeded_item_ids", "${payout_succeeded_item_ids}"),
            ("payout_unclaimed_item_ids", "${payout_unclaimed_item_ids}"),
            ("payout_failed_items", "${payout_failed_items}"),
        ],
    )
    d.gateway("failed_gateway", "Any payment failed?", "system", 9)
    d.user_task(
        "review_failed_payments",
        "Review failed payments",
        "provider_services",
        10,
        row=1,
        groups="provider_services",
        due="P2D",
        documentation="PayPal failed or returned some payments of this run; failed_summary lists them. Contact each provider about its PayPal account before the next run.",
        fields=[Field("failed_review_note", "What was agreed with each provider", required=True, constraints=(("maxlength", "4000"),))],
    )
    d.end("failed_reviewed", "Failures reviewed", "provider_services", 11, row=1)
    d.end("run_paid", "Run paid", "system", 10)
    d.service_task(
        "mark_nothing_sent",
        "Record a run with nothing to send",
        3,
        "payment.run.mark_submitted",
        row=2,
        inputs=[("payment_run_id", "${payment_run_id}"), ("payout_batch_id", "${None}")],
    )
    d.end("nothing_to_pay", "Nothing to pay", "system", 4, row=2)

    d.chain("run_requested", "create_run", "payout_needed_gateway")
    d.flow("payout_needed_gateway", "create_payout", "Yes", condition="${payout_needed}")
    d.flow("payout_needed_gateway", "mark_nothing_sent", "No", default=True)
    d.flow("mark_nothing_sent", "nothing_to_pay")
    d.chain("payout_rejected", "resolve_rejected_payout", "payout_rejected_end")
    d.chain("create_payout", "mark_submitted", "poll_merge", "poll_payout", "terminal_gateway")
    d.flow("terminal_gateway", "record_results", "Yes", condition="${payout_terminal}")
    d.flow("terminal_gateway", "count_poll", "No", default=True)
    d.chain("count_poll", "poll_limit_gateway")
    d.flow("poll_limit_gateway", "poll_wait", "Yes", condition=f"${{poll_count < {MAX_POLLS}}}")
    d.flow("poll_limit_gateway", "check_stuck_payout", "No", default=True)
    d.flow("poll_wait", "poll_merge")
    d.flow("check_stuck_payout", "stuck_end")
    d.chain("record_results", "failed_gateway")
    d.flow("failed_gateway", "review_failed_payments", "Yes", condition="${failed_count > 0}")
    d.flow("failed_gateway", "run_paid", "No", default=True)
    d.flow("review_failed_payments", "failed_reviewed")
    return d


def year_end_recoup() -> Diagram:
    d = Diagram(
        "year_end_recoup",
        "Year-end recoup",
        LANES,
        "Settles a financial year (1 April to 31 March). The message year_end_review_requested (financial_year, such as 2027-28) starts it "
        "on 1 April, sent by the scheduler or provider services because the engine has no timer start events. Overpayments become recoups "
        "that the next payment run offsets.",
    )
    d.start("review_requested", "Financial year ended", "system", 0, message="year_end_review_requested")
    d.service_task(
        "review_year",
        "Find overpayments, record recoups and notify providers",
        1,
        "payment.year_end.review",
        inputs=[("financial_year", "${financial_year}")],
    )
    d.gateway("underpaid_gateway", "Any package underpaid?", "system", 2)
    d.user_task(
        "review_underpayments",
        "Review underpaid packages",
        "provider_services",
        3,
        groups="provider_services",
        due="P10D",
        documentation="The year-end review found packages paid less than the care delivered earns; underpaid_package_ids lists them. Arrange the payments due.",
        fields=[Field("underpayment_note", "What was arranged", required=True, constraints=(("maxlength", "4000"),))],
    )
    d.end("underpayments_reviewed", "Underpayments reviewed", "provider_services", 4)
    d.end("year_settled", "Year settled", "system", 3)

    d.chain("review_requested", "review_year", "underpaid_gateway")
    d.flow("underpaid_gateway", "review_underpayments", "Yes", condition="${len(underpaid_package_ids) > 0}")
    d.flow("underpaid_gateway", "year_settled", "No", default=True)
    d.flow("review_underpayments", "underpayments_reviewed")
    return d
