"""Read-only queries for the portal's lists: a provider's enquiries by state, one page at a time."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, contains_eager

from care.errors import InvalidValueError
from care.models.enquiries import Enquiry, EnquiryRecipient, EnquiryStatus

MAX_PER_PAGE = 100

Item = TypeVar("Item")


class RecipientState(StrEnum):
    """The stage an enquiry has reached for one provider that received it."""

    NEW = "new"  # sent, not yet viewed, no response
    VIEWED = "viewed"  # viewed, no response yet
    RESPONDED = "responded"  # responded, no outcome yet
    DECIDED = "decided"  # selected or not selected


def recipient_state(recipient: EnquiryRecipient) -> RecipientState:
    """Return the state of one recipient row, by the same rules as the list filter."""
    if recipient.outcome is not None:
        return RecipientState.DECIDED
    if recipient.responded_at is not None:
        return RecipientState.RESPONDED
    if recipient.viewed_at is not None:
        return RecipientState.VIEWED

    return RecipientState.NEW


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: list[Item]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _state_condition(state: RecipientState) -> sa.ColumnElement[bool]:
    if state == RecipientState.DECIDED:
        return EnquiryRecipient.outcome.is_not(None)

    undecided = EnquiryRecipient.outcome.is_(None)
    if state == RecipientState.RESPONDED:
        return sa.and_(undecided, EnquiryRecipient.responded_at.is_not(None))

    unanswered = sa.and_(undecided, EnquiryRecipient.responded_at.is_(None))
    if state == RecipientState.VIEWED:
        return sa.and_(unanswered, EnquiryRecipient.viewed_at.is_not(None))

    return sa.and_(unanswered, EnquiryRecipient.viewed_at.is_(None))


def enquiries_for_provider(
    session: Session, provider_id: int, state: str | None = None, *, page: int = 1, per_page: int = 20
) -> Page[EnquiryRecipient]:
    """Return one page of the provider's recipient rows, each with its enquiry loaded, most urgent respond-by first.

    ``state`` is a RecipientState value, or None for every state. Draft enquiries never appear.
    """
    if state is not None and state not in {item.value for item in RecipientState}:
        raise InvalidValueError("state", state, f"use one of {', '.join(item.value for item in RecipientState)}")
    if page < 1:
        raise InvalidValueError("page", page, "pages are numbered from 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidValueError("per_page", per_page, f"choose from 1 to {MAX_PER_PAGE}")

    conditions = [EnquiryRecipient.provider_id == provider_id, Enquiry.status != EnquiryStatus.DRAFT]
    if state is not None:
        conditions.append(_state_condition(RecipientState(state)))

    # One statement picks the page's recipient ids from the covering indexes, counting every match
    # with a window function, then loads whole rows for that page only. On the bench/portal_load.py
    # data (PostgreSQL 15, 2 CPUs) it took 0.5 to 1.3 ms, where a count query and a page query
    # sorting whole rows took 3 to 4 ms.
    ranked = (
        sa.select(EnquiryRecipient.id, sa.func.count().over().label("total"))
        .join(Enquiry, Enquiry.id == EnquiryRecipient.enquiry_id)
        .where(*conditions)
        .order_by(Enquiry.respond_by, EnquiryRecipient.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery()
    )
    rows = session.execute(
        sa.select(EnquiryRecipient, ranked.c.total)
        .join(ranked, ranked.c.id == EnquiryRecipient.id)
        .join(EnquiryRecipient.enquiry)
        .options(contains_eager(EnquiryRecipient.enquiry))
        .order_by(Enquiry.respond_by, EnquiryRecipient.id)
    ).all()

    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:
        # A page past the last one has no rows to carry the count.
        total = session.scalar(
            sa.select(sa.func.count()).select_from(EnquiryRecipient).join(Enquiry, Enquiry.id == EnquiryRecipient.enquiry_id).where(*conditions)
        )

    return Page(items=[row[0] for row in rows], page=page, per_page=per_page, total=total)
