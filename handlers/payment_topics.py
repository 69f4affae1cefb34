"""Service-task topics of the payment_run and year_end_recoup diagrams (``payment.*``): runs, PayPal results, remittances and recoups."""

import logging
from collections import defaultdict
from typing import Any

from care.journey import provider_contact_email
from care.models.payments import Payment, PaymentStatus
from care.models.providers import Provider
from care.payment_runs import PAYPAL_SUCCESS, create_payment_run, mark_run_submitted, record_payment_result
from care.recoups import review_financial_year
from engine.handler_api import HandlerContext, HandlerRegistry
from handlers.care_topics import as_date
from handlers.email import format_money, queue_email
from handlers.notifications import notify_provider

log = logging.getLogger(__name__)

# PayPal reports an unclaimed item with this transaction status; the payment stays submitted until it is claimed or returned.
PAYPAL_UNCLAIMED = "UNCLAIMED"


def sender_batch_id(run_id: int) -> str:
    """Return the PayPal sender_batch_id of a payment run, the same on every retry so PayPal pays a run once."""
    return f"careplace-run-{run_id}"


def payment_reference(payment: Payment) -> str:
    """Return the reference quoted in a provider's remittance, such as ``RUN12-P34``."""
    return f"RUN{payment.run_id}-P{payment.id}"


def register(registry: HandlerRegistry, settings: Any) -> None:
    """Register every ``payment.*`` topic; emails link to ``settings.public_base_url``."""
    register_run_topics(registry, settings)
    register_recoup_topics(registry)


