"""Pydantic models of the API's request bodies, query strings and responses; the OpenAPI document is generated from them."""

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from web.api.paging import DEFAULT_LIMIT, MAX_LIMIT

# Text without control characters, for keys and names that end up in indexed columns.
PlainText = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$")]
BusinessKey = Annotated[PlainText, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[PlainText, StringConstraints(min_length=1, max_length=200)]
Cursor = Annotated[str, StringConstraints(max_length=500)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
# Strict, so that JSON true or "7" is rejected instead of read as an id.
Id = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


# An aware date-time converted to UTC, so that a stored value is returned as it was given, with Z.
UtcDateTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reply(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` is present when request values were invalid."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list["FieldProblem"] | None = None


class FieldProblem(BaseModel):
    field: str
    message: str


# Processes, instances and messages


class StartInstance(Request):
    business_key: BusinessKey | None = None
    variables: dict[str, Any] = Field(default_factory=dict, description="Process variables the new instance starts with.")


class InstanceOut(Reply):
    id: str
    process_id: str
    version_id: int
    business_key: str | None
    status: str
    started_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    next_timer_at: datetime | None
    etag: str = Field(description="The instance's ETag, to send as If-Match on calls that change it.")


class InstanceQuery(Request):
    process_id: Name | None = None
    status: Literal["running", "completed", "cancelled", "error"] | None = None
    business_key: BusinessKey | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class InstancePage(Reply):
    items: list[InstanceOut]
    next: str | None = Field(description="The URL of the next page, or null on the last page.")


class HistoryQuery(Request):
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class AuditEventOut(Reply):
    id: int
    at: datetime
    actor: str
    kind: str
    task_id: str | None
    detail: dict[str, Any]


class HistoryPage(Reply):
    items: list[AuditEventOut]
    next: str | None


class SendMessage(Request):
    name: Name
    business_key: BusinessKey | None = None
    correlation: dict[Name, Any] = Field(default_factory=dict, description="Values that the waiting instances' correlation keys must equal.")
    payload: dict[Name, Any] = Field(default_factory=dict)


class InstanceMessage(Request):
    name: Name
    payload: dict[Name, Any] = Field(default_factory=dict)


class Delivery(Reply):
    delivered_to: list[str] = Field(description="The ids of the instances that received the message.")


# Human tasks


class TaskQuery(Request):
    mine: bool = Field(False, description="Only tasks claimed by this token's service account.")
    process_id: Name | None = None
    business_key: BusinessKey | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class TaskOut(Reply):
    id: str
    instance_id: str
    process_id: str
    business_key: str | None
    element_id: str
    name: str | None
    status: str
    assignee: str | None
    candidate_groups: list[str]
    due_at: datetime | None
    created_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None


class TaskPage(Reply):
    items: list[TaskOut]
    next: str | None


class FormOption(Reply):
    id: str
    name: str


class FormFieldOut(Reply):
    id: str
    type: str
    label: str
    default: Any = None
    required: bool
    readonly: bool
    minimum: Decimal | None
    maximum: Decimal | None
    min_length: int | None
    max_length: int | None
    pattern: str | None
    options: list[FormOption]


class TaskDetail(TaskOut):
    fields: list[FormFieldOut]
    values: dict[str, Any]
    documentation: str | None
    instance_etag: str = Field(description="The ETag of the task's instance, to send as If-Match when completing the task.")


class CompleteTask(Request):
    variables: dict[Name, Any] = Field(default_factory=dict, description="Form values by field id, checked as the portal form checks them.")


# Incidents


class IncidentQuery(Request):
    status: Literal["open", "resolved", "cancelled", "all"] = "open"
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class IncidentOut(Reply):
    id: int
    instance_id: str
    job_id: int | None
    task_id: str | None
    element_id: str | None
    topic: str | None
    error: str
    attempts: int
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class IncidentPage(Reply):
    items: list[IncidentOut]
    next: str | None


class RetryIncident(Request):
    variables: dict[Name, Any] = Field(default_factory=dict, description="Corrected variables to apply before the retry.")


# Providers, enquiries and responses


class ProviderQuery(Request):
    status: Literal["contacted", "applied", "registered", "checks_failed", "live", "suspended", "removed"] | None = None
    postcode_district: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]?$")] | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class ProviderOut(Reply):
    id: int
    name: str
    kind: str
    status: str
    cqc_provider_id: str | None
    company_number: str | None
    charity_number: str | None
    services_offered: list[str]
    districts: list[str]
    standard_hourly_rate: Decimal | None
    paypal_email: str | None
    go_live_on: date | None


class ProviderPage(Reply):
    items: list[ProviderOut]
    next: str | None


class RaiseEnquiry(Request):
    service_user_id: Id
    raised_by_id: Id = Field(description="The user id of the care manager the enquiry is raised for.")
    hours_per_week: Annotated[Decimal, Field(gt=0, le=168, max_digits=7, decimal_places=2)]
    expected_start_on: date = Field(description="Today or later, as a date in England.")
    urgency: Literal["standard", "emergency_48h", "emergency_24h"] = "standard"
    respond_by: UtcDateTime | None = Field(
        None, description="A date-time with a zone offset, in the future; by default the deadline for the urgency. Returned in UTC."
    )
    notes: Annotated[str, StringConstraints(max_length=4000)] | None = None


class EnquiryQuery(Request):
    status: Literal["draft", "open", "selecting", "provisional", "confirmed", "closed", "cancelled"] | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class EnquiryOut(Reply):
    id: int
    reference: str
    status: str
    urgency: str
    postcode_district: str
    service_user_reference: str
    hours_per_week: Decimal
    expected_start_on: date
    respond_by: datetime
    notes: str | None
    selected_provider_id: int | None = Field(description="Shown to a provider token only when that provider is the one selected.")
    created_at: datetime


class EnquiryPage(Reply):
    items: list[EnquiryOut]
    next: str | None


class ResponseOut(Reply):
    provider_id: int
    provider_name: str
    sent_at: datetime
    viewed_at: datetime | None
    responded_at: datetime | None
    response: str | None
    unit_price: Decimal | None
    decline_reason: str | None
    response_note: str | None
    recorded_by_staff: bool
    outcome: str | None


class ResponseList(Reply):
    items: list[ResponseOut]


# Care packages and payments


class PackageQuery(Request):
    status: Literal["active", "suspended", "ended"] | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class PackageOut(Reply):
    id: int
    enquiry_id: int | None
    provider_id: int
    service_user_reference: str
    unit_price: Decimal
    hours_per_week: Decimal
    start_on: date
    end_on: date | None
    status: str


class PackagePage(Reply):
    items: list[PackageOut]
    next: str | None


class PaymentQuery(Request):
    status: Literal["pending", "submitted", "paid", "failed", "nothing_due"] | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class PaymentLineOut(Reply):
    package_id: int
    hours_delivered: Decimal
    unit_price: Decimal
    amount: Decimal


class PaymentOut(Reply):
    id: int
    run_id: int
    provider_id: int
    period_start: date
    period_end: date
    gross_amount: Decimal
    recouped_amount: Decimal
    amount: Decimal
    payee_email: str | None
    status: str
    paypal_item_id: str | None
    transaction_status: str | None
    lines: list[PaymentLineOut]


class PaymentPage(Reply):
    items: list[PaymentOut]
    next: str | None
