"""Providers through the API: staff read every provider, a provider token reads only its own."""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from care.models.providers import Provider, ProviderDistrict
from web.access import services
from web.api import paging
from web.api.auth import Principal
from web.api.operations import json_response, operation
from web.api.problems import NOT_FOUND, ApiError
from web.api.roles import ALL_ROLES
from web.api.schemas import ProviderOut, ProviderPage, ProviderQuery

TAG = "Providers"


def provider_out(provider: Provider) -> ProviderOut:
    fields = {key: getattr(provider, key) for key in ProviderOut.model_fields if key != "districts"}
    return ProviderOut(**fields, districts=[district.postcode_district for district in provider.districts])


@operation("GET", "/providers", summary="List providers by id", tag=TAG, roles=ALL_ROLES, query=ProviderQuery, response=ProviderPage)
def list_providers(principal: Principal, query: ProviderQuery):
    """List providers; a provider token gets a list of its own provider only."""
    statement = sa.select(Provider).options(selectinload(Provider.districts)).order_by(Provider.id).limit(query.limit + 1)
    if principal.is_provider:
        statement = statement.where(Provider.id == principal.provider_id)
    if query.status:
        statement = statement.where(Provider.status == query.status)
    if query.postcode_district:
        covers = sa.select(ProviderDistrict.provider_id).where(ProviderDistrict.postcode_district == query.postcode_district.upper())
        statement = statement.where(Provider.id.in_(covers))
    if query.cursor:
        (last_id,) = paging.decode_cursor(query.cursor, (int,))
        statement = statement.where(Provider.id > last_id)

    with services().session_factory() as db:
        rows = list(db.scalars(statement))
        items, next_url = paging.page(rows, query.limit, lambda provider: (provider.id,))
        page = ProviderPage(items=[provider_out(provider) for provider in items], next=next_url)
    return json_response(page, headers=paging.link_header(next_url))


@operation("GET", "/providers/<int:provider_id>", summary="Read a provider", tag=TAG, roles=ALL_ROLES, response=ProviderOut)
def get_provider(principal: Principal, provider_id: int):
    """Read a provider; for a provider token, any other provider is 404 whether or not it exists."""
    with services().session_factory() as db:
        provider = db.get(Provider, provider_id, options=[selectinload(Provider.districts)])
        if provider is None or (principal.is_provider and provider.id != principal.provider_id):
            raise ApiError(NOT_FOUND, f"provider {provider_id} not found; check the id, or that it is this token's provider")
        reply = provider_out(provider)
    return json_response(reply)