def register_run_topics(registry: HandlerRegistry, settings: Any) -> None:
    """Register the topics that create a run, record its submission and record PayPal's results."""

    @registry.topic(
        "payment.run.create",
        description="Create the payment run for a period: delivered hours times the agreed unit price per package, nothing for suspended days, open recoups offset.",
        inputs={"period_start": "first day of the period, YYYY-MM-DD", "period_end": "last day of the period, YYYY-MM-DD, in the same financial year"},
        outputs={
            "payment_run_id": "id of the new run",
            "sender_batch_id": "the run's PayPal sender_batch_id",
            "payout_items": "list of {provider_id, sender_item_id, receiver_email, amount} for paypal.create_payout; the sender_item_id is the payment id",
            "payout_needed": "True when some payment is more than nothing after recoups",
        },
    )
    def create(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        run = create_payment_run(context.session, as_date(inputs["period_start"]), as_date(inputs["period_end"]))
        items = [
            {"provider_id": payment.provider_id, "sender_item_id": str(payment.id), "receiver_email": payment.payee_email, "amount": str(payment.amount)}
            for payment in run.payments
            if payment.status == PaymentStatus.PENDING
        ]
        return {"payment_run_id": run.id, "sender_batch_id": sender_batch_id(run.id), "payout_items": items, "payout_needed": bool(items)}

    @registry.topic(
        "payment.run.mark_submitted",
        description="Record that PayPal accepted the run's batch, or that recoups took every payment so nothing was sent.",
        inputs={"payment_run_id": "id of the run", "payout_batch_id": "PayPal's batch id, or None when nothing was sent"},
        outputs={"payment_run_status": "submitted, or paid when nothing was sent"},
    )
    def submitted(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        run = mark_run_submitted(context.session, int(inputs["payment_run_id"]), paypal_batch_id=inputs.get("payout_batch_id"))
        return {"payment_run_status": run.status}

    @registry.topic(
        "payment.run.record_results",
        description=(
            "Store PayPal's item results on the run's payments, queue a remittance email for each payment made "
            "and a payout_unclaimed email for each unclaimed one, and list the failed payments for review."
        ),
        inputs={
            "payment_run_id": "id of the run",
            "payout_succeeded_item_ids": "sender_item_ids (payment ids) PayPal paid",
            "payout_unclaimed_item_ids": "sender_item_ids (payment ids) not yet claimed",
            "payout_failed_items": "list of {sender_item_id, payout_item_id, transaction_status, error}",
        },
        outputs={
            "paid_count": "number of payments made",
            "unclaimed_count": "number of payments not claimed",
            "failed_count": "number of payments that failed or were returned",
            "failed_summary": "one line per failed payment: provider, amount, PayPal status and error",
            "payment_run_status": "paid or partially_failed, or submitted while items are unclaimed",
        },
    )
    def record_results(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        session = context.session
        outcomes: dict[str, list] = defaultdict(list)
        for item_id in inputs.get("payout_succeeded_item_ids") or []:
            outcomes[PAYPAL_SUCCESS].append((int(item_id), None, None))
        for item_id in inputs.get("payout_unclaimed_item_ids") or []:
            outcomes[PAYPAL_UNCLAIMED].append((int(item_id), None, None))
        for item in inputs.get("payout_failed_items") or []:
            outcomes[item["transaction_status"]].append((int(item["sender_item_id"]), item.get("payout_item_id"), item.get("error")))

        failed_lines = []
        run_status = None
        for transaction_status, entries in outcomes.items():
            for payment_id, payout_item_id, error in entries:
                # NOTE: paypal.poll_payout gives no payout_item_id for paid and unclaimed items, so theirs stays empty.
                payment = record_payment_result(session, payment_id, paypal_item_id=payout_item_id, transaction_status=transaction_status)
                run_status = payment.run.status
                if transaction_status == PAYPAL_SUCCESS:
                    _email_provider(session, context, settings, payment, "remittance")
                elif transaction_status == PAYPAL_UNCLAIMED:
                    _email_provider(session, context, settings, payment, "payout_unclaimed")
                else:
                    provider = session.get(Provider, payment.provider_id)
                    failed_lines.append(f"{provider.name}: {format_money(payment.amount)}, PayPal {transaction_status}, {error or 'no error given'}")
                    log.warning("payment %s of run %s failed at PayPal with %s", payment.id, payment.run_id, transaction_status)

        return {
            "paid_count": len(outcomes[PAYPAL_SUCCESS]),
            "unclaimed_count": len(outcomes[PAYPAL_UNCLAIMED]),
            "failed_count": len(failed_lines),
            "failed_summary": "\n".join(failed_lines),
            "payment_run_status": run_status,
        }

    @registry.topic(
        "payment.run.count_poll",
        description="Add one to poll_count, the number of times the diagram has polled PayPal, so the polling loop is bounded.",
        inputs={"poll_count": "polls so far"},
        outputs={"poll_count": "polls so far plus one"},
    )
    def count_poll(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        return {"poll_count": int(inputs.get("poll_count") or 0) + 1}


def _email_provider(session, context: HandlerContext, settings: Any, payment: Payment, template: str) -> None:
    provider = session.get(Provider, payment.provider_id)
    variables = {
        "provider_name": provider.name,
        "amount": payment.amount,
        "payment_date": context.now.date(),
        "payment_reference": payment_reference(payment),
    }
    queue_email(
        session,
        to=provider_contact_email(session, provider.id),
        template=template,
        context=variables,
        link_path=f"/provider/payments/{payment.id}",
        idempotency_key=f"{context.idempotency_key}/{template}/{payment.id}",
        base_url=settings.public_base_url,
        instance_id=context.instance_id,
        task_id=context.task_id,
    )


def register_recoup_topics(registry: HandlerRegistry) -> None:
    """Register the year-end review topic."""

    @registry.topic(
        "payment.year_end.review",
        description=(
            "Compare what each package was paid in a financial year with what it earns on today's records, record a recoup "
            "for each overpayment, and notify each provider affected; the next payment run offsets the recoups."
        ),
        inputs={"financial_year": "the year to review, such as 2027-28 (1 April 2027 to 31 March 2028)"},
        outputs={
            "recoup_count": "number of recoups created",
            "recoup_provider_ids": "ids of the providers notified",
            "underpaid_package_ids": "packages paid less than they earn, for a person to review",
        },
    )
    def year_end(inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
        session = context.session
        result = review_financial_year(session, str(inputs["financial_year"]))
        totals: dict[int, Any] = defaultdict(int)
        for recoup in result.recoups:
            totals[recoup.provider_id] += recoup.amount

        for provider_id, total in sorted(totals.items()):
            notify_provider(
                session,
                provider_id,
                f"Overpayment of {format_money(total)} to be recouped",
                (
                    f"The year-end review of {result.financial_year} found that the council paid {format_money(total)} "
                    "more than the care delivered earns. The council will take this amount from your next payment."
                ),
                "/provider/payments",
                idempotency_key=f"{context.idempotency_key}/{provider_id}",
            )

        return {
            "recoup_count": len(result.recoups),
            "recoup_provider_ids": sorted(totals),
            "underpaid_package_ids": sorted(result.underpaid),
        }
